// --dump-functions, --dump-probe-aliases and --dump-probe-types: what the tapset library
// and the probe families offer, one line each in stap's format, sorted.
#pragma once

#include <string>
#include <vector>

#include "semantic/tapsets.h"

namespace btap::sema {

class Machine;

// `name:type (arg:type, ...)` for each public function (`unknown` where no type is given);
// names starting with `_` only when `all`.
std::vector<std::string> DumpFunctions(TapsetLibrary& library, bool all);

// `name = point, ...` (`+=` for an epilogue alias) for each alias, the syscall tapset's
// included when this kernel's system calls can be read; names starting with `_` only when
// `all`.
std::vector<std::string> DumpProbeAliases(TapsetLibrary& library, Machine& machine,
                                          DiagnosticSink& diags, bool all);

// Every probe point pattern the families resolve (`kernel.function(string).return`).
std::vector<std::string> DumpProbeTypes();

}  // namespace btap::sema
