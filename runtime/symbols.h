// Kernel symbols for the symbolic printf directives (symname, symdata, backtraces): read
// from /proc/kallsyms in user space, once, when a record first needs them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/printf_format.h"

namespace btap::runtime {

class KernelSymbols {
 public:
  struct Hit {
    std::string_view name;
    std::string_view module;  // "kernel" for vmlinux
    uint64_t offset = 0;
    uint64_t size = 0;  // up to the next symbol, as the kernel's own lookup measures it
  };

  // Parses kallsyms text ("address type name [module]" lines); absolute and per-CPU
  // symbols are left out, as they name no code. /proc/modules text ("name size refs deps
  // state address" lines) says where each module ends, which sizes its last symbol.
  void Parse(std::string_view text, std::string_view modules = "");
  bool Lookup(uint64_t address, Hit* hit) const;
  bool empty() const { return symbols_.empty(); }

 private:
  struct Symbol {
    uint64_t address;
    std::string name;
    std::string module;
  };
  std::vector<Symbol> symbols_;  // by address; the first of equal addresses wins
  std::map<std::string, uint64_t, std::less<>> module_ends_;
};

// The running kernel's symbols, read on first use (none when kallsyms cannot be read).
const KernelSymbols& RunningKernelSymbols();

// The text of a symbolic directive: `addresses` is hex addresses separated by spaces.
std::string Symbolize(const KernelSymbols& symbols, Symbolic mode, std::string_view addresses);

}  // namespace btap::runtime
