// Runs pass 2 in process on a script given as text, against btap's own tapset library
// (and optional -I folders), keeping everything the test wants to inspect.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/arena.h"
#include "common/diagnostics.h"
#include "frontend/frontend.h"
#include "semantic/elaborate.h"

namespace btap::testing {

struct Elaborated {
  SourceManager sm;
  Arena arena;
  DiagnosticSink diags;
  std::unique_ptr<sema::TapsetLibrary> library;
  sema::Machine machine;
  std::unique_ptr<sema::Program> program;

  std::string Errors() const { return RenderDiagnostics(sm, diags); }
  const sema::Function* FindFunction(std::string_view name) const {
    for (const sema::Function* f : program->functions)
      if (f->name == name) return f;
    return nullptr;
  }
};

// `running_kernel` false: compiled for another kernel than the running one (as with -r).
inline std::unique_ptr<Elaborated> Elaborate(const std::string& text,
                                             std::vector<std::string> include_dirs = {},
                                             sema::ElaborateOptions options = {},
                                             bool running_kernel = true) {
  auto r = std::make_unique<Elaborated>();
  if (!running_kernel) r->machine = sema::Machine("", "", false);
  r->library = std::make_unique<sema::TapsetLibrary>(r->sm, r->arena);
  sema::LibraryOptions lib;
  lib.include_dirs = std::move(include_dirs);
  r->library->Load(lib, r->diags);
  FileId id = r->sm.AddFile("test.stp", text);
  frontend::ParseOptions parse;
  ast::File* file =
      frontend::ParseFile(r->sm, id, &r->library->macros(), parse, r->arena, r->diags);
  if (r->diags.has_errors()) return r;
  r->program = sema::Elaborate(file, {r->sm, r->arena, r->diags, *r->library, r->machine, options});
  return r;
}

}  // namespace btap::testing
