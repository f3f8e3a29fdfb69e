// Process symbols and kernel source lines through libdwfl (see dwarf_symbols.h).
#include "runtime/dwarf_symbols.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <chrono>
#include <cstdio>
#include <list>
#include <memory>

namespace btap::runtime {
namespace {

// No symbols: every address prints as hex.
class NoSymbols final : public SymbolSource {
 public:
  bool Lookup(uint64_t, SymbolHit*) const override { return false; }
};

// The line table's file and line of `address` in `m`. Without .debug_aranges (clang
// writes none) libdwfl finds no unit for an address, so each unit's ranges are asked.
void LineOf(Dwfl_Module* m, uint64_t address, std::string* file, uint64_t* line) {
  if (!m) return;
  Dwfl_Line* at = dwfl_module_getsrc(m, address);
  const char* name = nullptr;
  int number = 0;
  if (at) {
    name = dwfl_lineinfo(at, nullptr, &number, nullptr, nullptr, nullptr);
  } else {
    Dwarf_Addr bias = 0;
    for (Dwarf_Die* cu = nullptr; (cu = dwfl_module_nextcu(m, cu, &bias)) != nullptr;) {
      if (dwarf_haspc(cu, address - bias) <= 0) continue;
      if (Dwarf_Line* l = dwarf_getsrc_die(cu, address - bias)) {
        name = dwarf_linesrc(l, nullptr, nullptr);
        dwarf_lineno(l, &number);
      }
      break;
    }
  }
  if (name) *file = name;
  if (number > 0) *line = static_cast<uint64_t>(number);
}

const Dwfl_Callbacks kProcessCallbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = nullptr,
    .debuginfo_path = nullptr,
};

class ProcessSymbols final : public SymbolSource {
 public:
  explicit ProcessSymbols(int pid) : pid_(pid), dwfl_(dwfl_begin(&kProcessCallbacks)) { Report(); }
  ~ProcessSymbols() override {
    if (dwfl_) dwfl_end(dwfl_);
  }
  ProcessSymbols(const ProcessSymbols&) = delete;
  ProcessSymbols& operator=(const ProcessSymbols&) = delete;

  int pid() const { return pid_; }

  // Marks what the constructor read as read before any probe ran (see Prime).
  void KeepEarly() { kept_early_ = true; }

  // Reads the mappings again unless just read (by a Prime or a lookup; `always`, or after
  // a read before any probe ran, even then), and opens every object they name: for a
  // process that may be gone when its addresses are symbolized.
  void Prime(bool always = false) {
    if (!dwfl_) return;
    if (always || kept_early_ ||
        std::chrono::steady_clock::now() - reported_ > std::chrono::milliseconds(100))
      Report();
    kept_early_ = false;
    dwfl_getmodules(
        dwfl_,
        [](Dwfl_Module* m, void**, const char*, Dwarf_Addr, void*) {
          Dwarf_Addr bias = 0;
          dwfl_module_getelf(m, &bias);
          return static_cast<int>(DWARF_CB_OK);
        },
        nullptr, 0);
  }

  bool Lookup(uint64_t address, SymbolHit* hit) const override {
    Dwfl_Module* m = ModuleAt(address);
    if (!m) return false;
    Dwarf_Addr start = 0, end = 0;
    const char* module =
        dwfl_module_info(m, nullptr, &start, &end, nullptr, nullptr, nullptr, nullptr);
    hit->module = module ? module : "";
    GElf_Off offset = 0;
    GElf_Sym symbol{};
    const char* name =
        dwfl_module_addrinfo(m, address, &offset, &symbol, nullptr, nullptr, nullptr);
    if (name && *name) {
      hit->name = name;
      hit->offset = offset;
      hit->size = symbol.st_size;
    } else {
      hit->offset = address - start;
      hit->size = end - start;
    }
    return true;
  }

  void SourceLine(uint64_t address, std::string* file, uint64_t* line) const override {
    LineOf(ModuleAt(address), address, file, line);
  }

 private:
  // The process's mappings, read again (at most every 100 ms) when an address is in
  // none of the objects known: a library loaded since, or a new program after exec.
  // A process that has exited has no mappings left: what was read while it ran stays
  // (reading again would drop every object known).
  void Report() const {
    if (!dwfl_) return;
    reported_ = std::chrono::steady_clock::now();
    if (!HasMappings()) return;
    dwfl_report_begin(dwfl_);
    dwfl_linux_proc_report(dwfl_, pid_);
    dwfl_report_end(dwfl_, nullptr, nullptr);
  }

  bool HasMappings() const {
    std::FILE* maps = std::fopen(("/proc/" + std::to_string(pid_) + "/maps").c_str(), "r");
    if (!maps) return false;
    bool any = std::fgetc(maps) != EOF;
    std::fclose(maps);
    return any;
  }

  Dwfl_Module* ModuleAt(uint64_t address) const {
    if (!dwfl_) return nullptr;
    Dwfl_Module* m = dwfl_addrmodule(dwfl_, address);
    if (!m && std::chrono::steady_clock::now() - reported_ > std::chrono::milliseconds(100)) {
      Report();
      m = dwfl_addrmodule(dwfl_, address);
    }
    return m;
  }

  int pid_;
  Dwfl* dwfl_;
  mutable std::chrono::steady_clock::time_point reported_;
  bool kept_early_ = false;
};

// The processes seen last, the latest first.
constexpr size_t kProcessesKept = 64;

// The kept entry for `pid` (made now when there is none), moved to the front.
ProcessSymbols& KeptProcess(int pid) {
  static std::list<std::unique_ptr<ProcessSymbols>> kept;
  for (auto it = kept.begin(); it != kept.end(); ++it) {
    if ((*it)->pid() != pid) continue;
    kept.splice(kept.begin(), kept, it);
    return *kept.front();
  }
  kept.push_front(std::make_unique<ProcessSymbols>(pid));
  if (kept.size() > kProcessesKept) kept.pop_back();
  return *kept.front();
}

}  // namespace

const SymbolSource& ProcessSymbolsOf(int pid) {
  static const NoSymbols none;
  if (pid <= 0) return none;
  return KeptProcess(pid);
}

void PrimeProcessSymbols(int pid) {
  if (pid > 0) KeptProcess(pid).Prime();
}

void KeepProcessSymbols(int pid) {
  if (pid <= 0) return;
  ProcessSymbols& p = KeptProcess(pid);
  p.Prime(true);
  p.KeepEarly();
}

void KernelSourceLine(uint64_t address, std::string* file, uint64_t* line) {
  static Dwfl* const kernel = [] {
    static const Dwfl_Callbacks callbacks = {
        .find_elf = dwfl_linux_kernel_find_elf,
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_linux_kernel_module_section_address,
        .debuginfo_path = nullptr,
    };
    Dwfl* d = dwfl_begin(&callbacks);
    if (!d) return d;
    dwfl_report_begin(d);
    dwfl_linux_kernel_report_kernel(d);
    dwfl_linux_kernel_report_modules(d);
    dwfl_report_end(d, nullptr, nullptr);
    return d;
  }();
  LineOf(kernel ? dwfl_addrmodule(kernel, address) : nullptr, address, file, line);
}

}  // namespace btap::runtime
