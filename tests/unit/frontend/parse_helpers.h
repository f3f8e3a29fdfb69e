// Test helpers: parse a script from a string and look at the result as text.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "common/arena.h"
#include "common/diagnostics.h"
#include "frontend/ast_printer.h"
#include "frontend/frontend.h"

namespace btap::testing {

struct Parsed {
  std::string canonical;  // btap -p1 output
  std::string shape;      // fully parenthesised
  std::string diagnostics;
  size_t errors = 0;
  size_t warnings = 0;
};

struct ParseSetup {
  frontend::PPConfig pp;
  bool guru = false;
  bool user_file = true;
  std::vector<std::string> library_macros;  // .stpm texts
};

inline Parsed ParseText(std::string_view text, const ParseSetup& setup = {}) {
  SourceManager sm;
  Arena arena;
  DiagnosticSink diags;
  frontend::MacroTable library;
  for (size_t i = 0; i < setup.library_macros.size(); ++i) {
    FileId f = sm.AddFile("lib" + std::to_string(i) + ".stpm", setup.library_macros[i]);
    frontend::LoadLibraryMacros(sm, f, setup.pp, library, arena, diags);
  }
  FileId f = sm.AddFile("t.stp", std::string(text));
  frontend::ParseOptions options;
  options.pp = setup.pp;
  options.privileged = setup.guru;
  options.user_file = setup.user_file;
  ast::File* file = frontend::ParseFile(sm, f, &library, options, arena, diags);
  Parsed p;
  p.canonical = frontend::PrintToString(*file);
  p.shape = frontend::PrintToString(*file, {true});
  p.diagnostics = RenderDiagnostics(sm, diags);
  p.errors = diags.error_count();
  p.warnings = diags.warning_count();
  return p;
}

// The body of `probe begin { EXPR; }` printed with every compound expression
// parenthesised, e.g. Shape("a + b * c") == "a + (b * c)".
inline std::string Shape(std::string_view expr) {
  Parsed p = ParseText("probe begin { " + std::string(expr) + " }");
  if (p.errors) return "ERROR: " + p.diagnostics;
  std::string s = p.shape;
  size_t open = s.find("{\n");
  size_t close = s.rfind(";\n}");
  if (open == std::string::npos || close == std::string::npos) return s;
  std::string body = s.substr(open + 2, close - open - 2);
  size_t first = body.find_first_not_of(' ');
  return body.substr(first);
}

}  // namespace btap::testing
