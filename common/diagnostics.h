// Diagnostics: passes report into a DiagnosticSink; only the driver renders them,
// clang-style (file:line:col: error: message, the source line, a caret underline).
#pragma once

#include <initializer_list>
#include <iosfwd>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/source.h"

namespace btap {

enum class Severity { Note, Warning, Error };

enum class Diag {
#define DIAG(name, severity, text) name,
#include "common/diagnostics.def"
#undef DIAG
};

struct Diagnostic {
  Diag kind;
  Severity severity;
  SourceRange range;
  std::string message;
  std::vector<Diagnostic> notes;
};

class DiagnosticSink {
 public:
  // Adds a diagnostic; {N} in the kind's message is replaced by args[N].
  Diagnostic& Report(Diag kind, SourceRange range,
                     std::initializer_list<std::string_view> args = {});
  // Attaches a note to the most recent diagnostic.
  void Note(Diag kind, SourceRange range, std::initializer_list<std::string_view> args = {});

  const std::vector<Diagnostic>& diagnostics() const { return diags_; }
  size_t error_count() const { return errors_; }
  size_t warning_count() const { return warnings_; }
  bool has_errors() const { return errors_ != 0; }
  // Treats warnings as errors (-W) or drops them (-w).
  void set_warnings_as_errors(bool on) { werror_ = on; }
  void set_suppress_warnings(bool on) { no_warnings_ = on; }
  // A report of the same kind and place as an earlier one (a probe body copied for each
  // match of a wildcard) is counted, not kept, as stap does; -v keeps them all.
  void set_keep_duplicates(bool on) { keep_duplicates_ = on; }
  size_t suppressed_errors() const { return suppressed_errors_; }
  size_t suppressed_warnings() const { return suppressed_warnings_; }

 private:
  using Key = std::tuple<Diag, FileId, uint32_t, uint32_t, std::string>;
  Diagnostic& Drop(Diagnostic d);

  std::vector<Diagnostic> diags_;
  std::set<Key> seen_;
  std::set<Key> missing_args_;  // the places of out-of-range `$N`/`@N` arguments
  size_t errors_ = 0;
  size_t warnings_ = 0;
  size_t suppressed_errors_ = 0;
  size_t suppressed_warnings_ = 0;
  bool werror_ = false;
  bool no_warnings_ = false;
  bool keep_duplicates_ = false;
  bool last_dropped_ = false;  // notes of a dropped report are dropped with it
};

std::string_view DiagName(Diag kind);
std::string FormatMessage(Diag kind, std::initializer_list<std::string_view> args);

// Renders one diagnostic (and its notes) as clang does. Rendering a sink ends with stap's
// count of suppressed duplicates, when there were any.
void RenderDiagnostic(const SourceManager& sm, const Diagnostic& d, std::ostream& out);
void RenderDiagnostics(const SourceManager& sm, const DiagnosticSink& sink, std::ostream& out);
std::string RenderDiagnostics(const SourceManager& sm, const DiagnosticSink& sink);
// How much of a sink has been rendered: a driver that says each pass's warnings as the
// pass ends renders only what was added since, and a failure does not repeat them.
struct RenderedMark {
  size_t diagnostics = 0;
  size_t suppressed_errors = 0;
  size_t suppressed_warnings = 0;
};
void RenderDiagnosticsSince(const SourceManager& sm, const DiagnosticSink& sink, RenderedMark* mark,
                            std::ostream& out);

}  // namespace btap
