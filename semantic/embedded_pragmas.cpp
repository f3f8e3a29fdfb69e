// The global pragmas of embedded C (see embedded_pragmas.h).
#include "semantic/embedded_pragmas.h"

#include <cctype>
#include <utility>

namespace btap::sema {

std::vector<GlobalPragma> GlobalPragmas(std::string_view code) {
  std::vector<GlobalPragma> found;
  constexpr std::pair<std::string_view, bool> kKinds[] = {{"pragma:read:", false},
                                                          {"pragma:write:", true}};
  for (const auto& [kind, write] : kKinds)
    for (size_t at = code.find(kind); at != std::string_view::npos; at = code.find(kind, at + 1)) {
      size_t begin = at + kind.size(), end = begin;
      while (end < code.size() &&
             (std::isalnum(static_cast<unsigned char>(code[end])) || code[end] == '_'))
        ++end;
      if (end > begin) found.push_back({at, std::string(code.substr(begin, end - begin)), write});
    }
  return found;
}

Variable* PragmaGlobal(const std::vector<Variable*>& globals, std::string_view name) {
  Variable* global = nullptr;
  for (Variable* g : globals)
    if (g->name == name && (!global || global->from_tapset)) global = g;
  return global;
}

}  // namespace btap::sema
