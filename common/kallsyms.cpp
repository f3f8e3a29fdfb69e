// Reading /proc/kallsyms (see kallsyms.h).
#include "common/kallsyms.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

namespace btap {

KallsymsIndex::KallsymsIndex(const char* path) {
  std::ifstream in(path);
  std::string line;
  // "ffffffff81000000 T _stext", then " [module]" for a module's symbols.
  while (std::getline(in, line)) {
    size_t type_at = line.find(' ');
    if (type_at == std::string::npos || type_at + 3 > line.size()) continue;
    char type = line[type_at + 1];
    std::string name = line.substr(type_at + 3);
    std::string module;
    if (size_t end = name.find_first_of(" \t"); end != std::string::npos) {
      size_t open = name.find('[', end), close = name.find(']', end);
      if (open != std::string::npos && close != std::string::npos && close > open)
        module = name.substr(open + 1, close - open - 1);
      name.resize(end);
    }
    if (name.rfind("__ksymtab_", 0) == 0) {
      exported_.push_back(name.substr(10));
      continue;
    }
    if (type != 't' && type != 'T') continue;
    if (!module.empty()) name = module + ":" + name;  // as kprobes name a module's
    uint64_t address = std::strtoull(line.c_str(), nullptr, 16);
    if (address) text_.emplace_back(std::move(name), address);
  }
  std::stable_sort(text_.begin(), text_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::sort(exported_.begin(), exported_.end());
}

bool KallsymsIndex::Exported(std::string_view name) const {
  return std::binary_search(exported_.begin(), exported_.end(), name);
}

std::vector<uint64_t> KallsymsIndex::Text(std::string_view name) const {
  auto it = std::lower_bound(text_.begin(), text_.end(), name,
                             [](const auto& s, std::string_view n) { return s.first < n; });
  std::vector<uint64_t> out;
  for (; it != text_.end() && it->first == name; ++it) out.push_back(it->second);
  return out;
}

namespace {
const KallsymsIndex& Running() {
  static const KallsymsIndex index("/proc/kallsyms");
  return index;
}
}  // namespace

std::vector<uint64_t> KernelTextAddresses(std::string_view name) { return Running().Text(name); }

uint64_t KernelSymbolAddress(std::string_view name) {
  std::ifstream in("/proc/kallsyms");
  std::string line;
  while (std::getline(in, line)) {
    // "ADDRESS T NAME" (a module's symbols end with " [module]": not vmlinux's).
    size_t type_at = line.find(' ');
    if (type_at == std::string::npos || type_at + 3 > line.size()) continue;
    std::string_view rest = std::string_view(line).substr(type_at + 3);
    if (rest != name) continue;
    return std::strtoull(line.c_str(), nullptr, 16);
  }
  return 0;
}

bool KernelExports(std::string_view name) { return Running().Exported(name); }

bool KernelListsExports() { return Running().ListsExports(); }

}  // namespace btap
