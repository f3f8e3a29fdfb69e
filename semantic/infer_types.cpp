// Pass 2d: types, by stap's rules. Every variable, array key and value, function
// parameter and result is long, string or statistics; types flow both ways through
// assignments, calls, returns and operators until nothing changes; conflicts report
// both places ("first inferred here"); printf formats are checked against arguments.
#include <set>

#include "common/printf_format.h"
#include "frontend/ast_walk.h"
#include "semantic/elab.h"

namespace btap::sema {
namespace {

using ast::Kind;

class TypeInference {
 public:
  explicit TypeInference(Elab& e) : e_(e) {}

  void Run() {
    for (Variable* g : e_.program.globals)
      if (g->global && g->global->init) {
        Type t = ast::Is<ast::StringLit>(g->global->init) ? Type::String : Type::Long;
        Unify(g, t, g->global->init->range);
      }
    do {
      changed_ = false;
      for (Probe* p : e_.program.probes) {
        function_ = nullptr;
        probe_ = p;
        Stmt(p->body);
        if (p->condition) Expect(p->condition, Type::Long);
      }
      probe_ = nullptr;
      for (Function* f : e_.program.functions) {
        if (!f->visited || !f->decl || !f->decl->body) continue;
        function_ = f;
        Stmt(f->decl->body);
      }
    } while (changed_ && !e_.diags.has_errors());
    if (!e_.diags.has_errors()) ReportUnresolved();
  }

 private:
  void Changed() { changed_ = true; }

  // `what` names the variable (or key, or result) whose type is `want`; empty for a
  // plain expression that has the wrong type.
  void Mismatch(SourceRange where, Type want, Type have, SourceRange origin,
                std::string_view what) {
    if (!reported_.insert({where.file, where.begin}).second) return;
    if (what.empty()) {
      e_.diags.Report(Diag::TypeMismatch, where, {TypeName(want), TypeName(have)});
      return;
    }
    e_.diags.Report(Diag::VarTypeMismatch, where, {what, TypeName(want), TypeName(have)});
    if (origin.valid()) e_.diags.Note(Diag::TypeFirstInferred, origin, {TypeName(want)});
  }

  // Gives `v` the type `t` if it has none; reports a conflict otherwise.
  void Unify(Variable* v, Type t, SourceRange where) {
    if (!v || t == Type::Unknown) return;
    if (v->type == Type::Unknown) {
      v->type = t;
      v->type_origin = where;
      Changed();
    } else if (v->type != t) {
      Mismatch(where, v->type, t, v->type_origin, "`" + std::string(v->name) + "`");
    }
  }

  void UnifyKey(Variable* v, size_t i, Type t, SourceRange where) {
    if (!v || t == Type::Unknown || i >= v->key_types.size()) return;
    if (v->key_types[i] == Type::Unknown) {
      v->key_types[i] = t;
      v->key_origins[i] = where;
      Changed();
    } else if (v->key_types[i] != t) {
      Mismatch(where, v->key_types[i], t, v->key_origins[i],
               "key " + std::to_string(i + 1) + " of `" + std::string(v->name) + "`");
    }
  }

  void UnifyReturn(Type t, SourceRange where) {
    if (!function_ || t == Type::Unknown) return;
    if (function_->ret == Type::Unknown) {
      function_->ret = t;
      function_->ret_origin = where;
      Changed();
    } else if (function_->ret != t) {
      Mismatch(where, function_->ret, t, function_->ret_origin,
               "the result of `" + std::string(function_->name) + "`");
    }
  }

  Type Set(ast::Expr* e, Type t) {
    if (t != Type::Unknown && e->type != t) e->type = t;
    return t;
  }

  // Infers `e` where a value of type `want` is required (Unknown: any).
  Type Expect(ast::Expr* e, Type want) {
    Type t = Infer(e, want);
    if (want != Type::Unknown && t != Type::Unknown && t != want) {
      Variable* v = nullptr;
      if (auto* s = ast::As<ast::Symbol>(e)) v = s->var;
      if (auto* a = ast::As<ast::ArrayIndex>(e))
        if (auto* s = ast::As<ast::Symbol>(a->base)) v = s->var;
      if (t == Type::Stats)
        StatsAsValue(e);
      else if (v)
        Mismatch(e->range, t, want, v->type_origin, "`" + std::string(v->name) + "`");
      else
        Mismatch(e->range, want, t, {}, "");
    }
    return t;
  }

  void StatsAsValue(ast::Expr* e) {
    if (!reported_.insert({e->range.file, e->range.begin}).second) return;
    e_.diags.Report(Diag::StatsAsValue, e->range);
  }

  Type VarValue(Variable* v, ast::Expr* e, Type want) {
    if (!v) return Type::Unknown;
    if (v->type == Type::Unknown && want != Type::Unknown && want != Type::Stats)
      Unify(v, want, e->range);
    return Set(e, v->type);
  }

  Type Keys(Variable* v, std::span<ast::Expr*> keys) {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!keys[i]) continue;  // `*` in a slice or delete
      Type want = v && i < v->key_types.size() ? v->key_types[i] : Type::Unknown;
      Type t = Expect(keys[i], want == Type::Stats ? Type::Unknown : want);
      if (t == Type::Stats) StatsAsValue(keys[i]);
      UnifyKey(v, i, t, keys[i]->range);
    }
    return Type::Unknown;
  }

  Type Infer(ast::Expr* e, Type want) {
    switch (e->kind) {
      case Kind::NumberLit:
        return Set(e, Type::Long);
      case Kind::StringLit:
        return Set(e, Type::String);
      case Kind::EmbeddedExpr: {
        auto* x = static_cast<ast::EmbeddedExpr*>(e);
        return Set(
            e, x->code.find("/* string */") != std::string_view::npos ? Type::String : Type::Long);
      }
      case Kind::Symbol: {
        auto* s = static_cast<ast::Symbol*>(e);
        return VarValue(s->var, e, want);
      }
      case Kind::ArrayIndex: {
        auto* a = static_cast<ast::ArrayIndex*>(e);
        if (auto* h = ast::As<ast::HistOp>(a->base)) {  // a histogram bucket's count
          Expect(h->operand, Type::Stats);
          for (ast::Expr* i : a->indexes) Expect(i, Type::Long);
          return Set(e, Type::Long);
        }
        auto* s = ast::As<ast::Symbol>(a->base);
        Variable* v = s ? s->var : nullptr;
        Keys(v, a->indexes);
        return VarValue(v, e, want);
      }
      case Kind::Call:
        return Set(e, Call(static_cast<ast::Call*>(e)));
      case Kind::Unary:
        Expect(static_cast<ast::Unary*>(e)->operand, Type::Long);
        return Set(e, Type::Long);
      case Kind::Binary:
        Expect(static_cast<ast::Binary*>(e)->lhs, Type::Long);
        Expect(static_cast<ast::Binary*>(e)->rhs, Type::Long);
        return Set(e, Type::Long);
      case Kind::Logical:
        Expect(static_cast<ast::Logical*>(e)->lhs, Type::Long);
        Expect(static_cast<ast::Logical*>(e)->rhs, Type::Long);
        return Set(e, Type::Long);
      case Kind::Comparison: {
        auto* c = static_cast<ast::Comparison*>(e);
        Type l = Infer(c->lhs, Type::Unknown);
        Type r = Expect(c->rhs, l == Type::Stats ? Type::Unknown : l);
        if (l == Type::Unknown && r != Type::Unknown) l = Expect(c->lhs, r);
        if (l == Type::Stats) StatsAsValue(c->lhs);
        if (r == Type::Stats) StatsAsValue(c->rhs);
        return Set(e, Type::Long);
      }
      case Kind::Concat:
        Expect(static_cast<ast::Concat*>(e)->lhs, Type::String);
        Expect(static_cast<ast::Concat*>(e)->rhs, Type::String);
        return Set(e, Type::String);
      case Kind::RegexMatch:
        Expect(static_cast<ast::RegexMatch*>(e)->lhs, Type::String);
        return Set(e, Type::Long);
      case Kind::Ternary: {
        auto* t = static_cast<ast::Ternary*>(e);
        Expect(t->cond, Type::Long);
        Type a = Expect(t->then, want);
        Type b = Expect(t->otherwise, a != Type::Unknown ? a : want);
        if (a == Type::Unknown && b != Type::Unknown) a = Expect(t->then, b);
        // (A branch whose type is not known yet, a recursive call's, takes the other's.)
        return Set(e, a != Type::Unknown ? a : b);
      }
      case Kind::Assign:
        return Set(e, Assign(static_cast<ast::Assign*>(e)));
      case Kind::PreCrement:
        Expect(static_cast<ast::PreCrement*>(e)->operand, Type::Long);
        return Set(e, Type::Long);
      case Kind::PostCrement:
        Expect(static_cast<ast::PostCrement*>(e)->operand, Type::Long);
        return Set(e, Type::Long);
      case Kind::ArrayIn: {
        auto* a = static_cast<ast::ArrayIn*>(e);
        auto* s = ast::As<ast::Symbol>(a->index->base);
        Keys(s ? s->var : nullptr, a->index->indexes);
        return Set(e, Type::Long);
      }
      case Kind::TargetSymbol:
      case Kind::Cast:
      case Kind::AtVar:
      case Kind::Autocast: {
        auto* t = static_cast<ast::TargetBase*>(e);
        if (t->lowered) return Set(e, Infer(t->lowered, want));
        for (ast::TargetComponent& c : t->components)
          if (c.index) Expect(c.index, Type::Long);
        if (auto* c = ast::As<ast::Cast>(e)) Expect(c->operand, Type::Long);
        if (auto* c = ast::As<ast::Autocast>(e)) Expect(c->operand, Type::Long);
        bool pretty = !t->components.empty() &&
                      t->components.back().kind == ast::TargetComponent::Kind::PrettyPrint;
        auto* sym = ast::As<ast::TargetSymbol>(e);
        if (sym && sym->name.substr(0, 2) == "$$") pretty = true;
        // A procfs file's text.
        if (sym && probe_ && probe_->spec.family == Family::Procfs) pretty = true;
        return Set(e, pretty ? Type::String : Type::Long);
      }
      case Kind::Defined:
      case Kind::Probewrite:
      case Kind::Const:
      case Kind::Perf:
      case Kind::Register:
        return Set(e, Type::Long);
      case Kind::Deref:
        Expect(static_cast<ast::Deref*>(e)->address, Type::Long);
        return Set(e, Type::Long);
      case Kind::Entry:
        return Set(e, Infer(static_cast<ast::Entry*>(e)->operand, want));
      case Kind::StatOp:
        Aggregate(static_cast<ast::StatOp*>(e)->operand);
        return Set(e, Type::Long);
      case Kind::HistOp:
        Aggregate(static_cast<ast::HistOp*>(e)->operand);
        return Type::Unknown;  // printed or iterated, never a value
      default:
        return Type::Unknown;
    }
  }

  // The operand of @count/@hist_log/...: a statistics variable or element.
  void Aggregate(ast::Expr* operand) {
    Variable* v = nullptr;
    if (auto* s = ast::As<ast::Symbol>(operand)) v = s->var;
    if (auto* a = ast::As<ast::ArrayIndex>(operand)) {
      auto* s = ast::As<ast::Symbol>(a->base);
      v = s ? s->var : nullptr;
      Keys(v, a->indexes);
    }
    if (!v) {
      e_.diags.Report(Diag::NotStatistics, operand->range);
      return;
    }
    Unify(v, Type::Stats, operand->range);
    operand->type = Type::Stats;
  }

  Type Assign(ast::Assign* a) {
    switch (a->op) {
      case ast::Tok::Assign: {
        Type l = Lvalue(a->lhs, Type::Unknown);
        if (l == Type::Stats) {
          e_.diags.Report(Diag::AssignStatistics, a->range);
          return Type::Unknown;
        }
        Type r = Infer(a->rhs, l);
        if (r == Type::Stats) StatsAsValue(a->rhs);
        if (l != Type::Unknown && r != Type::Unknown && l != r && r != Type::Stats) {
          Variable* v = AssignedVariable(a->lhs);
          Mismatch(a->rhs->range, l, r, v ? v->type_origin : SourceRange{},
                   v ? "`" + std::string(v->name) + "`" : "");
          return r;
        }
        if (l == Type::Unknown && r != Type::Unknown) l = Lvalue(a->lhs, r);
        return r;
      }
      case ast::Tok::StatAccum:
        Aggregate(a->lhs);
        Expect(a->rhs, Type::Long);
        return Type::Long;
      case ast::Tok::ConcatAssign:
        Lvalue(a->lhs, Type::String);
        Expect(a->rhs, Type::String);
        return Type::String;
      default:
        Lvalue(a->lhs, Type::Long);
        Expect(a->rhs, Type::Long);
        return Type::Long;
    }
  }

  static Variable* AssignedVariable(ast::Expr* target) {
    if (auto* s = ast::As<ast::Symbol>(target)) return s->var;
    if (auto* a = ast::As<ast::ArrayIndex>(target))
      if (auto* s = ast::As<ast::Symbol>(a->base)) return s->var;
    return nullptr;
  }

  Type Lvalue(ast::Expr* target, Type want) {
    Type t = Infer(target, want);
    if (want != Type::Unknown && t != Type::Unknown && t != want) {
      if (auto* s = ast::As<ast::Symbol>(target))
        Unify(s->var, want, target->range);
      else if (auto* a = ast::As<ast::ArrayIndex>(target))
        Unify(ast::As<ast::Symbol>(a->base) ? ast::As<ast::Symbol>(a->base)->var : nullptr, want,
              target->range);
      else
        Mismatch(target->range, t, want, {}, "");
    }
    return t != Type::Unknown ? t : Infer(target, want);
  }

  Type Call(ast::Call* c) {
    if (!c->callee) return PrintFamily(c);
    Function* f = c->callee;
    for (size_t i = 0; i < c->args.size() && i < f->params.size(); ++i) {
      Variable* p = f->params[i];
      Type t = Expect(c->args[i], p->type);
      if (t == Type::Stats) continue;
      Unify(p, t, c->args[i]->range);
    }
    return f->ret;
  }

  Type PrintFamily(ast::Call* c) {
    std::string_view name = c->name;
    bool to_string = name[0] == 's';
    std::string_view base = to_string ? name.substr(1) : name;
    std::span<ast::Expr*> args = c->args;
    if (base == "printf") {
      Format(c);
    } else {
      if (base == "printd" || base == "printdln") {
        if (!args.empty()) Expect(args[0], Type::String);
        args = args.subspan(args.empty() ? 0 : 1);
      }
      for (ast::Expr* a : args) {
        if (ast::Is<ast::HistOp>(a)) {
          Infer(a, Type::Unknown);
          continue;
        }
        if (Infer(a, Type::Unknown) == Type::Stats) StatsAsValue(a);
        printed_.push_back(a);
      }
    }
    return to_string ? Type::String : Type::Unknown;
  }

  void Format(ast::Call* c) {
    if (c->args.empty()) return;
    auto* fmt = ast::As<ast::StringLit>(c->args[0]);
    Expect(c->args[0], Type::String);
    if (!fmt) return;
    std::vector<FormatDirective> directives;
    std::string error;
    size_t offset = 0;
    if (!ParseFormat(fmt->value, directives, &error, &offset)) {
      if (reported_.insert({fmt->range.file, fmt->range.begin}).second)
        e_.diags.Report(Diag::BadFormat, fmt->range, {error});
      return;
    }
    size_t next = 1;
    size_t needed = 0;
    auto take = [&](Type t, std::string_view why) {
      ++needed;
      if (next >= c->args.size()) return;
      ast::Expr* arg = c->args[next++];
      Type have = Infer(arg, t);
      if (have == Type::Unknown) return;
      if (have == Type::Stats) return StatsAsValue(arg);
      if (have != t && reported_.insert({arg->range.file, arg->range.begin}).second)
        e_.diags.Report(Diag::FormatArgType, arg->range,
                        {std::string(why), std::string(TypeName(t)), std::string(TypeName(have))});
    };
    for (const FormatDirective& d : directives) {
      if (d.literal) continue;
      if (d.width == -2) take(Type::Long, "`*` width");
      if (d.precision == -2) take(Type::Long, "`*` precision");
      take(d.arg == FormatDirective::Arg::String ? Type::String : Type::Long,
           "`" + std::string(d.text) + "`");
    }
    if (needed != c->args.size() - 1 && reported_.insert({c->range.file, c->range.begin}).second)
      e_.diags.Report(
          Diag::FormatArgCount, c->range,
          {std::to_string(needed), needed == 1 ? "" : "s", std::to_string(c->args.size() - 1)});
  }

  void Stmt(ast::Stmt* s) {
    if (!s) return;
    switch (s->kind) {
      case Kind::Block:
        for (ast::Stmt* x : static_cast<ast::Block*>(s)->statements) Stmt(x);
        return;
      case Kind::ExprStmt:
        Infer(static_cast<ast::ExprStmt*>(s)->expr, Type::Unknown);
        return;
      case Kind::If: {
        auto* i = static_cast<ast::If*>(s);
        Expect(i->cond, Type::Long);
        Stmt(i->then);
        Stmt(i->otherwise);
        return;
      }
      case Kind::While:
        Expect(static_cast<ast::While*>(s)->cond, Type::Long);
        Stmt(static_cast<ast::While*>(s)->body);
        return;
      case Kind::For: {
        auto* f = static_cast<ast::For*>(s);
        if (f->init) Infer(f->init, Type::Unknown);
        if (f->cond) Expect(f->cond, Type::Long);
        if (f->step) Infer(f->step, Type::Unknown);
        Stmt(f->body);
        return;
      }
      case Kind::Foreach:
        return Foreach(static_cast<ast::Foreach*>(s));
      case Kind::Return: {
        auto* r = static_cast<ast::Return*>(s);
        if (!r->value) return;
        Type t = Expect(r->value, function_ ? function_->ret : Type::Unknown);
        if (t == Type::Stats) return StatsAsValue(r->value);
        UnifyReturn(t, r->value->range);
        return;
      }
      case Kind::Delete:
        if (auto* a = ast::As<ast::ArrayIndex>(static_cast<ast::Delete*>(s)->target)) {
          auto* sym = ast::As<ast::Symbol>(a->base);
          Keys(sym ? sym->var : nullptr, a->indexes);
        }
        return;
      case Kind::TryCatch: {
        auto* t = static_cast<ast::TryCatch*>(s);
        Stmt(t->body);
        if (t->error_sym) Unify(t->error_sym, Type::String, t->error_var_range);
        Stmt(t->handler);
        return;
      }
      default:
        return;
    }
  }

  void Foreach(ast::Foreach* f) {
    if (auto* h = ast::As<ast::HistOp>(f->array)) {
      Infer(h, Type::Unknown);
      for (ast::Symbol* k : f->keys) Unify(k->var, Type::Long, k->range);
      if (f->value) Unify(f->value->var, Type::Long, f->value->range);
    } else if (auto* s = ast::As<ast::Symbol>(f->array); s && s->var) {
      Variable* v = s->var;
      for (size_t i = 0; i < f->keys.size() && i < v->key_types.size(); ++i) {
        Variable* k = f->keys[i]->var;
        if (v->key_types[i] != Type::Unknown) Unify(k, v->key_types[i], f->keys[i]->range);
        if (k && k->type != Type::Unknown) UnifyKey(v, i, k->type, f->keys[i]->range);
      }
      if (f->value && f->value->var) {
        Variable* value = f->value->var;
        if (v->type == Type::Stats) {
          e_.diags.Report(Diag::StatsAsValue, f->value->range);
        } else {
          if (v->type != Type::Unknown) Unify(value, v->type, f->value->range);
          if (value->type != Type::Unknown) Unify(v, value->type, f->value->range);
        }
      }
      Keys(v, f->slice);
      if (f->sort_aggregate != ast::AtWord::None && v->type != Type::Unknown &&
          v->type != Type::Stats)
        e_.diags.Report(Diag::NotStatistics, f->array->range);
    }
    if (f->limit) Expect(f->limit, Type::Long);
    Stmt(f->body);
  }

  // A global whose only values come from probes that matched nothing here (nfsd's,
  // with no nfsd module loaded): say so, and why they matched nothing.
  void NoteUnmatched(const Variable* v) {
    if (v->kind != VarKind::Global) return;
    bool noted = false;
    for (const ast::Probe* p : e_.unmatched) {
      bool named = false;
      ast::WalkTree(p->body, [&](ast::Node* n) {
        if (auto* s = ast::As<ast::Symbol>(n); s && s->name == v->name) named = true;
      });
      if (!named || p->points.empty()) continue;
      e_.diags.Note(Diag::AssignedInUnmatched, p->points[0]->range, {v->name});
      noted = true;
    }
    if (noted && !skipped_noted_) NoteSkippedPoints(e_);
    skipped_noted_ |= noted;
  }

  void ReportUnresolved() {
    auto check = [&](Variable* v, std::string_view owner) {
      if (v->type == Type::Unknown && (v->read || v->kind == VarKind::Param)) {
        e_.diags.Report(Diag::UnresolvedType, v->decl, {v->name, owner});
        NoteUnmatched(v);
        return;
      }
      for (Type k : v->key_types)
        if (k == Type::Unknown) {
          e_.diags.Report(Diag::UnresolvedKeyType, v->decl, {v->name});
          NoteUnmatched(v);
          return;
        }
    };
    for (Variable* g : e_.program.globals)
      if (g->read || g->written) check(g, "global");
    for (Probe* p : e_.program.probes)
      for (Variable* v : p->locals) check(v, "local");
    for (Function* f : e_.program.functions) {
      if (!f->visited || f->intrinsic >= 0) continue;
      for (Variable* v : f->params) check(v, "parameter");
      for (Variable* v : f->locals) check(v, "local");
    }
    for (ast::Expr* a : printed_)
      if (a->type == Type::Unknown && !ast::Is<ast::Symbol>(a) && !ast::Is<ast::ArrayIndex>(a))
        e_.diags.Report(Diag::UnresolvedExprType, a->range);
  }

  Elab& e_;
  Function* function_ = nullptr;
  const Probe* probe_ = nullptr;  // the probe whose body is being typed (null in functions)
  bool changed_ = false;
  bool skipped_noted_ = false;  // NoteSkippedPoints said its notes
  std::set<std::pair<FileId, uint32_t>> reported_;
  std::vector<ast::Expr*> printed_;
};

}  // namespace

void InferTypes(Elab& e) { TypeInference(e).Run(); }

}  // namespace btap::sema
