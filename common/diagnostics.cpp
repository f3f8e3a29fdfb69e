// Diagnostic collection and clang-style rendering.
#include "common/diagnostics.h"

#include <ostream>
#include <sstream>

namespace btap {
namespace {

struct DiagInfo {
  std::string_view name;
  Severity severity;
  std::string_view text;
};

constexpr DiagInfo kDiagInfo[] = {
#define DIAG(name, severity, text) {#name, Severity::severity, text},
#include "common/diagnostics.def"
#undef DIAG
};

std::string_view SeverityWord(Severity s) {
  switch (s) {
    case Severity::Note:
      return "note";
    case Severity::Warning:
      return "warning";
    case Severity::Error:
      return "error";
  }
  return "error";
}

}  // namespace

std::string_view DiagName(Diag kind) { return kDiagInfo[static_cast<int>(kind)].name; }

std::string FormatMessage(Diag kind, std::initializer_list<std::string_view> args) {
  std::string_view text = kDiagInfo[static_cast<int>(kind)].text;
  std::string out;
  out.reserve(text.size() + 16);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{' && i + 2 < text.size() && text[i + 2] == '}' && text[i + 1] >= '0' &&
        text[i + 1] <= '9') {
      size_t n = static_cast<size_t>(text[i + 1] - '0');
      if (n < args.size()) out += *(args.begin() + n);
      i += 2;
      continue;
    }
    out += text[i];
  }
  return out;
}

Diagnostic& DiagnosticSink::Drop(Diagnostic d) {
  // Keep the object valid for the caller's notes, then forget it.
  static thread_local Diagnostic dropped;
  dropped = std::move(d);
  last_dropped_ = true;
  return dropped;
}

Diagnostic& DiagnosticSink::Report(Diag kind, SourceRange range,
                                   std::initializer_list<std::string_view> args) {
  Severity sev = kDiagInfo[static_cast<int>(kind)].severity;
  if (sev == Severity::Warning && werror_) sev = Severity::Error;
  Diagnostic d{kind, sev, range, FormatMessage(kind, args), {}};
  if (sev == Severity::Warning && no_warnings_) return Drop(std::move(d));
  // One report per kind and place: a wildcard's copies of one body differ only in the
  // probe point the message may name. Unplaced reports differ by their text.
  if (!keep_duplicates_ &&
      !seen_.emplace(kind, range.file, range.begin, range.end, range.valid() ? "" : d.message)
           .second) {
    ++(sev == Severity::Error ? suppressed_errors_ : suppressed_warnings_);
    return Drop(std::move(d));
  }
  // A missing command-line argument leaves a placeholder that fits an expression but not
  // a probe point; what the parser then says of that place follows from the first error.
  Key place{Diag::ArgOutOfRange, range.file, range.begin, range.end, ""};
  if (kind == Diag::ArgOutOfRange) {
    missing_args_.insert(place);
  } else if (sev == Severity::Error && range.valid() && missing_args_.count(place)) {
    return Drop(std::move(d));
  }
  if (sev == Severity::Error) ++errors_;
  if (sev == Severity::Warning) ++warnings_;
  last_dropped_ = false;
  diags_.push_back(std::move(d));
  return diags_.back();
}

void DiagnosticSink::Note(Diag kind, SourceRange range,
                          std::initializer_list<std::string_view> args) {
  if (diags_.empty() || last_dropped_) return;
  diags_.back().notes.push_back({kind, Severity::Note, range, FormatMessage(kind, args), {}});
}

constexpr uint32_t kMaxShownColumns = 160;

void RenderDiagnostic(const SourceManager& sm, const Diagnostic& d, std::ostream& out) {
  if (!d.range.valid() || d.range.file >= sm.size()) {
    out << "btap: " << SeverityWord(d.severity) << ": " << d.message << '\n';
  } else {
    const SourceFile& f = sm.file(d.range.file);
    LineColumn lc = f.Locate(d.range.begin);
    out << f.name() << ':' << lc.line << ':' << lc.column << ": " << SeverityWord(d.severity)
        << ": " << d.message << '\n';
    std::string_view line = f.LineAt(d.range.begin);
    uint32_t line_start = d.range.begin - (lc.column - 1);
    uint32_t caret = lc.column - 1;  // offset of the caret within the line
    uint32_t stop = d.range.end - line_start;
    if (stop > line.size()) stop = static_cast<uint32_t>(line.size());
    // Very long lines are shown as a window around the caret.
    std::string prefix;
    if (line.size() > kMaxShownColumns) {
      uint32_t from = caret > kMaxShownColumns / 2 ? caret - kMaxShownColumns / 2 : 0;
      line = line.substr(from, kMaxShownColumns);
      caret -= from;
      stop = stop - from > line.size() ? static_cast<uint32_t>(line.size()) : stop - from;
      if (from) prefix = "...";
    }
    out << prefix << line << (line.size() == kMaxShownColumns ? "..." : "") << '\n';
    std::string marker(prefix.size(), ' ');
    for (uint32_t i = 0; i < caret && i < line.size(); ++i) marker += line[i] == '\t' ? '\t' : ' ';
    marker += '^';
    for (uint32_t i = caret + 1; i < stop; ++i) marker += '~';
    out << marker << '\n';
  }
  for (const Diagnostic& n : d.notes) RenderDiagnostic(sm, n, out);
}

void RenderDiagnostics(const SourceManager& sm, const DiagnosticSink& sink, std::ostream& out) {
  RenderedMark from;
  RenderDiagnosticsSince(sm, sink, &from, out);
}

void RenderDiagnosticsSince(const SourceManager& sm, const DiagnosticSink& sink, RenderedMark* mark,
                            std::ostream& out) {
  const std::vector<Diagnostic>& all = sink.diagnostics();
  for (size_t i = mark->diagnostics; i < all.size(); ++i) RenderDiagnostic(sm, all[i], out);
  size_t errors = sink.suppressed_errors() - mark->suppressed_errors;
  size_t warnings = sink.suppressed_warnings() - mark->suppressed_warnings;
  // stap's own lines, word for word.
  if (errors) out << "Number of similar error messages suppressed: " << errors << ".\n";
  if (warnings) out << "Number of similar warning messages suppressed: " << warnings << ".\n";
  if (errors || warnings) out << "Rerun with -v to see them.\n";
  *mark = {all.size(), sink.suppressed_errors(), sink.suppressed_warnings()};
}

std::string RenderDiagnostics(const SourceManager& sm, const DiagnosticSink& sink) {
  std::ostringstream out;
  RenderDiagnostics(sm, sink, out);
  return out.str();
}

}  // namespace btap
