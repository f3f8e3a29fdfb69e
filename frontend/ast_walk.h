// Generic traversal of the AST: the children of any expression or statement, in source
// order, and a deep copy for passes that need a private tree (alias expansion).
#pragma once

#include "common/arena.h"
#include "frontend/ast.h"

namespace btap::ast {

// Calls f(Node*) for each direct child of `n` that is present (absent optional parts
// and `*` wildcards are skipped). Every kind is listed, so a new kind fails to compile.
template <typename F>
void ForEachChild(Node* n, F&& f) {
  auto visit = [&](Node* child) {
    if (child) f(child);
  };
  auto components = [&](TargetBase* t) {
    for (TargetComponent& c : t->components) visit(c.index);
  };
  switch (n->kind) {
    case Kind::NumberLit:
    case Kind::StringLit:
    case Kind::EmbeddedExpr:
    case Kind::Symbol:
    case Kind::Probewrite:
    case Kind::Const:
    case Kind::Perf:
    case Kind::Register:
    case Kind::Next:
    case Kind::Break:
    case Kind::Continue:
    case Kind::Null:
      return;
    case Kind::ArrayIndex: {
      auto* a = static_cast<ArrayIndex*>(n);
      visit(a->base);
      for (Expr* i : a->indexes) visit(i);
      return;
    }
    case Kind::Call:
      for (Expr* a : static_cast<Call*>(n)->args) visit(a);
      return;
    case Kind::Unary:
      return visit(static_cast<Unary*>(n)->operand);
    case Kind::Binary:
      visit(static_cast<Binary*>(n)->lhs);
      return visit(static_cast<Binary*>(n)->rhs);
    case Kind::Logical:
      visit(static_cast<Logical*>(n)->lhs);
      return visit(static_cast<Logical*>(n)->rhs);
    case Kind::Comparison:
      visit(static_cast<Comparison*>(n)->lhs);
      return visit(static_cast<Comparison*>(n)->rhs);
    case Kind::Concat:
      visit(static_cast<Concat*>(n)->lhs);
      return visit(static_cast<Concat*>(n)->rhs);
    case Kind::RegexMatch:
      visit(static_cast<RegexMatch*>(n)->lhs);
      return visit(static_cast<RegexMatch*>(n)->pattern);
    case Kind::Ternary: {
      auto* t = static_cast<Ternary*>(n);
      visit(t->cond);
      visit(t->then);
      return visit(t->otherwise);
    }
    case Kind::Assign:
      visit(static_cast<Assign*>(n)->lhs);
      return visit(static_cast<Assign*>(n)->rhs);
    case Kind::PreCrement:
      return visit(static_cast<PreCrement*>(n)->operand);
    case Kind::PostCrement:
      return visit(static_cast<PostCrement*>(n)->operand);
    case Kind::ArrayIn:
      return visit(static_cast<ArrayIn*>(n)->index);
    case Kind::TargetSymbol:
    case Kind::AtVar:
      if (auto* t = static_cast<TargetBase*>(n); t->lowered) return visit(t->lowered);
      return components(static_cast<TargetBase*>(n));
    case Kind::Cast:
      if (auto* t = static_cast<TargetBase*>(n); t->lowered) return visit(t->lowered);
      visit(static_cast<Cast*>(n)->operand);
      return components(static_cast<TargetBase*>(n));
    case Kind::Autocast:
      if (auto* t = static_cast<TargetBase*>(n); t->lowered) return visit(t->lowered);
      visit(static_cast<Autocast*>(n)->operand);
      return components(static_cast<TargetBase*>(n));
    case Kind::Defined:
      return visit(static_cast<Defined*>(n)->operand);
    case Kind::Entry:
      return visit(static_cast<Entry*>(n)->operand);
    case Kind::Deref:
      return visit(static_cast<Deref*>(n)->address);
    case Kind::StatOp:
      return visit(static_cast<StatOp*>(n)->operand);
    case Kind::HistOp:
      return visit(static_cast<HistOp*>(n)->operand);
    case Kind::Block:
      for (Stmt* s : static_cast<Block*>(n)->statements) visit(s);
      return;
    case Kind::TryCatch:
      visit(static_cast<TryCatch*>(n)->body);
      return visit(static_cast<TryCatch*>(n)->handler);
    case Kind::ExprStmt:
      return visit(static_cast<ExprStmt*>(n)->expr);
    case Kind::If: {
      auto* s = static_cast<If*>(n);
      visit(s->cond);
      visit(s->then);
      return visit(s->otherwise);
    }
    case Kind::For: {
      auto* s = static_cast<For*>(n);
      visit(s->init);
      visit(s->cond);
      visit(s->step);
      return visit(s->body);
    }
    case Kind::While:
      visit(static_cast<While*>(n)->cond);
      return visit(static_cast<While*>(n)->body);
    case Kind::Foreach: {
      auto* s = static_cast<Foreach*>(n);
      visit(s->value);
      for (Symbol* k : s->keys) visit(k);
      visit(s->array);
      for (Expr* e : s->slice) visit(e);
      visit(s->limit);
      return visit(s->body);
    }
    case Kind::Return:
      return visit(static_cast<Return*>(n)->value);
    case Kind::Delete:
      return visit(static_cast<Delete*>(n)->target);
    case Kind::Probe:
    case Kind::Alias:
    case Kind::Global:
    case Kind::Function:
    case Kind::EmbeddedDecl:
      return;  // declarations are walked by their owners
  }
}

// Calls f on `n` and every node below it, parents first.
template <typename F>
void WalkTree(Node* n, F&& f) {
  if (!n) return;
  f(n);
  ForEachChild(n, [&](Node* child) { WalkTree(child, f); });
}

// A deep copy of a statement or expression tree; pass-2 annotations are not copied.
Node* Clone(Arena& arena, const Node* n);
template <typename T>
T* CloneAs(Arena& arena, const T* n) {
  return static_cast<T*>(Clone(arena, n));
}

}  // namespace btap::ast
