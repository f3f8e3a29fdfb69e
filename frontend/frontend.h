// The frontend's entry points: source text in, AST out (pass 1). Library macros
// (.stpm files) are loaded first; each script or tapset file then parses on its own.
#pragma once

#include "common/arena.h"
#include "common/diagnostics.h"
#include "common/source.h"
#include "frontend/ast.h"
#include "frontend/preprocessor.h"

namespace btap::frontend {

struct ParseOptions {
  PPConfig pp;
  bool privileged = false;  // guru mode, or a tapset file
  bool user_file = true;    // an empty user script is an error
};

// Parses one file. The result is always a tree; it is complete only when no error was
// reported to `diags` while parsing it.
ast::File* ParseFile(SourceManager& sm, FileId file, const MacroTable* library,
                     const ParseOptions& options, Arena& arena, DiagnosticSink& diags);

// Reads the macro definitions of a .stpm file into `library`; a macro defined by an
// earlier file is an error and leaves the library as it was.
bool LoadLibraryMacros(SourceManager& sm, FileId file, const PPConfig& config, MacroTable& library,
                       Arena& arena, DiagnosticSink& diags);

}  // namespace btap::frontend
