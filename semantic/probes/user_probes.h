// User-space probe points of the process family: functions, statements and SDT marks
// of a program or its libraries (user_probes.cpp).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "semantic/probe_family.h"

namespace btap::sema {

// A function pattern, as stap spells it for user and kernel functions alike:
// NAME[@FILE[:LINE|:FIRST-LAST|:*]], NAME and FILE globs.
struct FunctionPattern {
  std::string name = "*";
  std::string file;  // empty: any
  int line_lo = 0, line_hi = 0;
  bool relative = false;  // FUNC@FILE+N: lines counted from the function's declaration
  // The first and last line in function `f`, declared at `declared`.
  int first(int declared) const { return relative ? declared + line_lo : line_lo; }
  int last(int declared) const { return relative ? declared + line_hi : line_hi; }
};
// False with `error` for a bad line or line range.
bool ParsePattern(std::string_view text, FunctionPattern* out, std::string* error);

// `parts` fit one of the process(...) function/statement/mark patterns.
void ResolveUserProbe(std::span<const PointPart> parts, ResolveContext& ctx,
                      std::vector<ProbeSpec>& out);

}  // namespace btap::sema
