// Header lists of `@cast` modules, and their types' DWARF compiled once (header_types.h).
#include "semantic/machine/header_types.h"

#include <cctype>

namespace btap::sema {

bool HeaderList(std::string_view part, std::vector<std::string>* headers, std::string* error) {
  std::string_view rest = part;
  if (rest.starts_with("kernel")) rest.remove_prefix(6);
  headers->clear();
  while (!rest.empty()) {
    size_t close = rest.find('>');
    if (rest[0] != '<' || close == std::string_view::npos) {
      *error = "`" + std::string(part) + "` is not a list of headers such as `<sys/time.h>`";
      return false;
    }
    std::string_view name = rest.substr(1, close - 1);
    bool good = !name.empty();
    for (char c : name)
      good = good && (std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' ||
                      c == '.' || c == '+' || c == '-');
    if (!good) {
      *error = "malformed header name `" + std::string(name) +
               "`: a header is named with letters, digits and `/_.+-`";
      return false;
    }
    headers->emplace_back(name);
    rest.remove_prefix(close + 1);
  }
  if (headers->empty()) {
    *error = "`" + std::string(part) + "` names no header";
    return false;
  }
  return true;
}

DebugInfo* HeaderTypes::Get(const std::vector<std::string>& headers, std::string* error) {
  auto [it, added] = compiled_.try_emplace(headers);
  Entry& e = it->second;
  if (added) {
    std::string path = compiler_ ? compiler_(headers, &e.error) : "";
    if (!compiler_) e.error = "no C compiler is at hand to read headers here";
    if (!path.empty()) e.dwarf = DebugInfo::OpenRelocatable(path, &e.error);
  }
  if (!e.dwarf) *error = e.error;
  return e.dwarf.get();
}

}  // namespace btap::sema
