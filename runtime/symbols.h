// Symbols for the symbolic printf directives (symname, symdata, backtraces, and their
// user-space kin): kernel symbols from /proc/kallsyms, read once when a record first needs
// them; user symbols from the objects a process maps (process_symbols.h); and stap's
// address formats over either.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/printf_format.h"

namespace btap::runtime {

// What is known of one address: the symbol that holds it and its module, or only the
// module (then `offset` and `size` are the module's).
struct SymbolHit {
  std::string_view name;    // empty: no symbol
  std::string_view module;  // empty: no module
  uint64_t offset = 0;
  uint64_t size = 0;
};

class SymbolSource {
 public:
  virtual ~SymbolSource() = default;
  // False when nothing is known of `address`.
  virtual bool Lookup(uint64_t address, SymbolHit* hit) const = 0;
  // The source file and line of `address`, where DWARF says (empty and 0 otherwise).
  virtual void SourceLine(uint64_t address, std::string* file, uint64_t* line) const {
    (void)address, (void)file, (void)line;
  }
};

class KernelSymbols : public SymbolSource {
 public:
  // Parses kallsyms text ("address type name [module]" lines); absolute and per-CPU
  // symbols are left out, as they name no code. /proc/modules text ("name size refs deps
  // state address" lines) says where each module ends, which sizes its last symbol.
  void Parse(std::string_view text, std::string_view modules = "");
  // A symbol's size reaches the next symbol, as the kernel's own lookup measures it; the
  // module of vmlinux is "kernel".
  bool Lookup(uint64_t address, SymbolHit* hit) const override;
  // From the kernel's DWARF (vmlinux and modules with debuginfo), when it is installed.
  void SourceLine(uint64_t address, std::string* file, uint64_t* line) const override;
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
// The user modes look up `source` as well: it is the process's.
std::string Symbolize(const SymbolSource& source, Symbolic mode, std::string_view addresses);

// The text of a symbolic directive in a record: kernel modes over the running kernel's
// symbols, user modes over those of process `pid` (hex addresses when `pid` is 0 or
// its objects cannot be read).
std::string Symbolize(Symbolic mode, std::string_view addresses, int pid);

// `text` with each symbolic text a kernel probe kept as a value (codegen's
// btap_symbol_tag: "\2", 'A' + mode, the process, ':', hex addresses, "\3") made; a
// tag cut by the string length loses its last, partial, address. The result is cut to
// `limit` - 1 bytes (no cut when 0), as the string the kernel would have made.
std::string ExpandSymbolTags(std::string_view text, size_t limit);

}  // namespace btap::runtime
