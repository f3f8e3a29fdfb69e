// Locals that hold one literal wherever they are read (ScanConstantLocals), and keys
// built from a literal's bytes (see lowering.h).
#include <functional>
#include <set>

#include "codegen/lowering.h"
#include "frontend/ast_walk.h"

namespace btap::codegen::lowering {

// Every syscall alias begins `name = "accept"`, so `syscall.* { c[name]++ }` copied the
// name into a scratch slot, and from there into the key, in each call's body. A string
// local given one literal, once, by a statement of its body's own sequence (not under a
// condition or in a loop; alias prologues and the handler are blocks of that sequence),
// and read only after it, holds that literal wherever it is read: reading it is reading
// the literal, its assignment stores nothing, and it needs no slot. Anything else that
// writes it (another assignment, `.=`, `delete`, a foreach, a catch) or a read before
// the assignment, or at the call's entry (@entry), keeps it an ordinary local.
void Lowering::ScanConstantLocals() {
  // A variable that several bodies name (none should) is left alone.
  std::map<const sema::Variable*, const ast::Block*> home;
  std::set<const sema::Variable*> shared;
  auto scan = [&](ast::Block* body) {
    if (!body) return;
    std::map<const sema::Variable*, int> writes;  // 2 for any write but `= "literal"`
    std::set<const sema::Variable*> excluded;     // read at entry
    auto symbol = [](ast::Expr* e) -> const sema::Variable* {
      auto* s = ast::As<ast::Symbol>(e);
      return s && s->var && s->var->kind == sema::VarKind::Local ? s->var : nullptr;
    };
    ast::WalkTree(body, [&](ast::Node* n) {
      if (auto* a = ast::As<ast::Assign>(n)) {
        if (const sema::Variable* v = symbol(a->lhs))
          writes[v] += a->op == Tok::Assign && ast::As<ast::StringLit>(a->rhs) ? 1 : 2;
      } else if (auto* f = ast::As<ast::Foreach>(n)) {
        for (ast::Symbol* k : f->keys)
          if (const sema::Variable* v = symbol(k)) writes[v] += 2;
        if (const sema::Variable* v = symbol(f->value)) writes[v] += 2;
      } else if (auto* t = ast::As<ast::TryCatch>(n)) {
        if (t->error_sym) writes[t->error_sym] += 2;
      } else if (auto* d = ast::As<ast::Delete>(n)) {
        if (const sema::Variable* v = symbol(d->target)) writes[v] += 2;
      } else if (auto* e = ast::As<ast::Entry>(n)) {
        ast::WalkTree(e, [&](ast::Node* m) {
          if (const sema::Variable* v = symbol(ast::As<ast::Symbol>(m))) excluded.insert(v);
        });
      }
    });
    std::set<const sema::Variable*> read;  // in the statements so far
    std::function<void(ast::Stmt*)> sequence = [&](ast::Stmt* st) {
      if (auto* b = ast::As<ast::Block>(st)) {
        for (ast::Stmt* inner : b->statements) sequence(inner);
        return;
      }
      auto* x = ast::As<ast::ExprStmt>(st);
      auto* a = x ? ast::As<ast::Assign>(x->expr) : nullptr;
      const sema::Variable* v = a && a->op == Tok::Assign ? symbol(a->lhs) : nullptr;
      auto* lit = a ? ast::As<ast::StringLit>(a->rhs) : nullptr;
      if (v && lit && v->type == Type::String && writes[v] == 1 && !read.count(v) &&
          !excluded.count(v))
        constant_locals_[v] = lit;
      ast::WalkTree(st, [&](ast::Node* n) {
        if (const sema::Variable* r = symbol(ast::As<ast::Symbol>(n))) {
          read.insert(r);
          if (home.emplace(r, body).first->second != body) shared.insert(r);
        }
      });
    };
    sequence(body);
  };
  for (const sema::Probe* p : program_.probes) scan(p->body);
  for (const sema::Function* f : program_.functions)
    if (f->decl) scan(f->decl->body);
  for (const sema::Variable* v : shared) constant_locals_.erase(v);
}

// The literal a key's string index stands for: a literal, or a local that holds one.
const ast::StringLit* Lowering::KnownLiteral(const ast::Expr* e) const {
  if (auto* s = ast::As<ast::StringLit>(e)) return s;
  if (auto* s = ast::As<ast::Symbol>(e); s && s->var) {
    auto it = constant_locals_.find(s->var);
    if (it != constant_locals_.end()) return it->second;
  }
  return nullptr;
}

// A narrow key field given a literal that fits: its bytes, zero-padded, stored straight
// into the key (no copy of a constant by bpf_probe_read_kernel_str, no zeroing first).
bool Lowering::StoreLiteralKey(Value dst, uint32_t width, const ast::Expr* index) {
  const ast::StringLit* lit = KnownLiteral(index);
  if (!lit || width > 64) return false;
  std::string_view text = lit->value.substr(0, lit->value.find('\0'));
  if (text.size() + 1 > std::min(width, limit_)) return false;
  for (uint32_t at = 0; at < width; at += 8) {
    uint64_t word = 0;  // little-endian (bpfel)
    for (uint32_t i = 0; i < 8 && at + i < text.size(); ++i)
      word |= uint64_t(static_cast<uint8_t>(text[at + i])) << (8 * i);
    b_.CreateStore(b_.getInt64(word), b_.CreateConstGEP1_64(b_.getInt8Ty(), dst, at));
  }
  return true;
}

}  // namespace btap::codegen::lowering
