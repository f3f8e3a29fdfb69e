// What elaboration reads in embedded C: the globals its `/* pragma:read:NAME */` and
// `/* pragma:write:NAME */` comments name (man stap, EMBEDDED C). Those globals are the
// C's to use through STAP_GLOBAL_GET_/SET_, so they are kept even when the script's own
// code never touches them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "semantic/program.h"

namespace btap::sema {

struct GlobalPragma {
  size_t offset = 0;  // of `pragma:` in the code
  std::string name;
  bool write = false;
};

// The pragmas in `code`, in order of kind (reads, then writes) and position.
std::vector<GlobalPragma> GlobalPragmas(std::string_view code);

// The global a pragma's `name` binds to: the script's own before a tapset's of that name;
// null when there is none.
Variable* PragmaGlobal(const std::vector<Variable*>& globals, std::string_view name);

}  // namespace btap::sema
