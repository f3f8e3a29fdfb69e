// python2/python3 probes: `pythonN.module("M").function("F[@FILE][:LINES|+LINES]")`, with
// `.call` or `.return`. HelperSDT (python/) reports each call, return and line of the
// interpreter at an SDT mark of its library, with the module, function, file and line as
// the mark's operands; a python point is that mark plus a prologue that keeps only the
// events its patterns match.
#include "semantic/probes/python.h"

namespace btap::sema {
namespace {

// A glob (`*`, `?`) as an anchored-free regex body.
std::string GlobRegex(std::string_view glob) {
  std::string out;
  for (char c : glob) {
    if (c == '*')
      out += ".*";
    else if (c == '?')
      out += ".";
    else if (std::string_view("\\.^$|()[]{}+").find(c) != std::string_view::npos)
      out += std::string("\\\\") + c;  // escaped once for the regex, once for the literal
    else if (c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

// One number of a line list, or -1.
int64_t LineNumber(std::string_view s) {
  if (s.empty() || s.size() > 9) return -1;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// `N`, `X-Y` and lists of them joined by commas, as a condition on `line`; "" for `*`.
bool LineCondition(std::string_view spec, std::string_view line, std::string* out) {
  if (spec == "*") return true;
  std::string cond;
  while (true) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    size_t dash = item.find('-');
    std::string one;
    if (dash == std::string_view::npos) {
      int64_t n = LineNumber(item);
      if (n < 0) return false;
      one = std::string(line) + " == " + std::to_string(n);
    } else {
      int64_t lo = LineNumber(item.substr(0, dash)), hi = LineNumber(item.substr(dash + 1));
      if (lo < 0 || hi < lo) return false;
      one = "(" + std::string(line) + " >= " + std::to_string(lo) + " && " + std::string(line) +
            " <= " + std::to_string(hi) + ")";
    }
    cond += (cond.empty() ? "" : " || ") + one;
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  *out = cond;
  return true;
}

std::string Filter(std::string_view arg, std::string_view regex) {
  return "  if (!(user_string(" + std::string(arg) + ") =~ \"" + std::string(regex) + "\")) next\n";
}

}  // namespace

bool ParsePythonPoint(std::span<const PointPart> parts, DiagnosticSink& diags, PythonPoint* out) {
  if (parts.empty() || (parts[0].name != "python2" && parts[0].name != "python3")) return false;
  out->version = 0;
  auto fail = [&](const PointPart& at, std::string message) {
    diags.Report(Diag::ProbeParameter, at.range, {std::move(message)});
    return true;
  };
  const PointPart& lang = parts[0];
  bool shape = parts.size() >= 3 && parts.size() <= 4 && lang.arg == ArgKind::None &&
               parts[1].name == "module" && parts[1].arg == ArgKind::String &&
               parts[2].name == "function" && parts[2].arg == ArgKind::String &&
               (parts.size() == 3 || ((parts[3].name == "call" || parts[3].name == "return") &&
                                      parts[3].arg == ArgKind::None));
  if (!shape)
    return fail(parts.back(), "python probes are " + lang.name +
                                  ".module(\"MODULE\").function(\"PATTERN\") with `.call` or "
                                  "`.return` after it");
  const PointPart& module = parts[1];
  const PointPart& function = parts[2];
  bool is_return = parts.size() == 4 && parts[3].name == "return";
  if (module.string.empty()) return fail(module, "expected a module name or pattern");
  // PATTERN: FUNCTION[@FILE][:LINES|+LINES]
  std::string_view pattern = function.string;
  std::string_view name = pattern, file, lines;
  char line_kind = 0;
  size_t at = pattern.find('@');
  size_t mark = pattern.find_first_of(":+");
  // A file's name may hold `+`: after `@`, the lines start at the last `:` or `+`, a `+`
  // that no lines follow being the file's (the search goes on before it).
  if (at != std::string_view::npos) {
    std::string unused;
    for (mark = pattern.find_last_of(":+"); mark != std::string_view::npos && mark > at;
         mark = pattern.find_last_of(":+", mark - 1)) {
      std::string_view after = pattern.substr(mark + 1);
      if (pattern[mark] == ':' ||
          (!after.empty() && after != "*" && LineCondition(after, "", &unused)))
        break;
    }
    if (mark != std::string_view::npos && mark < at) mark = std::string_view::npos;
  }
  if (mark != std::string_view::npos) {
    line_kind = pattern[mark];
    lines = pattern.substr(mark + 1);
    name = pattern.substr(0, mark);
  }
  if (at != std::string_view::npos) {
    file = name.substr(at + 1);
    name = name.substr(0, at);
    if (file.empty())
      return fail(function, "expected a file name after `@` in `" + std::string(pattern) + "`");
  }
  if (name.empty())
    return fail(function, "expected a function name or pattern in `" + std::string(pattern) + "`");
  std::string line_cond;
  if (line_kind) {
    std::string_view line_arg = line_kind == ':' ? "$arg5" : "($arg5 - $arg6)";
    if (lines.empty() || (line_kind == '+' && lines == "*") ||
        !LineCondition(lines, line_arg, &line_cond))
      return fail(function, "bad line number `" + std::string(lines) + "` in `" +
                                std::string(pattern) +
                                "`: expected N, X-Y, a comma-separated list of them, or `*` "
                                "after `:`");
    if (is_return) return fail(parts[3], "a line of a python function has no `.return`");
  }
  out->version = lang.name == "python2" ? 2 : 3;
  std::string event = line_kind ? "line" : is_return ? "return" : "call";
  std::string prologue = "probe __python {\n";
  if (module.string != "*") prologue += Filter("$arg2", "^" + GlobRegex(module.string) + "$");
  if (name != "*") prologue += Filter("$arg3", "^" + GlobRegex(name) + "$");
  if (!file.empty() && file != "*") prologue += Filter("$arg4", "(^|/)" + GlobRegex(file) + "$");
  if (!line_cond.empty()) prologue += "  if (!(" + line_cond + ")) next\n";
  prologue += "}\n";
  out->prologue = std::move(prologue);
  // (One glob a line for the tracer: a glob with a line break of its own, which a file's
  // name may have, matches everything there, never less than the filter above.)
  auto line = [](std::string_view glob) {
    return glob.find('\n') == std::string_view::npos ? std::string(glob) : std::string("*");
  };
  out->filter = line(module.string) + "\n" + line(name) + "\n" + line(file);
  auto part = [&](std::string n, std::string arg) {
    PointPart p;
    p.name = std::move(n);
    p.arg = ArgKind::String;
    p.string = std::move(arg);
    p.range = function.range;
    return p;
  };
  out->target = {part("process", ""), part("provider", "btap_python"),
                 part("mark", "python" + std::to_string(out->version) + "_" + event)};
  return true;
}

}  // namespace btap::sema
