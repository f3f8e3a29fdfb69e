// Pass 2c: language checks. Reads the bound probes and functions (after symbols) and
// reports what stap refuses although it parses: side effects in probe conditions, arrays
// changed inside their own `foreach`, local statistics, target writes without guru mode,
// wrapping scalars, invalid regular expressions, duplicate functions, procfs probes'
// `$value` used the wrong way round and two read probes for one file; and BPF's own: a
// netfilter probe's verdict can only be NF_ACCEPT or NF_DROP.
#include <regex.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "frontend/ast_walk.h"
#include "semantic/elab.h"

namespace btap::sema {
namespace {

std::string Plural(size_t n, std::string_view what) {
  return std::to_string(n) + " " + std::string(what) + (n == 1 ? "" : "s");
}

// The variable an assignment, increment or delete changes, and whether it is an element.
ast::Symbol* WrittenSymbol(ast::Expr* target) {
  if (auto* s = ast::As<ast::Symbol>(target)) return s;
  if (auto* a = ast::As<ast::ArrayIndex>(target)) return ast::As<ast::Symbol>(a->base);
  return nullptr;
}

ast::Expr* WriteTarget(ast::Node* n) {
  if (auto* a = ast::As<ast::Assign>(n)) return a->lhs;
  if (auto* c = ast::As<ast::PreCrement>(n)) return c->operand;
  if (auto* c = ast::As<ast::PostCrement>(n)) return c->operand;
  if (auto* d = ast::As<ast::Delete>(n)) return d->target;
  return nullptr;
}

bool IsTargetExpr(const ast::Expr* e) {
  return ast::Is<ast::TargetSymbol>(e) || ast::Is<ast::Cast>(e) || ast::Is<ast::Autocast>(e) ||
         ast::Is<ast::AtVar>(e);
}

class Checker {
 public:
  explicit Checker(Elab& e) : e_(e) {}

  void Run() {
    DuplicateFunctions();
    WrappedScalars();
    ProcfsReadProbes();
    for (Probe* p : e_.program.probes) {
      probe_ = p;
      if (p->spec.family == Family::Procfs) ProcfsValues(p->body);
      Body(p->body);
      if (p->condition) Condition(p->condition);
    }
    probe_ = nullptr;
    for (Function* f : e_.program.functions)
      if (f->visited && f->decl && f->decl->body) Body(f->decl->body);
  }

 private:
  bool FromScript(SourceRange r) const { return r.file == e_.script->file; }

  // btap picks among a function's definitions by their number of parameters only; stap's
  // run-time choice with `next` between same-arity definitions is not available.
  void DuplicateFunctions() {
    std::map<std::pair<std::string_view, size_t>, const Function*> seen;
    for (const Function* f : e_.program.functions) {
      if (!f->decl || f->from_tapset || f->decl->is_private) continue;
      auto [it, fresh] = seen.emplace(std::make_pair(f->name, f->decl->params.size()), f);
      if (fresh) continue;
      e_.diags.Report(Diag::DuplicateFunction, f->decl->name_range,
                      {f->name, Plural(f->decl->params.size(), "parameter")});
      e_.diags.Note(Diag::FirstDefinedHere, it->second->decl->name_range);
    }
  }

  // stap: one read probe per procfs file (write probes may be many).
  void ProcfsReadProbes() {
    if (e_.options.listing) return;  // `-l 'procfs.*'`: points, not a program
    std::map<std::string_view, const Probe*> readers;
    for (const Probe* p : e_.program.probes) {
      if (p->spec.family != Family::Procfs || p->spec.numbers[2]) continue;
      auto [it, fresh] = readers.emplace(p->spec.target, p);
      if (fresh) continue;
      e_.diags.Report(Diag::ProcfsSecondRead, p->point_range, {p->spec.target});
      e_.diags.Note(Diag::ProcfsFirstRead, it->second->point_range);
    }
  }

  // stap's rules for `$value`: a read probe only sets it (`=`, `.=`), a write probe only
  // reads it; it has no members and no address.
  void ProcfsValues(ast::Node* body) {
    bool write_probe = probe_->spec.numbers[2] != 0;
    std::set<const ast::Node*> written;
    // The value of `$value .= s` would be the file's whole text, which only the runtime
    // holds: the assignment can only be a statement (stap's value is "").
    std::set<const ast::Node*> statements;
    ast::WalkTree(body, [&](ast::Node* n) {
      if (auto* e = ast::As<ast::ExprStmt>(n)) statements.insert(e->expr);
      if (auto* f = ast::As<ast::For>(n)) statements.insert({f->init, f->step});
    });
    ast::WalkTree(body, [&](ast::Node* n) {
      ast::Expr* target = WriteTarget(n);
      auto* t = ast::As<ast::TargetSymbol>(target);
      if (!t || t->name != "$value") return;
      written.insert(t);
      if (write_probe) {
        e_.diags.Report(Diag::ProcfsValue, t->range,
                        {"`$value` is read-only in a procfs write probe"});
        return;
      }
      auto* a = ast::As<ast::Assign>(n);
      if (!a || (a->op != ast::Tok::Assign && a->op != ast::Tok::ConcatAssign))
        e_.diags.Report(Diag::ProcfsValue, n->range,
                        {"a procfs read probe can only set `$value` with `=` or `.=`"});
      else if (a->op == ast::Tok::ConcatAssign && !statements.count(a))
        e_.diags.Report(Diag::ProcfsValue, n->range,
                        {"the value of `$value .= ...` cannot be used; append in a statement of "
                         "its own and keep the text in a variable if it is needed"});
    });
    ast::WalkTree(body, [&](ast::Node* n) {
      auto* t = ast::As<ast::TargetSymbol>(n);
      if (!t) return;
      if (t->name != "$value") {
        e_.diags.Report(
            Diag::ProcfsValue, t->range,
            {"`" + std::string(t->name) + "` is not a procfs probe's; only `$value` is"});
      } else if (!t->components.empty()) {
        e_.diags.Report(Diag::ProcfsValue, t->range, {"`$value` is a string: it has no members"});
      } else if (t->addressof) {
        e_.diags.Report(Diag::ProcfsValue, t->range, {"`$value` has no address"});
      } else if (!write_probe && !written.count(t)) {
        e_.diags.Report(Diag::ProcfsValue, t->range,
                        {"`$value` cannot be read in a procfs read probe; it can only be set"});
      }
    });
  }

  void WrappedScalars() {
    for (const Variable* v : e_.program.globals)
      if (v->global && v->global->wrap && v->arity == 0 && !v->from_tapset)
        e_.diags.Report(Diag::WrapScalar, v->decl, {v->name});
  }

  // A condition is evaluated where the probe fires, before the handler: it may only
  // read declared globals.
  void Condition(ast::Expr* cond) {
    ast::WalkTree(cond, [&](ast::Node* n) {
      if (auto* c = ast::As<ast::Call>(n)) {
        e_.diags.Report(Diag::ConditionCall, c->name_range, {c->name});
      } else if (WriteTarget(n)) {
        e_.diags.Report(Diag::ConditionModifies, n->range, {frontend::TokenSpelling(OpOf(n))});
      } else if (auto* s = ast::As<ast::Symbol>(n)) {
        if (s->var && s->var->kind != VarKind::Global)
          e_.diags.Report(Diag::ConditionUndeclared, s->range, {s->name});
      }
    });
  }

  static ast::Tok OpOf(ast::Node* n) {
    if (auto* a = ast::As<ast::Assign>(n)) return a->op;
    if (auto* c = ast::As<ast::PreCrement>(n)) return c->op;
    if (auto* c = ast::As<ast::PostCrement>(n)) return c->op;
    return ast::Tok::Delete;
  }

  void Body(ast::Node* body) {
    loops_.clear();
    Visit(body);
  }

  void Visit(ast::Node* n) {
    if (!n) return;
    if (auto* f = ast::As<ast::Foreach>(n)) return Foreach(f);
    Wildcards(n);
    if (ast::Expr* target = WriteTarget(n)) Write(n, target);
    if (auto* c = ast::As<ast::Call>(n)) CallInLoop(c);
    if (auto* r = ast::As<ast::RegexMatch>(n)) Regex(r->pattern);
    ast::ForEachChild(n, [&](ast::Node* c) { Visit(c); });
  }

  // stap: "wildcard not allowed in array index" but in `delete a[k, *]`, `[k, *] in a`
  // (of an array, not a histogram) and a `foreach` slice.
  void Wildcards(ast::Node* n) {
    auto wild = [](const ast::ArrayIndex* a) {
      return std::any_of(a->indexes.begin(), a->indexes.end(), [](ast::Expr* i) { return !i; });
    };
    if (auto* d = ast::As<ast::Delete>(n)) {
      if (auto* a = ast::As<ast::ArrayIndex>(d->target); a && ast::Is<ast::Symbol>(a->base))
        wildcard_ok_.insert(a);
    } else if (auto* in = ast::As<ast::ArrayIn>(n)) {
      if (ast::Is<ast::Symbol>(in->index->base)) wildcard_ok_.insert(in->index);
    } else if (auto* a = ast::As<ast::ArrayIndex>(n); a && wild(a) && !wildcard_ok_.count(a)) {
      e_.diags.Report(Diag::WildcardIndex, a->range);
    }
  }

  void Foreach(ast::Foreach* f) {
    ast::Symbol* s = ast::As<ast::Symbol>(f->array);
    if (f->has_slice && !s) e_.diags.Report(Diag::HistogramSlice, f->array->range);
    for (ast::Expr* e : f->slice) Visit(e);
    Visit(f->limit);
    if (s && s->var) loops_.push_back({s->var, f->range});
    Visit(f->body);
    if (s && s->var) loops_.pop_back();
  }

  struct Loop {
    const Variable* array;
    SourceRange where;
  };

  const Loop* LoopOver(const Variable* v) const {
    for (const Loop& l : loops_)
      if (l.array == v) return &l;
    return nullptr;
  }

  void Write(ast::Node* n, ast::Expr* target) {
    if (IsTargetExpr(target)) {
      if (probe_ && probe_->spec.family == Family::Procfs) return;  // see ProcfsValues
      if (!NetfilterWrite(n, target)) return;
      return TargetWrite(target);
    }
    ast::Symbol* s = WrittenSymbol(target);
    if (!s || !s->var) return;
    auto* assign = ast::As<ast::Assign>(n);
    if (assign && assign->op == ast::Tok::StatAccum && s->var->kind != VarKind::Global)
      e_.diags.Report(Diag::LocalStatistics, s->range, {s->name});
    // stap lets `delete a` clear the array being iterated; elements may not change.
    if (!ast::Is<ast::ArrayIndex>(target)) return;
    if (const Loop* l = LoopOver(s->var)) {
      e_.diags.Report(Diag::ForeachModifies, s->range, {s->name});
      e_.diags.Note(Diag::ForeachHere, l->where, {s->name});
    }
  }

  // A netfilter probe's handler may set `$verdict` (only), and the kernel lets a BPF
  // netfilter program return NF_ACCEPT or NF_DROP only: a number, or a local the probe
  // sets once to a number (the tapset's `nf_stolen`), that is neither is an error here;
  // other values are checked when they are set. False after an error.
  bool NetfilterWrite(ast::Node* n, ast::Expr* target) {
    auto* t = ast::As<ast::TargetSymbol>(target);
    if (!probe_ || probe_->spec.family != Family::Netfilter || !t) return true;
    if (t->name != "$verdict" || !t->components.empty() || t->addressof) {
      e_.diags.Report(Diag::NetfilterReadOnly, t->range, {Spelled(t->range)});
      return false;
    }
    auto* assign = ast::As<ast::Assign>(n);
    if (!assign || assign->op != ast::Tok::Assign) {
      e_.diags.Report(Diag::NetfilterVerdict, n->range,
                      {"set `$verdict` with `=` to NF_ACCEPT (1) or NF_DROP (0)"});
      return false;
    }
    std::optional<int64_t> v = ConstantOf(assign->rhs);
    if (!v || *v == 0 || *v == 1) return true;
    static constexpr std::string_view kNames[] = {"NF_STOLEN", "NF_QUEUE", "NF_REPEAT", "NF_STOP"};
    std::string name = std::to_string(*v);
    if (*v >= 2 && *v <= 5) name += " (" + std::string(kNames[*v - 2]) + ")";
    e_.diags.Report(Diag::NetfilterVerdict, assign->rhs->range,
                    {"verdict " + name + " is neither NF_ACCEPT (1) nor NF_DROP (0)"});
    return false;
  }

  std::string Spelled(SourceRange r) const {
    return std::string(e_.sm.file(r.file).text().substr(r.begin, r.end - r.begin));
  }

  // A number, its negation, or a probe local whose every write is `=` that number.
  std::optional<int64_t> ConstantOf(ast::Expr* e) const {
    if (auto* n = ast::As<ast::NumberLit>(e)) return n->value;
    if (auto* u = ast::As<ast::Unary>(e); u && u->op == ast::Tok::Minus)
      if (std::optional<int64_t> v = ConstantOf(u->operand)) return -*v;
    auto* s = ast::As<ast::Symbol>(e);
    if (!s || !s->var || s->var->kind != VarKind::Local) return std::nullopt;
    std::optional<int64_t> value;
    bool other = false;
    ast::WalkTree(probe_->body, [&](ast::Node* x) {
      if (auto* f = ast::As<ast::Foreach>(x)) {
        other |= f->value && f->value->var == s->var;
        for (const ast::Symbol* k : f->keys) other |= k->var == s->var;
      }
      ast::Expr* w = WriteTarget(x);
      auto* ws = w ? ast::As<ast::Symbol>(w) : nullptr;
      if (!ws || ws->var != s->var) return;
      auto* a = ast::As<ast::Assign>(x);
      auto* number = a && a->op == ast::Tok::Assign ? ast::As<ast::NumberLit>(a->rhs) : nullptr;
      if (!number || (value && *value != number->value)) other = true;
      if (number) value = number->value;
    });
    if (other) return std::nullopt;
    return value;
  }

  // stap: "write to target variable not permitted; need stap -g".
  // Under -g, a kernel probe's target is still out of reach: the kernel lets BPF read a
  // probed function's arguments, the registers and kernel memory, never write them.
  void TargetWrite(ast::Expr* target) {
    if (!FromScript(target->range)) return;
    if (!e_.script->privileged) {
      e_.diags.Report(Diag::TargetWriteNeedsGuru, target->range);
      return;
    }
    if (!probe_) return;
    Family f = probe_->spec.family;
    if (f == Family::Syscall)
      e_.diags.Report(Diag::TargetWriteKernel, target->range,
                      {Spelled(target->range), "a system call's arguments and its result"});
    else if (f == Family::Tracepoint)
      e_.diags.Report(Diag::TargetWriteKernel, target->range,
                      {Spelled(target->range), "a tracepoint's arguments and kernel memory"});
    else if (f == Family::Lsm)
      e_.diags.Report(Diag::TargetWriteKernel, target->range,
                      {Spelled(target->range), "an LSM hook's arguments and kernel memory"});
    else if (IsKernelFunction(f))
      e_.diags.Report(
          Diag::TargetWriteKernel, target->range,
          {Spelled(target->range), "a kernel function's arguments, its result and kernel memory"});
  }

  void CallInLoop(ast::Call* c) {
    if (loops_.empty() || !c->callee) return;
    for (const Loop& l : loops_)
      if (Modifies(c->callee, l.array)) {
        e_.diags.Report(Diag::ForeachCallModifies, c->name_range, {c->name, l.array->name});
        e_.diags.Note(Diag::ForeachHere, l.where, {l.array->name});
        return;
      }
  }

  // Does `f`, or a function it calls, change an element of (or delete) `array`?
  bool Modifies(const Function* f, const Variable* array) { return Writes(f).count(array) != 0; }

  const std::set<const Variable*>& Writes(const Function* f) {
    if (auto it = writes_.find(f); it != writes_.end()) return it->second;
    std::set<const Variable*>& out = writes_[f];  // empty while computing: cycles end here
    if (!f->decl || !f->decl->body) return out;
    std::set<const Variable*> found;
    std::vector<const Function*> callees;
    ast::WalkTree(f->decl->body, [&](ast::Node* n) {
      if (ast::Expr* target = WriteTarget(n))
        if (ast::Symbol* s = WrittenSymbol(target); s && s->var && s->var->arity != 0)
          found.insert(s->var);
      if (auto* c = ast::As<ast::Call>(n); c && c->callee) callees.push_back(c->callee);
    });
    for (const Function* callee : callees) {
      const std::set<const Variable*>& more = Writes(callee);
      found.insert(more.begin(), more.end());
    }
    writes_[f] = std::move(found);
    return writes_[f];
  }

  // stap compiles regular expressions when it translates the script (POSIX ERE).
  void Regex(ast::StringLit* pattern) {
    if (!pattern) return;
    regex_t re;
    std::string text(pattern->value);
    int rc = regcomp(&re, text.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc == 0) {
      regfree(&re);
      return;
    }
    char why[256];
    regerror(rc, &re, why, sizeof why);
    std::string message = why;
    if (!message.empty()) message[0] = static_cast<char>(std::tolower(message[0]));
    e_.diags.Report(Diag::BadRegex, pattern->range, {text, message});
  }

  Elab& e_;
  const Probe* probe_ = nullptr;  // the probe whose body is being checked
  std::vector<Loop> loops_;
  std::map<const Function*, std::set<const Variable*>> writes_;
  std::set<const ast::ArrayIndex*> wildcard_ok_;  // a delete's target, a membership's index
};

}  // namespace

void CheckLanguage(Elab& e) { Checker(e).Run(); }

}  // namespace btap::sema
