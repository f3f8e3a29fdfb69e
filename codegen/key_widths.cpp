// Narrow string keys (ScanKeyWidths): which string fields of an array's key can be as wide
// as the strings they ever hold rather than whole MAXSTRINGLEN slots (see lowering.h).
#include <functional>
#include <set>

#include "codegen/lowering.h"
#include "frontend/ast_walk.h"

namespace btap::codegen::lowering {

// The bytes a string needs (with its NUL) when that is known at compile time: a literal's,
// or a task's name (execname(): TASK_COMM_LEN); 0 otherwise.
uint32_t Lowering::BoundedWidth(const ast::Expr* e) {
  if (auto* s = ast::As<ast::StringLit>(e)) return static_cast<uint32_t>(s->value.size()) + 1;
  if (auto* c = ast::As<ast::Call>(e))
    if (c->args.empty() && (c->name == "__btap_execname" ||
                            (c->name == "execname" && c->callee && c->callee->from_tapset)))
      return 16;
  return 0;
}

// Hashing a key costs by its size, and a slot is MAXSTRINGLEN bytes: c[execname()]++ spent
// most of its time hashing 256 bytes. Where every index at a string position of an array,
// written or read anywhere, is a literal, execname(), a loop variable that only ever
// holds that position's keys (foreach (k in c) ... c[k]), or a local only ever given
// short strings (the syscall aliases' `name = "accept"`: `syscall.* { c[name]++ }`), that
// field is as wide as the longest of them instead, and no string that could not fit is
// ever looked up.
void Lowering::ScanKeyWidths() {
  // Loop variables: where each foreach binds them; and the variables assigned otherwise,
  // with what each string local is given (null: something of no known width).
  std::map<const sema::Variable*, std::set<std::pair<const sema::Variable*, size_t>>> bound;
  std::set<const sema::Variable*> assigned;
  std::map<const sema::Variable*, std::vector<const ast::Expr*>> given;
  auto bindings = [&](ast::Node* n) {
    if (auto* f = ast::As<ast::Foreach>(n)) {
      auto* array = ast::As<ast::Symbol>(f->array);
      for (size_t k = 0; k < f->keys.size(); ++k)
        if (f->keys[k] && f->keys[k]->var) {
          bound[f->keys[k]->var].insert({array ? array->var : nullptr, k});
          given[f->keys[k]->var].push_back(nullptr);
        }
      if (f->value && f->value->var) {
        assigned.insert(f->value->var);
        given[f->value->var].push_back(nullptr);
      }
    } else if (auto* a = ast::As<ast::Assign>(n)) {
      if (auto* s = ast::As<ast::Symbol>(a->lhs); s && s->var) {
        assigned.insert(s->var);
        given[s->var].push_back(a->op == Tok::Assign ? a->rhs : nullptr);
      }
    } else if (auto* t = ast::As<ast::TryCatch>(n); t && t->error_sym) {
      given[t->error_sym].push_back(nullptr);  // an error's message
    }
  };
  // Locals that only ever hold short strings, and the widest of them: each starts empty
  // and is given only literals, execname(), conditionals of such, or other such locals.
  // (`delete s` empties one; a parameter's or global's value comes from elsewhere.)
  std::map<const sema::Variable*, uint32_t> short_locals;
  std::function<uint32_t(const ast::Expr*)> width = [&](const ast::Expr* e) -> uint32_t {
    if (!e) return 0;
    if (uint32_t w = BoundedWidth(e)) return w;
    if (auto* t = ast::As<ast::Ternary>(e)) {
      uint32_t a = width(t->then), b = width(t->otherwise);
      return a && b ? std::max(a, b) : 0;
    }
    if (auto* s = ast::As<ast::Symbol>(e); s && s->var) {
      auto it = short_locals.find(s->var);
      return it == short_locals.end() ? 0 : it->second;
    }
    return 0;
  };
  auto shorten = [&]() {
    for (auto& [v, values] : given)
      if (v->kind == sema::VarKind::Local && v->type == Type::String && !bound.count(v))
        short_locals[v] = 1;
    // Widths only grow and locals only drop out, so this settles.
    for (bool changed = true; changed;) {
      changed = false;
      for (auto& [v, values] : given) {
        auto it = short_locals.find(v);
        if (it == short_locals.end()) continue;
        uint32_t w = it->second;
        for (const ast::Expr* e : values) {
          uint32_t one = width(e);
          w = one && w ? std::max(w, one) : 0;
        }
        if (w == it->second) continue;
        changed = true;
        if (w && w <= slot_)
          it->second = w;
        else
          short_locals.erase(it);
      }
    }
  };
  std::set<const sema::Variable*> unbounded;
  // An element's indexes, or a foreach slice's given parts (a `*` looks nothing up).
  auto visit = [&](ast::Node* n) {
    auto* a = ast::As<ast::ArrayIndex>(n);
    auto* f = ast::As<ast::Foreach>(n);
    auto* s = a ? ast::As<ast::Symbol>(a->base) : f ? ast::As<ast::Symbol>(f->array) : nullptr;
    if (!s || !s->var) return;
    std::span<ast::Expr*> indexes = a ? a->indexes : f->slice;
    const sema::Variable* v = s->var;
    std::vector<uint32_t>& widths = key_widths_[v];
    widths.resize(v->key_types.size(), 0);
    for (size_t k = 0; k < indexes.size() && k < v->key_types.size(); ++k) {
      if (v->key_types[k] != Type::String) continue;
      const ast::Expr* i = indexes[k];
      if (!i) continue;
      // A local of the probe or function (a parameter's or global's value comes from
      // elsewhere) that nothing assigns.
      if (auto* loop = ast::As<ast::Symbol>(i); loop && loop->var &&
                                                loop->var->kind == sema::VarKind::Local &&
                                                !assigned.count(loop->var)) {
        auto b = bound.find(loop->var);
        if (b != bound.end() && b->second.size() == 1 && *b->second.begin() == std::pair{v, k})
          continue;  // one of this field's own keys
      }
      uint32_t w = width(i);
      if (!w) unbounded.insert(v);
      widths[k] = std::max(widths[k], w);
    }
  };
  auto walk = [&](const std::function<void(ast::Node*)>& pass) {
    for (const sema::Probe* p : program_.probes) {
      ast::WalkTree(p->body, pass);
      ast::WalkTree(p->condition, pass);  // `probe X if (s in c)` looks keys up too
    }
    for (const sema::Function* f : program_.functions)
      if (f->decl && f->decl->body) ast::WalkTree(f->decl->body, pass);
  };
  walk(bindings);
  shorten();
  walk(visit);
  for (const sema::Variable* v : unbounded) key_widths_.erase(v);
}

}  // namespace btap::codegen::lowering
