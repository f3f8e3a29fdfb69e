// Pass 2b: symbols. Binds every identifier of the kept probes and of the functions they
// reach: locals, parameters, globals (the script's, then the library's, pulling tapset
// files in), functions and intrinsics, target variables of probes whose family knows
// them. Records reads and writes for the dead-code pass. Reports unknown functions,
// undeclared arrays, arity mismatches, with suggestions.
#include <algorithm>
#include <set>

#include "frontend/ast_walk.h"
#include "semantic/elab.h"
#include "semantic/intrinsics.h"
#include "semantic/suggest.h"
#include "semantic/target_vars.h"

namespace btap::sema {
namespace {

bool IsPrintFamily(std::string_view name) {
  static const std::set<std::string_view> names = {"print",    "println",  "printf",   "printd",
                                                   "printdln", "sprint",   "sprintln", "sprintf",
                                                   "sprintd",  "sprintdln"};
  return names.count(name) != 0;
}

std::string Plural(size_t n, std::string_view what) {
  return std::to_string(n) + " " + std::string(what) + (n == 1 ? "" : "s");
}

class SymbolResolver {
 public:
  SymbolResolver(Elab& e, Probe* probe, Function* function)
      : e_(e), probe_(probe), function_(function) {
    file_ = probe ? probe->file : function->decl ? FileOf(function) : kNoFile;
    locals_ = probe ? &probe->locals : &function->locals;
    if (function)
      for (Variable* p : function->params) scope_[p->name] = p;
    for (Variable* v : *locals_) scope_[v->name] = v;
  }

  void Run(ast::Node* body) { Visit(body); }

  std::vector<Function*> called;

 private:
  FileId FileOf(Function* f) { return f->decl->range.file; }

  Variable* NewLocal(std::string_view name, SourceRange where) {
    Variable* v = e_.program.NewVariable();
    v->name = name;
    v->kind = VarKind::Local;
    v->decl = where;
    v->file = file_;
    v->arity = 0;
    locals_->push_back(v);
    scope_[name] = v;
    return v;
  }

  // A scalar identifier: local, parameter, global, or a new local.
  Variable* Scalar(ast::Symbol* s) {
    if (auto it = scope_.find(s->name); it != scope_.end()) return it->second;
    if (Variable* g = Global(s)) return g;
    return NewLocal(s->name, s->range);
  }

  // A global: an alias's body, expanded into a probe of another file, reaches the private
  // globals of its own file too.
  Variable* Global(const ast::Symbol* s) {
    if (s->range.file != file_)
      if (Variable* v = e_.FindPrivateGlobal(s->name, s->range.file)) return v;
    return e_.FindGlobal(s->name, file_);
  }

  // An identifier used as an array: only globals can be.
  Variable* Array(ast::Symbol* s, size_t keys) {
    Variable* v = nullptr;
    if (auto it = scope_.find(s->name); it != scope_.end()) {
      e_.diags.Report(Diag::LocalArray, s->range, {s->name});
      return nullptr;
    }
    v = Global(s);
    if (!v) {
      std::vector<std::string_view> names;
      for (Variable* g : e_.program.globals) names.push_back(g->name);
      e_.diags.Report(Diag::UndeclaredArray, s->range,
                      {s->name, DidYouMean(Similar(s->name, names))});
      return nullptr;
    }
    SetArity(v, static_cast<int>(keys), s->range);
    return v;
  }

  void SetArity(Variable* v, int arity, SourceRange where) {
    if (v->arity == -1) {
      if (arity == 0 && v->global && v->global->size) {
        e_.diags.Report(Diag::ArrayUsedAsScalar, where, {v->name});
        if (where.file != v->file)
          NoteScriptGlobal(v, where);
        else
          e_.diags.Note(Diag::DeclaredHere, v->decl);
        return;
      }
      v->arity = arity;
      v->key_types.assign(arity, Type::Unknown);
      v->key_origins.assign(arity, SourceRange{});
      v->type_origin = v->type_origin.valid() ? v->type_origin : SourceRange{};
      arity_origin_[v] = where;
      return;
    }
    if (v->arity == arity) return;
    if (arity == 0)
      e_.diags.Report(Diag::ArrayUsedAsScalar, where, {v->name});
    else if (v->arity == 0)
      e_.diags.Report(Diag::ScalarUsedAsArray, where, {v->name});
    else
      e_.diags.Report(Diag::ArityMismatch, where,
                      {v->name, Plural(arity, "key"), Plural(v->arity, "key")});
    if (auto it = arity_origin_.find(v); it != arity_origin_.end())
      e_.diags.Note(Diag::FirstUsedHere, it->second);
    NoteScriptGlobal(v, where);
  }

  // A library alias's variable that a script global of the same name captured (as in
  // stap, alias bodies see the script's globals): say so, since the error is in the
  // library's text.
  void NoteScriptGlobal(const Variable* v, SourceRange where) {
    if (v->kind == VarKind::Global && !v->from_tapset && where.file != v->file)
      e_.diags.Note(Diag::ScriptGlobalCaptures, v->decl, {v->name});
  }

  void Use(Variable* v, bool read, bool write, bool adds = false) {
    if (!v) return;
    v->read |= read;
    v->written |= write;
    v->assigned |= write && !adds;
  }

  // Whether an assignment of `op` only adds to what it writes.
  static bool Adds(ast::Tok op) {
    return op == ast::Tok::AddAssign || op == ast::Tok::SubAssign || op == ast::Tok::StatAccum;
  }

  // `target` is being assigned (or incremented, deleted, accumulated: `adds`).
  void Target(ast::Expr* target, bool also_read, bool adds = false) {
    if (auto* s = ast::As<ast::Symbol>(target)) {
      Variable* v = Scalar(s);
      s->var = v;
      if (v && v->kind == VarKind::Global) SetArity(v, 0, s->range);
      Use(v, also_read, true, adds);
      return;
    }
    if (auto* a = ast::As<ast::ArrayIndex>(target)) {
      if (auto* s = ast::As<ast::Symbol>(a->base)) {
        s->var = Array(s, a->indexes.size());
        Use(s->var, also_read, true, adds);
      }
      for (ast::Expr* i : a->indexes) Visit(i);
      return;
    }
    if (ast::Is<ast::TargetSymbol>(target) || ast::Is<ast::Cast>(target) ||
        ast::Is<ast::Autocast>(target) || ast::Is<ast::AtVar>(target)) {
      Visit(target);  // writing to target variables needs guru mode (checked in codegen)
      return;
    }
    e_.diags.Report(Diag::NotAssignable, target->range);
  }

  void Visit(ast::Node* n) {
    if (!n) return;
    switch (n->kind) {
      case ast::Kind::Symbol: {
        auto* s = static_cast<ast::Symbol*>(n);
        s->var = Scalar(s);
        if (s->var->kind == VarKind::Global) SetArity(s->var, 0, s->range);
        Use(s->var, true, false);
        return;
      }
      case ast::Kind::ArrayIndex: {
        auto* a = static_cast<ast::ArrayIndex*>(n);
        if (auto* s = ast::As<ast::Symbol>(a->base)) {
          s->var = Array(s, a->indexes.size());
          Use(s->var, true, false);
        } else {
          Visit(a->base);
        }
        for (ast::Expr* i : a->indexes) Visit(i);
        return;
      }
      case ast::Kind::Assign: {
        auto* a = static_cast<ast::Assign*>(n);
        Visit(a->rhs);
        Target(a->lhs, a->op != ast::Tok::Assign && a->op != ast::Tok::StatAccum, Adds(a->op));
        return;
      }
      case ast::Kind::ExprStmt: {
        // As stap counts them (its PR6954): `x++`, `a[k] += 2` as a statement only write
        // `x` and `a`; their value is read only where it is used. A global written
        // this way and never read is printed at exit.
        ast::Expr* e = static_cast<ast::ExprStmt*>(n)->expr;
        if (auto* c = ast::As<ast::PreCrement>(e)) return Target(c->operand, false, true);
        if (auto* c = ast::As<ast::PostCrement>(e)) return Target(c->operand, false, true);
        if (auto* a = ast::As<ast::Assign>(e)) {
          Visit(a->rhs);
          return Target(a->lhs, false, Adds(a->op));
        }
        return Visit(e);
      }
      case ast::Kind::PreCrement:
        return Target(static_cast<ast::PreCrement*>(n)->operand, true, true);
      case ast::Kind::PostCrement:
        return Target(static_cast<ast::PostCrement*>(n)->operand, true, true);
      case ast::Kind::Delete: {
        auto* d = static_cast<ast::Delete*>(n);
        if (auto* s = ast::As<ast::Symbol>(d->target)) {
          // `delete a` empties an array or resets a scalar global.
          Variable* v = Global(s);
          if (!v && !scope_.count(s->name)) {
            e_.diags.Report(Diag::UndeclaredArray, s->range, {s->name, ""});
            return;
          }
          s->var = v ? v : scope_[s->name];
          Use(s->var, false, true, true);
          return;
        }
        return Target(d->target, false, true);
      }
      case ast::Kind::Call:
        return Call(static_cast<ast::Call*>(n));
      case ast::Kind::Foreach:
        return Foreach(static_cast<ast::Foreach*>(n));
      case ast::Kind::TryCatch: {
        auto* t = static_cast<ast::TryCatch*>(n);
        Visit(t->body);
        if (!t->error_var.empty()) {
          auto it = scope_.find(t->error_var);
          t->error_sym =
              it != scope_.end() ? it->second : NewLocal(t->error_var, t->error_var_range);
          Use(t->error_sym, false, true);
        }
        Visit(t->handler);
        return;
      }
      case ast::Kind::Probewrite: {
        auto* p = static_cast<ast::Probewrite*>(n);
        if (!probe_) {
          e_.diags.Report(Diag::ProbewriteOutsideProbe, p->range);
          return;
        }
        p->written = probe_->handler_writes.count(p->name) != 0;
        return;
      }
      case ast::Kind::Logical: {
        // `@defined($x) && $x`: the right side is not evaluated when the left decides.
        auto* x = static_cast<ast::Logical*>(n);
        Visit(x->lhs);
        std::optional<bool> l = Settled(x->lhs, true);
        bool dead = l && *l != (x->op == ast::Tok::AndAnd);
        in_defined_ += dead;
        Visit(x->rhs);
        in_defined_ -= dead;
        return;
      }
      case ast::Kind::Ternary:
      case ast::Kind::If: {
        // The branch a settled @defined rules out here: resolved, its target variables
        // unchecked (stap's `if (!@defined($p->member)) ... $old_kernels_arg`).
        auto* t = ast::As<ast::Ternary>(n);
        auto* i = ast::As<ast::If>(n);
        ast::Expr* cond = t ? t->cond : i->cond;
        ast::Node* then = t ? static_cast<ast::Node*>(t->then) : i->then;
        ast::Node* otherwise = t ? static_cast<ast::Node*>(t->otherwise) : i->otherwise;
        Visit(cond);
        std::optional<bool> settled = Settled(cond, true);
        for (auto [branch, dead] :
             {std::pair{then, settled && !*settled}, std::pair{otherwise, settled && *settled}}) {
          in_defined_ += dead;
          Visit(branch);
          in_defined_ -= dead;
        }
        return;
      }
      case ast::Kind::Defined: {
        auto* d = static_cast<ast::Defined*>(n);
        in_defined_++;
        Visit(d->operand);
        in_defined_--;
        ast::Expr* operand = d->operand;  // `@defined(@entry($x))` asks about $x
        while (auto* entry = ast::As<ast::Entry>(operand)) operand = entry->operand;
        if (auto* t = ast::As<ast::TargetSymbol>(operand);
            t && probe_ && probe_->spec.has_target_vars)
          d->known = KnownTarget(t->name) && KnownChain(t) ? 1 : 0;
        else if (probe_ && !probe_->spec.has_target_vars && !probe_->spec.target_vars_later &&
                 ast::Is<ast::TargetSymbol>(operand))
          d->known = 0;
        else if (auto* c = ast::As<ast::Cast>(d->operand);
                 c && (!c->has_module || c->module.starts_with("kernel")))
          d->known = KnownCast(c) ? 1 : 0;
        return;
      }
      case ast::Kind::TargetSymbol:
        TargetVariable(static_cast<ast::TargetSymbol*>(n));
        ast::ForEachChild(n, [&](ast::Node* c) { Visit(c); });
        return;
      default:
        ast::ForEachChild(n, [&](ast::Node* c) { Visit(c); });
    }
  }

  bool KnownTarget(std::string_view name) {
    if (name == "$$parms" || name == "$$vars" || name == "$$locals") return true;
    if (name == "$$return") return probe_->spec.is_return;
    for (const TargetArg& a : probe_->spec.args)
      if (name.substr(1) == a.name) return true;
    return false;
  }

  // `@cast(p, "T"[, "kernel[:M]"])->chain`: T and its members in the compiling kernel's BTF,
  // as stap decides it from debuginfo at compile time.
  bool KnownCast(ast::Cast* c) {
    const struct btf* btf = nullptr;
    uint32_t type = KernelCastType(e_.program.kernel, c->module, c->type_name, &btf);
    if (!type) return false;
    std::span<const ast::TargetComponent> chain = c->components;
    if (!chain.empty() && chain.back().kind == ast::TargetComponent::Kind::PrettyPrint)
      chain = chain.first(chain.size() - 1);
    return chain.empty() || KernelChainType(btf, type, chain) != 0;
  }

  // A kernel value's `->member` and `[i]` chain, checked against BTF as stap checks it
  // against debuginfo at compile time (true when there is nothing to check).
  bool KnownChain(ast::TargetSymbol* t) {
    for (const TargetArg& a : probe_->spec.args) {
      if (t->name.substr(1) != a.name) continue;
      std::span<const ast::TargetComponent> chain = t->components;
      if (!chain.empty() && chain.back().kind == ast::TargetComponent::Kind::PrettyPrint)
        chain = chain.first(chain.size() - 1);
      if (chain.empty() || !a.btf_type) return true;
      const struct btf* btf = a.btf ? a.btf : e_.machine.kernel_btf().get();
      return btf && KernelChainType(btf, a.btf_type, chain) != 0;
    }
    return true;
  }

  void TargetVariable(ast::TargetSymbol* t) {
    if (in_defined_) return;
    if (!probe_) {
      e_.diags.Report(Diag::TargetInFunction, t->range, {t->name});
      return;
    }
    const ProbeSpec& spec = probe_->spec;
    if (spec.target_vars_later) return;
    // `-l` resolves points without their variables: alias bodies are not checked.
    if (e_.options.listing && !e_.options.list_variables) return;
    // An alias that resolves to `never` (the syscall tapset's calls x86-64 does not make):
    // stap's resolve to a gated tracepoint, so `syscall.*.return { $return }` must not fail
    // on them; the body is never compiled.
    if (spec.family == Family::Never && probe_->listed != spec.point) return;
    if (!spec.has_target_vars) {
      e_.diags.Report(Diag::NoTargetVariables, t->range, {t->name, spec.point});
      return;
    }
    if (KnownTarget(t->name)) return;
    std::vector<std::string> names;
    std::vector<std::string_view> views;
    for (const TargetArg& a : spec.args)
      if (a.name[0] != '@') names.push_back("$" + a.name);  // not an @var's own
    for (const std::string& s : names) views.push_back(s);
    std::string have;
    for (size_t i = 0; i < names.size() && i < 8; ++i) have += (i ? " " : "") + names[i];
    std::vector<std::string> similar = Similar(t->name, views);
    std::string why = similar.empty() ? (have.empty() ? "it has none" : "it has: " + have)
                                      : DidYouMean(similar).substr(2);
    // A kernel function's locals come from the kernel's DWARF: say when there is none.
    if (similar.empty() && spec.family == Family::KernelFunction &&
        spec.target.find(':') == std::string::npos)
      if (const std::string& no_dwarf = e_.machine.kernel_dwarf().error(); !no_dwarf.empty())
        why += " (locals need the kernel's DWARF: " + no_dwarf + ")";
    e_.diags.Report(Diag::UnknownTargetVariable, t->range, {t->name, spec.point, why});
  }

  bool InTapset(FileId file) {
    for (const TapsetFile& t : e_.library.files())
      if (t.file == file) return true;
    return false;
  }

  void Call(ast::Call* c) {
    for (ast::Expr* a : c->args) Visit(a);
    if (IsPrintFamily(c->name)) return;
    // A call in an alias's body (a tapset's text in the user's probe) is the tapset's:
    // its file's private functions and the intrinsics are in reach.
    FileId from = c->name_range.file != kNoFile ? c->name_range.file : file_;
    if (c->name.substr(0, kIntrinsicPrefix.size()) == kIntrinsicPrefix && FindIntrinsic(c->name)) {
      bool tapset = (probe_ ? probe_->from_tapset : function_->from_tapset) || InTapset(from);
      if (!tapset) {
        e_.diags.Report(Diag::InternalFunction, c->name_range, {c->name});
        return;
      }
    }
    // syscall_name() is in the syscall tapset written for this kernel, also without a
    // syscall probe.
    if (c->name == "syscall_name") e_.LoadSyscallTapset(c->name_range);
    Function* f = e_.FindFunction(c->name, from, c->args.size());
    if (!f) {
      std::vector<std::string_view> names = e_.library.FunctionNames();
      for (const auto& [name, fns] : e_.functions) names.push_back(name);
      e_.diags.Report(Diag::UnresolvedFunction, c->name_range,
                      {c->name, DidYouMean(Similar(c->name, names))});
      return;
    }
    c->callee = f;
    size_t want = f->decl ? f->decl->params.size() : f->params.size();
    if (c->args.size() != want) {
      e_.diags.Report(Diag::WrongArgumentCount, c->range,
                      {c->name, Plural(want, "argument"), std::to_string(c->args.size())});
      if (f->decl) e_.diags.Note(Diag::DeclaredHere, f->decl->name_range);
    }
    called.push_back(f);
  }

  void Foreach(ast::Foreach* f) {
    size_t keys = f->keys.size();
    if (auto* s = ast::As<ast::Symbol>(f->array)) {
      s->var = Array(s, keys);
      Use(s->var, true, false);
      // stap: "unresolved arity-N global array" at the slice's array.
      if (f->has_slice && f->slice.size() != keys)
        e_.diags.Report(
            Diag::SliceArity, s->range,
            {s->name,
             std::to_string(f->slice.size()) + (f->slice.size() == 1 ? " index" : " indexes"),
             Plural(keys, "key")});
    } else {
      Visit(f->array);  // a histogram: one key (the bucket)
    }
    for (ast::Expr* e : f->slice) Visit(e);
    for (ast::Symbol* k : f->keys) Target(k, false);
    if (f->value) Target(f->value, false);
    Visit(f->limit);
    Visit(f->body);
  }

  Elab& e_;
  Probe* probe_;
  Function* function_;
  FileId file_ = kNoFile;
  std::vector<Variable*>* locals_;
  std::map<std::string_view, Variable*> scope_;
  std::map<Variable*, SourceRange> arity_origin_;
  int in_defined_ = 0;
};

void Params(Elab& e, Function* f) {
  std::set<std::string_view> seen;
  for (const ast::Param& p : f->decl->params) {
    Variable* v = e.program.NewVariable();
    v->name = p.name;
    v->kind = VarKind::Param;
    v->decl = p.range;
    v->arity = 0;
    v->written = true;
    v->file = f->decl->range.file;
    if (p.type == ast::TypeAnn::Long) v->type = Type::Long;
    if (p.type == ast::TypeAnn::String) v->type = Type::String;
    if (v->type != Type::Unknown) v->type_origin = p.range;
    f->params.push_back(v);
  }
  if (f->decl->type == ast::TypeAnn::Long) f->ret = Type::Long;
  if (f->decl->type == ast::TypeAnn::String) f->ret = Type::String;
  if (f->ret != Type::Unknown) f->ret_origin = f->decl->name_range;
}

}  // namespace

void ResolveSymbols(Elab& e) {
  size_t probes_done = 0;
  std::vector<Function*> work;
  for (Function* f : e.program.functions)
    if (!f->from_tapset) work.push_back(f);  // the script's functions are all checked
  for (;;) {
    ResolvePendingProbes(e);
    for (; probes_done < e.program.probes.size(); ++probes_done) {
      Probe* p = e.program.probes[probes_done];
      SymbolResolver r(e, p, nullptr);
      r.Run(p->body);
      if (p->condition) r.Run(p->condition);
      work.insert(work.end(), r.called.begin(), r.called.end());
    }
    if (work.empty() && e.pending.empty()) break;
    while (!work.empty()) {
      Function* f = work.back();
      work.pop_back();
      if (f->visited) continue;
      f->visited = true;
      Params(e, f);
      if (!f->decl->body) continue;  // embedded C
      SymbolResolver r(e, nullptr, f);
      r.Run(f->decl->body);
      work.insert(work.end(), r.called.begin(), r.called.end());
    }
  }
  for (Variable* g : e.program.globals)
    if (g->global && g->global->init) g->written = true;
}

}  // namespace btap::sema
