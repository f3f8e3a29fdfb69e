// `-p2` output in stap's layout: globals with their types, functions with their
// signatures (sorted by name), probes in script order as `point /* <- as written */`
// with their locals; with -v the bodies as well.
#include <algorithm>
#include <ostream>

#include "frontend/ast_printer.h"
#include "semantic/elaborate.h"

namespace btap::sema {
namespace {

void PrintVariable(const Variable& v, std::ostream& out) {
  out << v.name;
  if (v.global && v.global->size) out << '[' << v.global->size << ']';
  out << ':' << TypeName(v.type);
  if (v.arity > 0) {
    out << " [";
    for (size_t i = 0; i < v.key_types.size(); ++i)
      out << (i ? ", " : "") << TypeName(v.key_types[i]);
    out << ']';
  }
  out << '\n';
}

}  // namespace

void PrintProgram(const Program& program, bool bodies, std::ostream& out) {
  if (!program.globals.empty()) {
    out << "# globals\n";
    for (const Variable* g : program.globals) PrintVariable(*g, out);
  }
  std::vector<const Function*> functions(program.functions.begin(), program.functions.end());
  std::stable_sort(functions.begin(), functions.end(),
                   [](const Function* a, const Function* b) { return a->name < b->name; });
  if (!functions.empty()) {
    out << "# functions\n";
    for (const Function* f : functions) {
      out << f->name << ':' << TypeName(f->ret) << " (";
      for (size_t i = 0; i < f->params.size(); ++i)
        out << (i ? ", " : "") << f->params[i]->name << ':' << TypeName(f->params[i]->type);
      out << ")\n";
      if (!bodies || !f->decl) continue;
      if (f->decl->body) {
        frontend::PrintBlock(f->decl->body, 0, out);
        out << '\n';
      } else {
        out << "%{" << f->decl->embedded << "%}\n";
      }
    }
  }
  if (!program.probes.empty()) out << "# probes\n";
  for (const Probe* p : program.probes) {
    out << p->spec.point << " /* <- " << p->origin << " */\n";
    bool header = false;
    for (const Variable* v : p->locals) {
      if (!v->used && !v->written) continue;
      if (!header) out << "  # locals\n";
      header = true;
      out << "  ";
      PrintVariable(*v, out);
    }
    if (bodies) {
      if (p->condition) out << "if (" << frontend::PrintExpr(p->condition) << ") ";
      frontend::PrintBlock(p->body, 0, out);
      out << '\n';
    }
  }
}

}  // namespace btap::sema
