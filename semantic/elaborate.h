// Pass 2's entry point: a parsed script and the tapset library in, an elaborated
// Program out (probes resolved, symbols bound, types inferred, dead code removed).
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/arena.h"
#include "common/diagnostics.h"
#include "semantic/machine/machine.h"
#include "semantic/program.h"
#include "semantic/tapsets.h"

namespace btap::sema {

struct ElaborateOptions {
  bool keep_unused = false;      // -u: keep unused functions, globals and locals
  bool listing = false;          // -l/-L: wildcards over probe arguments, no elision
  bool list_variables = true;    // -l leaves out $vars (no BTF needed)
  bool report_elisions = false;  // -v: warn about each unused function and global, as stap
  bool has_target = false;       // -c/-x: process probes follow the target's process tree
  // -c's program (its first word, found like a shell would) or -x's executable (where
  // /proc/PID/exe points): what a `process` probe without a path names ("" without
  // either). When -x's executable cannot be read, why (for such a probe's error).
  std::string target_program;
  std::string target_program_error;
};

struct ElaborateInput {
  SourceManager& sm;
  Arena& arena;
  DiagnosticSink& diags;
  TapsetLibrary& library;
  Machine& machine;
  ElaborateOptions options;
};

// Runs every semantic pass in order (AllSemanticPasses), stopping after the first pass
// that reports an error. The program is returned even then, as far as it got.
std::unique_ptr<Program> Elaborate(ast::File* script, ElaborateInput input);

struct PassInfo {
  std::string_view name;
};
std::vector<PassInfo> AllSemanticPasses();

// stap's -p2 layout; `bodies` (-v) adds function and probe bodies.
void PrintProgram(const Program& program, bool bodies, std::ostream& out);

}  // namespace btap::sema
