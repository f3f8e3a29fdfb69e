// /proc/kallsyms: the running kernel's symbols, read once on first use. The runtime finds
// every copy of a function name there (static functions of several files share one) to
// probe each by address. Addresses read as 0 without root (kptr_restrict).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace btap {

// The addresses of the text symbols named `name` (vmlinux's; `MODULE:name` for a
// module's), in the file's order; empty when there is none or the addresses are hidden.
std::vector<uint64_t> KernelTextAddresses(std::string_view name);

// The address of vmlinux's symbol `name` of any kind (a variable too), read from
// /proc/kallsyms at each call; 0 when there is none or the addresses are hidden.
uint64_t KernelSymbolAddress(std::string_view name);

// Whether vmlinux or a module exports `name` (EXPORT_SYMBOL*: a `__ksymtab_NAME` symbol).
bool KernelExports(std::string_view name);
// Whether kallsyms lists exports at all (`__ksymtab_` symbols need CONFIG_KALLSYMS_ALL).
bool KernelListsExports();

// The index behind it, from kallsyms text in `path`'s format (for tests).
class KallsymsIndex {
 public:
  explicit KallsymsIndex(const char* path);
  std::vector<uint64_t> Text(std::string_view name) const;
  bool Exported(std::string_view name) const;
  bool ListsExports() const { return !exported_.empty(); }

 private:
  std::vector<std::pair<std::string, uint64_t>> text_;  // sorted by name, then file order
  std::vector<std::string> exported_;                   // sorted
};

}  // namespace btap
