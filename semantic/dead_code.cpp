// Pass 2e: dead code. Keeps what the probes reach: functions called (transitively) and
// globals referenced; warns about the script's unused functions and globals (elided
// unless -u; with -v, as stap) and about variables read but never assigned, suggesting
// similar names.
#include <map>
#include <set>

#include "frontend/ast_walk.h"
#include "semantic/elab.h"
#include "semantic/embedded_pragmas.h"
#include "semantic/intrinsics.h"
#include "semantic/suggest.h"

namespace btap::sema {
namespace {

class Reachability {
 public:
  explicit Reachability(Elab& e) : e_(e) {}

  void Run() {
    for (Probe* p : e_.program.probes) {
      Walk(p->body);
      Walk(p->condition);
    }
    // Top-level `%{ %}` blocks go with any C the probes reach (codegen compiles them
    // together), and so do the globals their pragmas name.
    if (reached_c_)
      for (const ast::EmbeddedDecl* d : e_.program.embedded) Pragmas(d->code);
    for (Variable* g : e_.program.globals)
      if (!g->from_tapset && e_.options.keep_unused) g->used = true;
  }

 private:
  void Walk(ast::Node* n) {
    ast::WalkTree(n, [&](ast::Node* x) {
      if (auto* s = ast::As<ast::Symbol>(x); s && s->var) s->var->used = true;
      if (auto* c = ast::As<ast::Call>(x); c && c->callee && !c->callee->used) {
        c->callee->used = true;
        if (c->callee->decl && c->callee->decl->body) Walk(c->callee->decl->body);
        if (c->callee->decl && c->callee->decl->has_embedded) Pragmas(c->callee->decl->embedded);
      }
      if (auto* e = ast::As<ast::EmbeddedExpr>(x)) Pragmas(e->code);
    });
  }
  // The globals the C's pragmas name are the C's to read and write: kept, as stap keeps
  // them (the script's own global of that name before a tapset's, as codegen binds it).
  void Pragmas(std::string_view code) {
    reached_c_ = true;
    for (const GlobalPragma& p : GlobalPragmas(code)) {
      Variable* global = PragmaGlobal(e_.program.globals, p.name);
      if (!global) continue;  // codegen says so, at the pragma
      global->used = true;
      (p.write ? global->written : global->read) = true;
    }
  }
  Elab& e_;
  bool reached_c_ = false;
};

std::vector<std::string_view> VisibleNames(Elab& e, const std::vector<Variable*>& locals) {
  std::vector<std::string_view> names;
  for (Variable* g : e.program.globals) names.push_back(g->name);
  for (Variable* v : locals)
    if (v->written) names.push_back(v->name);
  return names;
}

void NeverAssigned(Elab& e, const std::vector<Variable*>& locals, bool from_tapset) {
  if (from_tapset) return;
  for (Variable* v : locals)
    if (v->read && !v->written)
      e.diags.Report(Diag::NeverAssignedLocal, v->decl,
                     {v->name, DidYouMean(Similar(v->name, VisibleNames(e, locals)))});
}

}  // namespace

// Assignments to probe locals that nothing reads, as stap elides them: the syscall
// tapset's aliases compute every argument and `argstr`, and a handler that prints only
// `name` must not pay for the rest. Only assignments whose value has no side effects go.
class DeadAssignments {
 public:
  void Run(Probe* p) {
    for (bool changed = true; changed;) {
      read_.clear();
      CollectReads(p->body);
      CollectReads(p->condition);
      changed = Prune(p->body);
    }
    std::set<const Variable*> seen;
    ast::WalkTree(p->body, [&](ast::Node* n) {
      if (auto* s = ast::As<ast::Symbol>(n); s && s->var) seen.insert(s->var);
    });
    ast::WalkTree(p->condition, [&](ast::Node* n) {
      if (auto* s = ast::As<ast::Symbol>(n); s && s->var) seen.insert(s->var);
    });
    std::erase_if(p->locals, [&](Variable* v) { return !seen.count(v); });
  }

 private:
  // A symbol is read unless it is the left side of an assignment.
  void CollectReads(ast::Node* root) {
    ast::WalkTree(root, [&](ast::Node* n) {
      if (auto* a = ast::As<ast::Assign>(n)) {
        if (auto* s = ast::As<ast::Symbol>(a->lhs); s && s->var) written_.insert(s);
        return;
      }
      if (auto* s = ast::As<ast::Symbol>(n); s && s->var && !written_.count(s))
        read_.insert(s->var);
    });
  }

  bool Prune(ast::Node* root) {
    bool changed = false;
    // Under `try`, a value that can fail (a division, a memory read) must stay: its
    // error is what the `catch` is for.
    std::set<const ast::Block*> guarded;
    ast::WalkTree(root, [&](ast::Node* n) {
      if (auto* t = ast::As<ast::TryCatch>(n))
        ast::WalkTree(t->body, [&](ast::Node* m) {
          if (auto* b = ast::As<ast::Block>(m)) guarded.insert(b);
        });
    });
    ast::WalkTree(root, [&](ast::Node* n) {
      auto* block = ast::As<ast::Block>(n);
      if (!block || guarded.count(block)) return;
      size_t kept = 0;
      for (ast::Stmt* st : block->statements) {
        if (Dead(st)) {
          changed = true;
          continue;
        }
        block->statements[kept++] = st;
      }
      block->statements = block->statements.first(kept);
    });
    return changed;
  }

  bool Dead(ast::Stmt* st) {
    auto* es = ast::As<ast::ExprStmt>(st);
    auto* a = es ? ast::As<ast::Assign>(es->expr) : nullptr;
    auto* s = a ? ast::As<ast::Symbol>(a->lhs) : nullptr;
    if (!s || !s->var || s->var->kind != VarKind::Local || read_.count(s->var)) return false;
    return a->op != ast::Tok::StatAccum && Pure(a->rhs, 0);
  }

  // No assignment, no output or control, and no call to anything that has them.
  bool Pure(ast::Node* root, int depth) {
    bool pure = true;
    ast::WalkTree(root, [&](ast::Node* n) {
      if (!pure) return;
      if (ast::Is<ast::PreCrement>(n) || ast::Is<ast::PostCrement>(n) || ast::Is<ast::Delete>(n) ||
          ast::Is<ast::EmbeddedExpr>(n) || ast::Is<ast::Next>(n)) {
        pure = false;
      } else if (auto* a = ast::As<ast::Assign>(n)) {
        auto* s = ast::As<ast::Symbol>(a->lhs);
        pure = depth > 0 && s && s->var && s->var->kind != VarKind::Global;
      } else if (auto* c = ast::As<ast::Call>(n)) {
        pure = CallPure(c, depth);
      }
    });
    return pure;
  }

  bool CallPure(ast::Call* c, int depth) {
    if (!c->callee) return c->name.starts_with("sprint");  // the print family
    const Function* f = c->callee;
    if (f->intrinsic >= 0) {
      const IntrinsicInfo& info = Intrinsics()[f->intrinsic];
      return info.ret != Type::Unknown && info.name != "tokenize";
    }
    if (!f->decl || !f->decl->body || depth > 16) return false;
    auto it = pure_functions_.find(f);
    if (it != pure_functions_.end()) return it->second;
    pure_functions_[f] = false;  // while looking (recursion is rejected elsewhere)
    return pure_functions_[f] = Pure(f->decl->body, depth + 1);
  }

  std::set<const Variable*> read_;
  std::set<const ast::Symbol*> written_;
  std::map<const Function*, bool> pure_functions_;
};

void ElideDeadCode(Elab& e) {
  if (!e.options.keep_unused && !e.options.listing) {
    DeadAssignments dead;
    for (Probe* p : e.program.probes) dead.Run(p);
  }
  Reachability(e).Run();
  bool keep = e.options.keep_unused || e.options.listing;
  for (Probe* p : e.program.probes) NeverAssigned(e, p->locals, p->from_tapset);
  std::vector<Function*> functions;
  for (Function* f : e.program.functions) {
    if (f->used || (keep && !f->from_tapset)) {
      if (f->visited) NeverAssigned(e, f->locals, f->from_tapset);
      functions.push_back(f);
    } else if (!f->from_tapset && e.options.report_elisions) {
      e.diags.Report(Diag::UnusedFunction, f->decl->name_range, {f->name});
    }
  }
  e.program.functions = std::move(functions);
  std::vector<Variable*> globals;
  for (Variable* g : e.program.globals) {
    if (!g->used) {
      if (!g->from_tapset && e.options.report_elisions)
        e.diags.Report(Diag::UnusedGlobal, g->decl, {g->name});
      continue;
    }
    if (g->read && !g->written && !g->from_tapset)
      e.diags.Report(Diag::NeverAssignedGlobal, g->decl, {g->name});
    globals.push_back(g);
  }
  e.program.globals = std::move(globals);
}

}  // namespace btap::sema
