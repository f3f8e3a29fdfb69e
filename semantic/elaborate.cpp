// Pass 2's driver: the list of semantic passes (written once, used by the driver and
// the tests), and the declaration tables that tapset pulling fills.
#include "semantic/elaborate.h"

#include <algorithm>
#include <map>

#include "semantic/elab.h"
#include "semantic/intrinsics.h"
#include "semantic/target_vars.h"

namespace btap::sema {

std::string_view TypeName(Type t) {
  switch (t) {
    case Type::Long:
      return "long";
    case Type::String:
      return "string";
    case Type::Stats:
      return "stats";
    case Type::Unknown:
      break;
  }
  return "unknown";
}

namespace {

using PassFn = void (*)(Elab&);
struct Pass {
  PassInfo info;
  PassFn run;
};

const std::vector<Pass>& Passes() {
  static const std::vector<Pass> passes = {
      {{"probes"}, ResolveProbes},     {{"target variables"}, LowerTargets},
      {{"symbols"}, ResolveSymbols},   {{"language checks"}, CheckLanguage},
      {{"recursion"}, CheckRecursion}, {{"types"}, InferTypes},
      {{"print folding"}, FoldPrints}, {{"dead code"}, ElideDeadCode},
  };
  return passes;
}

Type IntrinsicType(char c) { return c == 'S' ? Type::String : Type::Long; }

}  // namespace

std::vector<PassInfo> AllSemanticPasses() {
  std::vector<PassInfo> out;
  for (const Pass& p : Passes()) out.push_back(p.info);
  return out;
}

// stap registers aliases by their exact names, so a wildcard in one is refused.
void Elab::CheckAliasName(const ast::Alias* a) {
  for (const ast::ProbePoint* name : a->names)
    for (const ast::ProbePointComponent& c : name->components)
      if (c.name.find('*') != std::string_view::npos) {
        diags.Report(Diag::AliasWildcard, c.range, {c.name});
        return;
      }
}

void Elab::AddFile(ast::File* file, bool from_tapset) {
  for (ast::Decl* d : file->decls) {
    if (auto* g = ast::As<ast::Global>(d)) {
      auto key = std::make_pair(file->file, g->name);
      Variable*& slot = g->is_private ? private_globals[key] : globals[g->name];
      if (slot) {
        if (!from_tapset && !slot->from_tapset && !g->is_private) {
          diags.Report(Diag::DuplicateGlobalDecl, g->range, {g->name});
          diags.Note(Diag::FirstDefinedHere, slot->decl);
        }
        continue;  // a user global hides a library one of the same name
      }
      Variable* v = program.NewVariable();
      v->name = g->name;
      v->kind = VarKind::Global;
      v->decl = g->range;
      v->global = g;
      v->file = file->file;
      v->from_tapset = from_tapset;
      slot = v;
      program.globals.push_back(v);
    } else if (auto* f = ast::As<ast::Function>(d)) {
      Function* fn = program.NewFunction();
      fn->name = f->name;
      fn->decl = f;
      fn->from_tapset = from_tapset;
      if (f->is_private)
        private_functions[{file->file, f->name}] = fn;
      else
        functions[f->name].push_back(fn);
      program.functions.push_back(fn);
    } else if (auto* a = ast::As<ast::Alias>(d)) {
      if (!from_tapset) CheckAliasName(a);
      for (size_t i = 0; i < a->names.size(); ++i)
        aliases.push_back({a, i, file->file, from_tapset});
    } else if (auto* p = ast::As<ast::Probe>(d)) {
      pending.push_back({p, file->file, from_tapset});
    } else if (auto* e = ast::As<ast::EmbeddedDecl>(d)) {
      program.embedded.push_back(e);
    }
  }
}

void Elab::Pull(size_t index) {
  TapsetFile& t = library.files()[index];
  if (t.pulled || !t.ast) return;
  t.pulled = true;
  AddFile(t.ast, true);
}

bool Elab::PullFunction(std::string_view name) {
  const std::vector<size_t>* files = library.FunctionFiles(name);
  if (!files) return false;
  for (size_t i : *files) Pull(i);
  return true;
}

bool Elab::PullGlobal(std::string_view name) {
  const std::vector<size_t>* files = library.GlobalFiles(name);
  if (!files) return false;
  for (size_t i : *files) Pull(i);
  return true;
}

void Elab::LoadSyscallTapset(SourceRange where) {
  static constexpr std::string_view kPath = "<generated>/syscalls.stp";
  if (syscall_tapset_failed || library.HasFile(kPath)) return;
  const SyscallTable& table = machine.syscalls();
  if (!table.error().empty()) {
    syscall_tapset_failed = true;
    diags.Report(Diag::ProbeParameter, where,
                 {"syscall probes need this kernel's system-call numbers: " + table.error()});
    return;
  }
  library.AddGenerated(std::string(kPath), table.Tapset(), diags);
  syscall_glob_hidden = table.RenamedByStap();
  library.AddGenerated("<generated>/syscall_any.stp", table.AnyTapset(), diags);
}

bool Elab::PullAliases(std::string_view first, SourceRange where) {
  for (std::string_view prefix : kSyscallPrefixes)
    if (first == prefix) LoadSyscallTapset(where);
  const std::vector<size_t>* files = library.AliasFiles(first);
  if (!files) return false;
  for (size_t i : *files) Pull(i);
  return true;
}

Function* Elab::FindFunction(std::string_view name, FileId from, size_t arity) {
  if (auto it = private_functions.find({from, name}); it != private_functions.end())
    return it->second;
  auto it = functions.find(name);
  if (it == functions.end() && PullFunction(name)) it = functions.find(name);
  if (it != functions.end()) {
    // Overloads differ in their number of parameters (stap 4); the first fitting one.
    for (Function* f : it->second)
      if (f->decl && f->decl->params.size() == arity) return f;
    return it->second.front();
  }
  const IntrinsicInfo* info = FindIntrinsic(name);
  if (!info) return nullptr;
  Function*& fn = intrinsics[name];
  if (!fn) {
    fn = program.NewFunction();
    fn->name = name;
    fn->intrinsic = static_cast<int>(info - Intrinsics().data());
    fn->ret = info->ret;
    for (char c : info->params) {
      Variable* v = program.NewVariable();
      v->name = "arg";
      v->kind = VarKind::Param;
      v->type = IntrinsicType(c);
      v->arity = 0;
      fn->params.push_back(v);
    }
    fn->from_tapset = true;
    fn->visited = true;
  }
  return fn;
}

Variable* Elab::FindPrivateGlobal(std::string_view name, FileId file) {
  auto it = private_globals.find({file, name});
  return it == private_globals.end() ? nullptr : it->second;
}

Variable* Elab::FindGlobal(std::string_view name, FileId from) {
  if (auto it = private_globals.find({from, name}); it != private_globals.end()) return it->second;
  if (auto it = globals.find(name); it != globals.end()) return it->second;
  if (PullGlobal(name))
    if (auto it = globals.find(name); it != globals.end()) return it->second;
  return nullptr;
}

// Kernel facts for process tracking: the task layout (ppid(), a process's parent) and the
// calls that start processes, whose child-side return is process.begin. Read only when
// a probe needs them.
void GatherKernelFacts(Elab& e) {
  bool process = false, parent = false;
  for (const Probe* p : e.program.probes) {
    Family f = p->spec.family;
    process |= f == Family::ProcessBegin || f == Family::ProcessEnd;
    // Uprobes follow a -c/-x target's tree, which btaprun may give an object compiled
    // without one (the tree's tracker runs only on new tasks, and stops at once without
    // a target).
    process |= IsUserSpace(f);
    process |= p->spec.process_syscall;
  }
  for (const Function* f : e.program.functions)
    parent |= f->intrinsic >= 0 && Intrinsics()[f->intrinsic].name == "ppid";
  if (!process && !parent) return;
  // ppid() reads current->real_parent->tgid as CO-RE accesses where the kernel has BTF;
  // the offsets found by a BPF iterator serve kernels without it.
  if (!e.machine.kernel_btf()) {
    const TaskOffsets& task = e.machine.task_offsets();
    e.program.kernel.task_real_parent = task.real_parent;
    e.program.kernel.task_tgid = task.tgid;
  }
  if (!process) return;
  e.program.kernel.target_tree = true;
  const SyscallTable& table = e.machine.syscalls();
  for (const char* name : {"clone", "clone3", "fork", "vfork"})
    if (const Syscall* s = table.ByName(name)) e.program.kernel.fork_syscalls.push_back(s->nr);
  if (e.program.kernel.fork_syscalls.empty()) {
    for (const Probe* p : e.program.probes)
      if (p->spec.family == Family::ProcessBegin && p->spec.target.empty()) {
        e.diags.Report(Diag::ProbeParameter, p->decl ? p->decl->range : SourceRange{},
                       {"process.begin needs this kernel's system-call numbers: " +
                        (table.error().empty() ? std::string("no fork calls") : table.error())});
        break;
      }
  }
}

// Why optional points matched nothing, each reason once, the most shared first (a module
// that is not loaded, before each of its functions): what a script left with nothing to
// run (or a global with no value) should be told.
void NoteSkippedPoints(Elab& e) {
  std::map<std::string_view, size_t> count;
  std::vector<const SkippedPoint*> first;
  for (const SkippedPoint& s : e.skipped)
    if (count[s.why]++ == 0) first.push_back(&s);
  std::stable_sort(first.begin(), first.end(), [&](const SkippedPoint* a, const SkippedPoint* b) {
    return count[a->why] > count[b->why];
  });
  if (first.size() > 3) first.resize(3);
  for (const SkippedPoint* s : first) e.diags.Note(Diag::PointSkipped, s->at, {s->point, s->why});
}

std::unique_ptr<Program> Elaborate(ast::File* script, ElaborateInput in) {
  auto program = std::make_unique<Program>();
  Machine* machine = &in.machine;
  program->kernel.btf = [machine]() { return machine->kernel_btf().get(); };
  program->kernel.module_btf = [machine](std::string_view name) -> const struct btf* {
    std::string error;
    for (const KernelFunctionIndex* m : machine->kernel_modules(name, &error))
      if (m->module() == name) return m->btf();
    return nullptr;
  };
  program->kernel.config = in.library.pp().kernel_config;
  program->kernel.release = in.library.pp().kernel_v;
  Elab e(script, in, *program);
  e.AddFile(script, false);
  for (const Pass& pass : Passes()) {
    pass.run(e);
    if (in.diags.has_errors()) return program;
  }
  if (!in.options.listing && program->probes.empty()) {
    // As stap's pass 2: a session with nothing to run is an error, not a wait forever.
    // The place is the script's first probe point, whose optional points all matched
    // nothing, or the script's start.
    SourceRange at{script->file, 0, 0};
    bool points = false;
    for (ast::Decl* d : script->decls)
      if (auto* p = ast::As<ast::Probe>(d); p && !p->points.empty()) {
        at = p->points[0]->range;
        points = true;
        break;
      }
    in.diags.Report(Diag::NoProbes, at,
                    {points ? ": every probe point is optional and matched nothing" : ""});
    NoteSkippedPoints(e);
    return program;
  }
  if (!in.options.listing) GatherKernelFacts(e);
  return program;
}

}  // namespace btap::sema
