// The global pragmas of embedded C (see embedded_pragmas.h).
#include "semantic/embedded_pragmas.h"

#include <cctype>

namespace btap::sema {

std::vector<GlobalPragma> GlobalPragmas(std::string_view code) {
  std::vector<GlobalPragma> found;
  for (std::string_view kind : {"pragma:read:", "pragma:write:"})
    for (size_t at = code.find(kind); at != std::string_view::npos; at = code.find(kind, at + 1)) {
      size_t begin = at + kind.size(), end = begin;
      while (end < code.size() &&
             (std::isalnum(static_cast<unsigned char>(code[end])) || code[end] == '_'))
        ++end;
      if (end > begin)
        found.push_back({at, std::string(code.substr(begin, end - begin)), kind[7] == 'w'});
    }
  return found;
}

}  // namespace btap::sema
