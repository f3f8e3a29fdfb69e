// User-space probe points of the process family: functions, statements and SDT marks
// of a program or its libraries (user_probes.cpp).
#pragma once

#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "semantic/machine/debuginfo.h"
#include "semantic/probe_family.h"

namespace btap::sema {

// A function pattern, as stap spells it for user and kernel functions alike:
// NAME[@FILE[:LINE|:FIRST-LAST|:*]], NAME and FILE globs.
struct FunctionPattern {
  std::string name = "*";
  std::string file;  // empty: any
  int line_lo = 0, line_hi = 0;
  bool relative = false;   // FUNC@FILE+N: lines counted from the function's declaration
  bool all_lines = false;  // FUNC@FILE:*: every line with code in the function
  // The first and last line in function `f`, declared at `declared`.
  int first(int declared) const { return relative ? declared + line_lo : line_lo; }
  int last(int declared) const { return relative ? declared + line_hi : line_hi; }
  // The lines a statement probe of function `f` (declared at `declared`, in `file`) takes,
  // of `with_code`, the lines with code in it: for `:*`, those from
  // the declaration on, else the range.
  std::vector<int> Lines(int declared, const std::vector<int>& with_code) const;
  // The file whose lines those are: the function's own for `:*`, else the pattern's.
  const std::string& LineFile(const std::string& declared_in) const {
    return all_lines || file.empty() ? declared_in : file;
  }
};
// False with `error` for a bad line or line range.
bool ParsePattern(std::string_view text, FunctionPattern* out, std::string* error);

// `.label("PATTERN")` of user and kernel functions alike: the labels a pattern matches,
// the probe's name and why nothing matched.
class LabelSearch {
 public:
  explicit LabelSearch(std::string pattern) : pattern_(std::move(pattern)) {}
  // Why function pattern `function` cannot take a label (a line part), else "".
  static std::string BadFunction(const FunctionPattern& pat, std::string_view function);
  // The labels of `f` that the pattern matches (each label's name is kept for a suggestion).
  std::vector<DebugLabel> In(DebugInfo& d, const DebugFunction& f);
  // `PREFIX.function("NAME@FILE:LINE").label("LABEL")`, as stap names the probe.
  static std::string Point(std::string_view prefix, const DebugFunction& f, std::string_view label);
  // Why no label matched in the functions `function` matches in `where` (a file).
  std::string NoMatch(std::string_view function, std::string_view where) const;

 private:
  std::string pattern_;
  std::set<std::string> seen_;
  std::vector<std::string_view> names_;  // of seen_, in the order found
};

// `parts` fit one of the process(...) function/statement/mark patterns.
void ResolveUserProbe(std::span<const PointPart> parts, ResolveContext& ctx,
                      std::vector<ProbeSpec>& out);

// process("PATH").begin/.end/.syscall: the program PATH names, found as stap finds it
// (a name without `/` on $PATH, then in the current directory), as an absolute path:
// those probes match the processes that run that file (codegen compares its inode with
// the one the runtime finds at that path when it loads the object). "" after a located
// error when there is no such file (none in -l/-L, which list the point as written).
std::string ResolveProcessPath(const PointPart& proc, ResolveContext& ctx);

// The `process(...)` part of a point: a path must not be empty, a process id must be one
// (1 to INT32_MAX); false after a located error.
bool ValidProcessPart(const PointPart& proc, ResolveContext& ctx);

}  // namespace btap::sema
