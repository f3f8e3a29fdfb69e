// Listing probe points (`-l PATTERN`, and `-L` with their variables), as stap does:
// each match resolved, one per line, sorted and unique.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "semantic/elaborate.h"

namespace btap::sema {

// Resolves `pattern` in listing mode and returns the lines to print (empty when
// nothing matches). Syntax errors in the pattern are reported to the input's sink.
std::vector<std::string> ListProbePoints(std::string_view pattern, bool with_variables,
                                         const frontend::PPConfig& pp, ElaborateInput input);

}  // namespace btap::sema
