// Pass 2e: dead code. Keeps what the probes reach: functions called (transitively) and
// globals referenced; warns about the script's unused functions and globals (elided
// unless -u; with -v, as stap) and about variables read but never assigned, suggesting
// similar names.
#include <set>

#include "frontend/ast_walk.h"
#include "semantic/elab.h"
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
      }
    });
  }
  Elab& e_;
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

void ElideDeadCode(Elab& e) {
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
