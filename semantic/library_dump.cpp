// What the library offers, as stap's --dump-* options print it (see library_dump.h).
#include "semantic/library_dump.h"

#include <set>

#include "frontend/ast_printer.h"
#include "semantic/machine/machine.h"
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

std::string_view TypeText(ast::TypeAnn t) {
  return t == ast::TypeAnn::Long ? "long" : t == ast::TypeAnn::String ? "string" : "unknown";
}

std::vector<std::string> Sorted(const std::set<std::string>& lines) {
  return {lines.begin(), lines.end()};
}

}  // namespace

std::vector<std::string> DumpFunctions(TapsetLibrary& library, bool all) {
  std::set<std::string> lines;
  for (const TapsetFile& f : library.files()) {
    if (!f.ast) continue;
    for (const ast::Decl* d : f.ast->decls) {
      const auto* fn = ast::As<ast::Function>(d);
      if (!fn || fn->is_private || (!all && fn->name.starts_with("_"))) continue;
      std::string line = std::string(fn->name) + ":" + std::string(TypeText(fn->type)) + " (";
      for (size_t i = 0; i < fn->params.size(); ++i)
        line += (i ? ", " : "") + std::string(fn->params[i].name) + ":" +
                std::string(TypeText(fn->params[i].type));
      lines.insert(line + ")");
    }
  }
  return Sorted(lines);
}

std::vector<std::string> DumpProbeAliases(TapsetLibrary& library, Machine& machine,
                                          DiagnosticSink& diags, bool all) {
  const SyscallTable& syscalls = machine.syscalls();
  if (syscalls.error().empty() && !library.HasFile("<generated>/syscalls.stp")) {
    library.AddGenerated("<generated>/syscalls.stp", syscalls.Tapset(), diags);
    library.AddGenerated("<generated>/syscall_any.stp", syscalls.AnyTapset(), diags);
  }
  std::set<std::string> lines;
  for (const TapsetFile& f : library.files()) {
    if (!f.ast) continue;
    for (const ast::Decl* d : f.ast->decls) {
      const auto* alias = ast::As<ast::Alias>(d);
      if (!alias) continue;
      std::string line;
      for (size_t i = 0; i < alias->names.size(); ++i)
        line += (i ? " = " : "") + frontend::PrintProbePoint(alias->names[i]);
      bool epilogue =
          !alias->name_ops.empty() && alias->name_ops.back() == frontend::Tok::AddAssign;
      line += epilogue ? " += " : " = ";
      for (size_t i = 0; i < alias->points.size(); ++i)
        line += (i ? ", " : "") + frontend::PrintProbePoint(alias->points[i]);
      if (all || !line.starts_with("_")) lines.insert(line);
    }
  }
  return Sorted(lines);
}

std::vector<std::string> DumpProbeTypes() {
  std::set<std::string> lines;
  for (const PatternDef& p : AllPatterns())
    if (!p.spelling.starts_with("_")) lines.insert(p.spelling);  // btap's internal points
  return Sorted(lines);
}

}  // namespace btap::sema
