// Deep copy of AST subtrees. Alias expansion gives each expanded probe its own copy of
// the alias and handler bodies, so that pass 2 can annotate each copy independently.
#include <type_traits>
#include <vector>

#include "frontend/ast_walk.h"

namespace btap::ast {
namespace {

class Cloner {
 public:
  explicit Cloner(Arena& arena) : arena_(arena) {}

  template <typename T>
  T* Copy(const T* n) {
    return n ? static_cast<T*>(Node(n)) : nullptr;
  }

  template <typename T>
  std::span<T*> List(std::span<T* const> in) {
    std::vector<T*> out;
    out.reserve(in.size());
    for (const T* e : in) out.push_back(Copy(e));
    return arena_.Copy(out);
  }

  template <typename T>
  T* Shallow(const ast::Node* n) {
    T* copy = arena_.New<T>(*static_cast<const T*>(n));
    return copy;
  }

  void Components(TargetBase* t) {
    std::vector<TargetComponent> parts(t->components.begin(), t->components.end());
    for (TargetComponent& c : parts) c.index = Copy(c.index);
    t->components = arena_.Copy(parts);
    t->components_capacity = static_cast<uint32_t>(parts.size());
  }

  ast::Node* Node(const ast::Node* n) {
    switch (n->kind) {
#define LEAF(K) \
  case Kind::K: \
    return Fresh(Shallow<K>(n));
      LEAF(NumberLit)
      LEAF(StringLit)
      LEAF(EmbeddedExpr)
      LEAF(Probewrite)
      LEAF(Const)
      LEAF(Perf)
      LEAF(Register)
      LEAF(Next)
      LEAF(Break)
      LEAF(Continue)
      LEAF(Null)
#undef LEAF
      case Kind::Symbol: {
        auto* s = Fresh(Shallow<Symbol>(n));
        s->var = nullptr;
        return s;
      }
      case Kind::ArrayIndex: {
        auto* a = Fresh(Shallow<ArrayIndex>(n));
        a->base = Copy(a->base);
        a->indexes = List<Expr>(a->indexes);
        return a;
      }
      case Kind::Call: {
        auto* c = Fresh(Shallow<Call>(n));
        c->args = List<Expr>(c->args);
        c->callee = nullptr;
        return c;
      }
      case Kind::Unary:
        return Operand<Unary>(n);
      case Kind::PreCrement:
        return Operand<PreCrement>(n);
      case Kind::PostCrement:
        return Operand<PostCrement>(n);
      case Kind::Defined:
        return Operand<Defined>(n);
      case Kind::Entry:
        return Operand<Entry>(n);
      case Kind::StatOp:
        return Operand<StatOp>(n);
      case Kind::HistOp:
        return Operand<HistOp>(n);
      case Kind::Binary:
        return Pair<Binary>(n);
      case Kind::Logical:
        return Pair<Logical>(n);
      case Kind::Comparison:
        return Pair<Comparison>(n);
      case Kind::Concat:
        return Pair<Concat>(n);
      case Kind::Assign:
        return Pair<Assign>(n);
      case Kind::RegexMatch: {
        auto* r = Fresh(Shallow<RegexMatch>(n));
        r->lhs = Copy(r->lhs);
        r->pattern = Copy(r->pattern);
        return r;
      }
      case Kind::Ternary: {
        auto* t = Fresh(Shallow<Ternary>(n));
        t->cond = Copy(t->cond);
        t->then = Copy(t->then);
        t->otherwise = Copy(t->otherwise);
        return t;
      }
      case Kind::ArrayIn: {
        auto* a = Fresh(Shallow<ArrayIn>(n));
        a->index = Copy(a->index);
        return a;
      }
      case Kind::TargetSymbol: {
        auto* t = Fresh(Shallow<TargetSymbol>(n));
        Components(t);
        return t;
      }
      case Kind::AtVar: {
        auto* t = Fresh(Shallow<AtVar>(n));
        Components(t);
        return t;
      }
      case Kind::Cast: {
        auto* t = Fresh(Shallow<Cast>(n));
        t->operand = Copy(t->operand);
        Components(t);
        return t;
      }
      case Kind::Autocast: {
        auto* t = Fresh(Shallow<Autocast>(n));
        t->operand = Copy(t->operand);
        Components(t);
        return t;
      }
      case Kind::Deref: {
        auto* d = Fresh(Shallow<Deref>(n));
        d->address = Copy(d->address);
        return d;
      }
      case Kind::Block: {
        auto* b = Shallow<Block>(n);
        b->statements = List<Stmt>(b->statements);
        return b;
      }
      case Kind::TryCatch: {
        auto* t = Shallow<TryCatch>(n);
        t->body = Copy(t->body);
        t->handler = Copy(t->handler);
        t->error_sym = nullptr;
        return t;
      }
      case Kind::ExprStmt: {
        auto* s = Shallow<ExprStmt>(n);
        s->expr = Copy(s->expr);
        return s;
      }
      case Kind::If: {
        auto* s = Shallow<If>(n);
        s->cond = Copy(s->cond);
        s->then = Copy(s->then);
        s->otherwise = Copy(s->otherwise);
        return s;
      }
      case Kind::For: {
        auto* s = Shallow<For>(n);
        s->init = Copy(s->init);
        s->cond = Copy(s->cond);
        s->step = Copy(s->step);
        s->body = Copy(s->body);
        return s;
      }
      case Kind::While: {
        auto* s = Shallow<While>(n);
        s->cond = Copy(s->cond);
        s->body = Copy(s->body);
        return s;
      }
      case Kind::Foreach: {
        auto* s = Shallow<Foreach>(n);
        s->value = Copy(s->value);
        s->keys = List<Symbol>(s->keys);
        s->array = Copy(s->array);
        s->slice = List<Expr>(s->slice);
        s->limit = Copy(s->limit);
        s->body = Copy(s->body);
        return s;
      }
      case Kind::Return: {
        auto* s = Shallow<Return>(n);
        s->value = Copy(s->value);
        return s;
      }
      case Kind::Delete: {
        auto* s = Shallow<Delete>(n);
        s->target = Copy(s->target);
        return s;
      }
      case Kind::Probe:
      case Kind::Alias:
      case Kind::Global:
      case Kind::Function:
      case Kind::EmbeddedDecl:
        break;
    }
    return nullptr;  // declarations are never cloned
  }

 private:
  template <typename T>
  T* Fresh(T* e) {
    if constexpr (std::is_base_of_v<Expr, T>) e->type = Type::Unknown;
    return e;
  }
  template <typename T>
  T* Operand(const ast::Node* n) {
    auto* e = Fresh(Shallow<T>(n));
    e->operand = Copy(e->operand);
    return e;
  }
  template <typename T>
  T* Pair(const ast::Node* n) {
    auto* e = Fresh(Shallow<T>(n));
    e->lhs = Copy(e->lhs);
    e->rhs = Copy(e->rhs);
    return e;
  }

  Arena& arena_;
};

}  // namespace

Node* Clone(Arena& arena, const Node* n) { return n ? Cloner(arena).Node(n) : nullptr; }

}  // namespace btap::ast
