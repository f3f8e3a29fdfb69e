// Passes 3 and 4 from the elaborated program to a sealed object (lower.h's Compile):
// lowering, the runtime library, the metadata, emission, and the BPF backend's errors
// reported at the probe they are in.
#include "codegen/lowering.h"
#include "codegen/seal.h"
#include "codegen/stack_chain.h"

#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/IR/InstrTypes.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <ranges>
#include <set>

namespace btap::codegen {

namespace {

// The BPF backend's errors (a program whose stack passes 512 bytes, say), kept with the
// function they are in, instead of LLVM's own printing.
struct BackendErrors : llvm::DiagnosticHandler {
  struct Error {
    const llvm::Function* function = nullptr;
    std::string text;
  };
  std::vector<Error>* out;
  explicit BackendErrors(std::vector<Error>* errors) : out(errors) {}
  bool handleDiagnostics(const llvm::DiagnosticInfo& info) override {
    if (info.getSeverity() != llvm::DS_Error) return false;  // LLVM's own handling
    Error e;
    if (auto* u = llvm::dyn_cast<llvm::DiagnosticInfoUnsupported>(&info)) {
      e.function = &u->getFunction();
      e.text = u->getMessage().str();
    } else {
      llvm::raw_string_ostream text(e.text);
      llvm::DiagnosticPrinterRawOStream printer(text);
      info.print(printer);
    }
    out->push_back(std::move(e));
    return true;
  }
};

// EmitObject's results, and the backend's errors by the function's name.
struct Emitted {
  bool ok = false;
  std::string error, assembly, ir;
  std::vector<uint8_t> object;
  std::vector<std::pair<std::string, std::string>> errors;  // (function, text)
};

void Put(std::string& out, std::string_view s) {
  uint64_t n = s.size();
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out.append(s);
}
bool Get(std::string_view& in, std::string* s) {
  uint64_t n = 0;
  if (in.size() < sizeof n) return false;
  memcpy(&n, in.data(), sizeof n);
  in.remove_prefix(sizeof n);
  if (in.size() < n) return false;
  s->assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

// EmitObject in a child process, whose results come back through a pipe. LLVM 16's BPF
// CO-RE pass keeps the globals it made in a static map keyed by the access's text, so a
// second module emitted in one process with the same access reuses the first module's
// (freed) global and crashes: a module that may be emitted again (with loops kept plain)
// is emitted here, and the process's own emission stays its first.
bool EmitInChild(llvm::Module& module, const CompileOptions& options,
                 const std::vector<meta::Probe>* probes, std::vector<BackendErrors::Error>* errors,
                 Emitted* e) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  size_t known = errors->size();  // the child sends back only the errors it adds
  if (pid == 0) {
    close(fds[0]);
    Emitted r;
    r.ok = EmitObject(module, r.object, &r.error, options.want_assembly ? &r.assembly : nullptr,
                      probes);
    if (options.want_ir) {
      llvm::raw_string_ostream ir(r.ir);
      module.print(ir, nullptr);
    }
    std::string out(1, r.ok ? '1' : '0');
    Put(out, r.error);
    Put(out, r.assembly);
    Put(out, r.ir);
    Put(out, {reinterpret_cast<const char*>(r.object.data()), r.object.size()});
    for (size_t i = known; i < errors->size(); ++i) {
      const BackendErrors::Error& b = (*errors)[i];
      Put(out, b.function ? b.function->getName() : "");
      Put(out, b.text);
    }
    for (size_t at = 0; at < out.size();) {
      ssize_t n = write(fds[1], out.data() + at, out.size() - at);
      if (n <= 0) _exit(1);
      at += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string in;
  char buf[65536];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  pid_t waited;
  while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  // Without a status (SIGCHLD ignored reaps the child itself) the results are judged by
  // being whole.
  if (waited == pid && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) return false;
  if (in.empty()) return false;
  std::string_view view = in;
  e->ok = view[0] == '1';
  view.remove_prefix(1);
  std::string object;
  if (!Get(view, &e->error) || !Get(view, &e->assembly) || !Get(view, &e->ir) ||
      !Get(view, &object))
    return false;
  e->object.assign(object.begin(), object.end());
  for (std::string name, text; Get(view, &name) && Get(view, &text);)
    errors->push_back({name.empty() ? nullptr : module.getFunction(name), text});
  return true;
}

// Where the probe whose program is `fn` begins in the script (its subprogram's line).
SourceRange ProbeLine(const llvm::Function* fn, const SourceManager& sm) {
  const llvm::DISubprogram* sp = fn ? fn->getSubprogram() : nullptr;
  if (!sp || !sp->getFile()) return {};
  for (FileId id = 0; id < sm.size(); ++id) {
    const SourceFile& f = sm.file(id);
    if (f.name() != sp->getFile()->getFilename()) continue;
    std::string_view text = f.text();
    uint32_t line = 1, at = 0;
    while (line < sp->getLine() && at < text.size())
      if (text[at++] == '\n') ++line;
    uint32_t end = at;
    while (end < text.size() && text[end] != '\n') ++end;
    return {id, at, end};
  }
  return {};
}

// Whether only probes that btap's interpreter runs (user-side: begin, end, error,
// task-free timers) reach `fn`: its stack may pass the kernel's 512 bytes there.
bool OnlyUserSide(const llvm::Function* fn, const meta::Meta& meta) {
  std::set<const llvm::Function*> seen;
  std::vector<const llvm::Function*> work = {fn};
  bool reached = false;
  while (!work.empty()) {
    const llvm::Function* f = work.back();
    work.pop_back();
    if (!seen.insert(f).second) continue;
    std::string name = f->getName().str();
    auto probe = std::find_if(meta.probes.begin(), meta.probes.end(), [&](const meta::Probe& p) {
      return p.program == name || p.fentry_program == name;
    });
    if (probe != meta.probes.end()) {
      if (!probe->user_side) return false;
      reached = true;
      continue;
    }
    if (f->user_empty()) return false;
    for (const llvm::User* u : f->users()) {
      auto* call = llvm::dyn_cast<llvm::CallBase>(u);
      if (!call) return false;  // kept somewhere else: who calls it is not known
      work.push_back(call->getFunction());
    }
  }
  return reached;
}

// The verifier adds the stacks along a chain of calls (a program, its callbacks, the
// library's functions they call) and refuses one past 512 bytes at load, without saying
// where: found here, in the object, by the target kernel's own rule, and reported at the
// probe. False when some chain does not fit.
// What to do about a chain past the limit, by its largest frame: the probe's own (its
// values), a loop or foreach body's (a callback), or a library or C function's.
std::string ChainAdvice(const StackChain& c) {
  size_t big = std::ranges::max_element(c.depths) - c.depths.begin();
  const std::string& name = c.frames[big];
  std::string largest =
      "the largest frame is " + name + " (" + std::to_string(c.depths[big]) + " bytes)";
  if (big == 0)
    return largest + ", the probe's own: keep fewer values in it (long locals, array keys, " +
           "temporary strings), or split the probe";
  if (name.starts_with("loop_round") || name.starts_with("foreach"))
    return largest + ", a loop's or foreach's body: keep fewer values in that body, or move " +
           "part of it to a function or another probe";
  return largest + ", a function the probe calls: call it from a probe that keeps fewer " +
         "values, or split the probe; -D BTAP_NO_STACK_CHECK leaves the check to the kernel";
}

// When a chain does not fit and some of its frames are loop callbacks, those loops are
// also added to `plain`: Compile lowers them plain and checks again.
bool CheckStackChains(const llvm::Module& module, const SourceManager& sm,
                      const CompileOptions& options, const Compiled& out,
                      const std::vector<lowering::Lowering::LoopCallback>& loops,
                      std::vector<SourceRange>* plain, DiagnosticSink& diags) {
  StackRule rule = StackRuleFor(options.kernel_release);
  std::vector<StackChain> chains = ChainsPastLimit(out.object, "btap_user", rule);
  // The innermost loop callback of each chain goes plain (callbacks nest: the next round
  // tries the one outside it, if the chain still does not fit).
  for (const StackChain& c : chains) {
    auto inner = std::ranges::find_first_of(c.frames | std::views::reverse, loops, {}, {},
                                            &lowering::Lowering::LoopCallback::callback);
    for (const lowering::Lowering::LoopCallback& l : loops)
      if (inner != c.frames.rend() && l.callback == *inner) plain->push_back(l.loop);
  }
  for (const StackChain& c : chains) {
    SourceRange at;
    std::string frames;
    for (size_t i = 0; i < c.frames.size(); ++i) {
      frames += (i ? " -> " : "") + c.frames[i] + " (" + std::to_string(c.depths[i]) + ")";
      // A syscall probe's body is a function its dispatcher calls: located by that.
      if (!at.valid()) at = ProbeLine(module.getFunction(c.frames[i]), sm);
    }
    std::string kernel = rule.kernel.empty() ? "the kernel" : "Linux " + rule.kernel;
    diags.Report(Diag::CodegenFailed, at,
                 {"this probe needs " + std::to_string(c.total) +
                  " bytes of stack along its calls " + frames + "; " + kernel +
                  " allows 512 for a whole chain of calls (each frame rounded up to " +
                  std::to_string(rule.granule) + " bytes): " + ChainAdvice(c)});
  }
  return chains.empty();
}

}  // namespace

// One lowering and emission. A program whose stack does not fit because of loop callbacks
// (a callback's frame adds to its handler's chain, or is too large itself) reports so and
// fills `plain` with those loops. Only a module emitted in a child process asks for
// that: LLVM 16's BPF CO-RE pass keeps its globals in a static map, so a process (or a
// child forked from it) that has emitted one module in-process must not emit another.
bool CompileOnce(const sema::Program& program, const SourceManager& sm,
                 const CompileOptions& options, DiagnosticSink& diags, Compiled* out,
                 std::vector<SourceRange>* plain) {
  llvm::LLVMContext context;
  std::vector<BackendErrors::Error> backend_errors;
  context.setDiagnosticHandler(std::make_unique<BackendErrors>(&backend_errors));
  auto module = std::make_unique<llvm::Module>(options.script_name, context);
  std::string error;
  if (!ConfigureModule(*module, &error)) {
    diags.Report(Diag::CodegenFailed, SourceRange{}, {error});
    return false;
  }
  lowering::Lowering lowering(program, sm, options, diags, *module);
  if (!lowering.Run(&out->meta)) return false;
  if (!LinkRuntimeLibrary(*module, &error)) {
    diags.Report(Diag::CodegenFailed, SourceRange{}, {error});
    return false;
  }
  AddMetaSection(*module, meta::Encode(out->meta));
  // Emitted in a child process: the child also printed the IR, and only then may a plain
  // retry follow (this process has not emitted a module itself).
  bool emitted = false, in_child = false;
  Emitted child;
  if (!lowering.loop_callbacks().empty() &&
      EmitInChild(*module, options, &out->meta.probes, &backend_errors, &child)) {
    emitted = child.ok;
    error = child.error;
    out->object = std::move(child.object);
    out->assembly = std::move(child.assembly);
    out->ir = std::move(child.ir);
    in_child = true;
  } else {
    emitted = EmitObject(*module, out->object, &error,
                         options.want_assembly ? &out->assembly : nullptr, &out->meta.probes);
  }
  // The interpreter's frames are larger than the kernel's: LLVM's code for a user-side
  // probe past 512 bytes is what it would be without the check.
  std::erase_if(backend_errors, [&](const BackendErrors::Error& e) {
    return e.text.find("stack limit") != std::string::npos && e.function &&
           OnlyUserSide(e.function, out->meta);
  });
  // A loop callback past 512 bytes by itself: that loop plain. (A handler past 512 is
  // not retried: its loops plain would bring its locals back onto its own stack.)
  for (const BackendErrors::Error& e : backend_errors) {
    std::string name = e.function ? e.function->getName().str() : "";
    if (!in_child || e.text.find("stack limit") == std::string::npos || name.empty()) continue;
    for (const lowering::Lowering::LoopCallback& l : lowering.loop_callbacks())
      if (l.callback == name) plain->push_back(l.loop);
  }
  for (const BackendErrors::Error& e : backend_errors) {
    std::string name = e.function ? e.function->getName().str() : "", point;
    for (const meta::Probe& p : out->meta.probes)
      if (!name.empty() && (p.program == name || p.fentry_program == name)) point = p.point;
    for (const meta::TailSlot& t : out->meta.tail_slots)
      if (!name.empty() && t.program == name) point = t.point;
    std::string what = point.empty() ? "the program" : "the probe `" + point + "`";
    if (e.text.find("stack limit") != std::string::npos)
      diags.Report(Diag::CodegenFailed, ProbeLine(e.function, sm),
                   {what + " needs more than the 512 bytes of stack a BPF program has (its " +
                    "locals, array keys, and what the functions it calls keep); keep large " +
                    "values in global arrays, or split the probe"});
    else
      diags.Report(Diag::CodegenFailed, ProbeLine(e.function, sm),
                   {"the BPF backend refused " + what + ": " + e.text});
  }
  if (!backend_errors.empty()) return false;
  std::vector<SourceRange> none;
  if (emitted && options.check_stack_chains &&
      !CheckStackChains(*module, sm, options, *out, lowering.loop_callbacks(),
                        in_child ? plain : &none, diags))
    return false;
  if (!emitted || !HideUserSideFunctions(out->object, &error) ||
      !SealObject(out->object, out->meta, &error)) {
    diags.Report(Diag::CodegenFailed, SourceRange{}, {error});
    return false;
  }
  if (options.want_ir && !in_child) {
    llvm::raw_string_ostream ir(out->ir);
    module->print(ir, nullptr);
  }
  return true;
}

bool Compile(const sema::Program& program, const SourceManager& sm, const CompileOptions& options,
             DiagnosticSink& diags, Compiled* out) {
  // Again with the loops whose callbacks did not fit kept plain, until nothing more can
  // be kept plain (each round adds loops that were callbacks): what still does not fit
  // is reported then.
  // Each round reports into a copy of the sink as it was before the first, so what the
  // lowering warns of is said once; a failure is reported as the first round found it,
  // in the program as written.
  CompileOptions now = options;
  std::optional<DiagnosticSink> first_failure;
  for (;;) {
    DiagnosticSink round = diags;
    std::vector<SourceRange> plain;
    *out = Compiled{};
    bool ok = CompileOnce(program, sm, now, round, out, &plain);
    if (ok || plain.empty()) {
      diags = ok || !first_failure ? std::move(round) : std::move(*first_failure);
      return ok;
    }
    if (!first_failure) first_failure = round;
    now.plain_loops.insert(now.plain_loops.end(), plain.begin(), plain.end());
  }
}

}  // namespace btap::codegen
