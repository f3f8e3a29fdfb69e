// Fuzz target: any bytes through the whole frontend and pass 2 (against btap's tapset
// library, with no kernel facts). A crash, a leak, a hang, or a tree that does not
// survive print -> parse unchanged is a finding.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "common/arena.h"
#include "common/diagnostics.h"
#include "frontend/ast_printer.h"
#include "frontend/frontend.h"
#include "semantic/elaborate.h"

namespace {

using namespace btap;

// A small library so that macro paths (parameters, closures, conditionals) are reached.
constexpr const char* kLibrary = R"(
@define lib_pair(a, b) %( [@a, @b] %)
@define lib_cond %( %( arch == "x86_64" %? 1 %: 2 %) %)
@define lib_nested(x) %( @lib_pair(@x, @lib_cond) %)
)";

frontend::PPConfig Config() {
  frontend::PPConfig c;
  c.kernel_v = "6.1.0";
  c.kernel_vr = "6.1.0-28-amd64";
  c.args = {"1", "x", "kernel.function(\"f\")"};
  c.kernel_config = [](std::string_view name) {
    return std::string(name == "CONFIG_A" ? "y" : "");
  };
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  static const frontend::PPConfig config = Config();
  std::string text(reinterpret_cast<const char*>(data), size);
  SourceManager sm;
  Arena arena;
  DiagnosticSink diags;
  frontend::MacroTable library;
  frontend::LoadLibraryMacros(sm, sm.AddFile("lib.stpm", kLibrary), config, library, arena, diags);

  // The input as a library macro file, then as a script.
  DiagnosticSink stpm_diags;
  frontend::MacroTable scratch;
  frontend::LoadLibraryMacros(sm, sm.AddFile("fuzz.stpm", text), config, scratch, arena,
                              stpm_diags);

  frontend::ParseOptions options;
  options.pp = config;
  options.privileged = size > 0 && (data[0] & 1);
  ast::File* file =
      frontend::ParseFile(sm, sm.AddFile("fuzz.stp", text), &library, options, arena, diags);
  std::ostringstream rendered;
  RenderDiagnostics(sm, diags, rendered);
  RenderDiagnostics(sm, stpm_diags, rendered);
  if (diags.has_errors()) return 0;

  std::string canonical = frontend::PrintToString(*file);
  std::string shape = frontend::PrintToString(*file, {true});
  DiagnosticSink again_diags;
  options.privileged = true;
  ast::File* again = frontend::ParseFile(sm, sm.AddFile("printed.stp", canonical), &library,
                                         options, arena, again_diags);
  if (again_diags.has_errors() || frontend::PrintToString(*again, {true}) != shape) {
    std::ostringstream why;
    RenderDiagnostics(sm, again_diags, why);
    fprintf(stderr, "round trip failed\n--- input\n%s\n--- printed\n%s\n--- errors\n%s\n",
            text.c_str(), canonical.c_str(), why.str().c_str());
    abort();
  }

  // Pass 2: the tapset library is parsed per input (elaboration marks its files).
  sema::TapsetLibrary tapsets(sm, arena);
  sema::LibraryOptions library_options;
  library_options.pp = config;
  DiagnosticSink elab_diags;
  tapsets.Load(library_options, elab_diags);
  ast::File* script = frontend::ParseFile(sm, sm.AddFile("elab.stp", text), &tapsets.macros(),
                                          options, arena, elab_diags);
  if (elab_diags.has_errors()) return 0;
  sema::Machine machine("/nonexistent", "/nonexistent");  // no tracepoints: deterministic
  auto program = sema::Elaborate(script, {sm, arena, elab_diags, tapsets, machine, {}});
  std::ostringstream out;
  sema::PrintProgram(*program, true, out);
  RenderDiagnostics(sm, elab_diags, out);
  return 0;
}
