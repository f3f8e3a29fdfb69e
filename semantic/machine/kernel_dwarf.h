// The kernel's DWARF (a -dbg vmlinux), found where stap looks and opened only when a probe
// or a listing needs it. A vmlinux carries hundreds of megabytes of DWARF, so nothing here
// indexes it whole: a function goes from its symbol's address to its unit through
// .debug_aranges, and file patterns look at the units' names only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "semantic/machine/debuginfo.h"
#include "semantic/machine/elf_image.h"
#include "semantic/machine/kernel_image.h"

namespace btap::sema {

// Where the DWARF of `target` may be, in the order stap looks: for a release the debug
// packages' paths and the build tree, then the build-id path when `build_id` is known; for
// `-r DIR` the vmlinux in DIR.
std::vector<std::string> KernelDwarfCandidates(const TargetKernel& target,
                                               const std::string& build_id);

// Where the DWARF of module `module` of `target` may be: the debug packages' tree, the
// build-id path of a loaded module's, the modules directory (unstripped .ko files); for
// `-r DIR` the .ko files under DIR.
std::vector<std::string> ModuleDwarfCandidates(const TargetKernel& target,
                                               const std::string& module);

// The .ko files named `module` (dashes and underscores alike) under `dir`, links not
// followed (kernel_modules.cpp).
std::vector<std::string> ModuleFilesNamed(const std::string& dir, const std::string& module);

// The DWARF of the kernel (vmlinux) or, with `module`, of one of its modules (a relocatable
// .ko, whose addresses are libdwfl's layout from 0: probes name its functions, never its
// addresses).
class KernelDwarf {
 public:
  explicit KernelDwarf(TargetKernel target, std::string module = "")
      : target_(std::move(target)), module_(std::move(module)) {}
  const std::string& module() const { return module_; }

  // The DWARF, looked for on first use; null when there is none, with error() naming
  // the places looked at.
  DebugInfo* dwarf();
  const std::string& error() {
    dwarf();
    return error_;
  }
  // What the search passed over and why (a build id that is not the kernel's), for -v.
  const std::vector<std::string>& notes() const { return notes_; }

  // The out-of-line functions named `name`: one per copy (static functions of several
  // files; the compiler's clones, `name.isra.0`), found from the symbol table through
  // their units.
  std::vector<DebugFunction> Named(std::string_view name);
  // The functions (inlined instances with `inlined`, else out-of-line ones) whose names
  // match `name` in units whose source file matches `file` (a glob; "" for any).
  std::vector<DebugFunction> Matching(std::string_view name, std::string_view file, bool inlined);
  // The indexed function whose DIE is `die`.
  std::optional<DebugFunction> ByDie(Dwarf_Off die);
  // The symbol address of the out-of-line function `f` runs in, and its name.
  bool Frame(const DebugFunction& f, std::string* name, uint64_t* address);
  // The link-time addresses of vmlinux's function symbols named `symbol`, in address
  // order (a module's: the DWARF functions of that name).
  std::vector<uint64_t> SymbolCopies(std::string_view symbol);
  // Whether a link-time address is vmlinux's init code (_sinittext to _einittext), or a
  // module's init or exit code.
  bool InitText(uint64_t address);
  // A symbol's link-time address in the vmlinux the DWARF is from.
  std::optional<uint64_t> LinkAddress(std::string_view symbol);

 private:
  const std::vector<DebugFunction>& UnitFunctions(Dwarf_Die* cu);

  DebugInfo* OpenModule();
  // The first of vmlinux's function symbols, sorted by name, not before `name`.
  std::vector<const ElfSymbol*>::const_iterator FirstNamed(std::string_view name);

  TargetKernel target_;
  std::string module_;
  bool tried_ = false;
  std::unique_ptr<ElfImage> elf_;
  std::unique_ptr<DebugInfo> dwarf_;
  std::string error_;
  std::vector<std::string> notes_;
  std::map<Dwarf_Off, std::vector<DebugFunction>> units_;
  std::vector<const ElfSymbol*> by_name_;  // vmlinux's function symbols by name
};

}  // namespace btap::sema
