// The kernel's DWARF (kernel_dwarf.h): found where stap looks, checked against the kernel's
// build id, and read a unit at a time from the symbol table's addresses.
#include "semantic/machine/kernel_dwarf.h"

#include <dwarf.h>
#include <elf.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "common/build_id.h"
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The build id of the kernel a script is compiled for: the running one's from its notes,
// another's from its image ("" when not known).
std::string TargetBuildId(const TargetKernel& target) {
  if (target.running && target.image.empty()) return RunningKernelBuildId();
  if (target.image.empty()) return "";
  std::string error;
  return ImageBuildId(target.image, &error);
}

// A loaded module's build id, from its notes in sysfs ("" when not shown).
std::string LoadedModuleBuildId(const std::string& module) {
  std::ifstream notes("/sys/module/" + module + "/notes/.note.gnu.build-id", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(notes)), std::istreambuf_iterator<char>());
  return BuildIdInNotes(bytes.data(), bytes.size());
}

// Is `symbol` a whole copy the compiler made of function `name`, with other parameters
// (`name.isra.0`, `name.constprop.0.isra.0`)? Parts of a function (`.part.0`, `.cold`)
// are not.
bool IsCloneOf(std::string_view symbol, std::string_view name) {
  if (symbol.size() <= name.size() || !symbol.starts_with(name) || symbol[name.size()] != '.')
    return false;
  std::string_view rest = symbol.substr(name.size());
  while (!rest.empty()) {
    bool known = false;
    for (std::string_view kind : {".isra", ".constprop", ".lto_priv"})
      if (rest.starts_with(kind)) {
        rest.remove_prefix(kind.size());
        known = true;
        break;
      }
    if (!known) return false;
    if (!rest.empty() && rest[0] == '.' && rest.size() > 1 && std::isdigit(rest[1])) {
      rest.remove_prefix(1);
      while (!rest.empty() && std::isdigit(rest[0])) rest.remove_prefix(1);
    }
  }
  return true;
}

bool FileMatches(std::string_view pattern, std::string_view file) {
  return pattern.empty() || GlobMatch(pattern, file) ||
         GlobMatch("*/" + std::string(pattern), file);
}

}  // namespace

std::vector<std::string> KernelDwarfCandidates(const TargetKernel& target,
                                               const std::string& build_id) {
  std::vector<std::string> out;
  if (!target.dir.empty()) {
    out.push_back(target.dir + "/vmlinux");
    return out;
  }
  const std::string& r = target.release;
  out = {"/usr/lib/debug/boot/vmlinux-" + r, "/usr/lib/debug/lib/modules/" + r + "/vmlinux",
         "/lib/modules/" + r + "/build/vmlinux"};
  if (build_id.size() > 2)
    out.push_back("/usr/lib/debug/.build-id/" + build_id.substr(0, 2) + "/" + build_id.substr(2) +
                  ".debug");
  return out;
}

std::vector<std::string> ModuleDwarfCandidates(const TargetKernel& target,
                                               const std::string& module) {
  if (!target.dir.empty()) return ModuleFilesNamed(target.dir, module);
  const std::string& r = target.release;
  std::vector<std::string> out = ModuleFilesNamed("/usr/lib/debug/lib/modules/" + r, module);
  if (target.running) {
    std::string id = LoadedModuleBuildId(module);
    if (id.size() > 2)
      out.push_back("/usr/lib/debug/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug");
  }
  for (std::string& f : ModuleFilesNamed("/lib/modules/" + r, module)) out.push_back(std::move(f));
  return out;
}

DebugInfo* KernelDwarf::OpenModule() {
  std::vector<std::string> candidates = ModuleDwarfCandidates(target_, module_);
  // A loaded module's build id, when the kernel shows it: another build's DWARF would
  // place locals wrongly.
  std::string want = target_.running && target_.dir.empty() ? LoadedModuleBuildId(module_) : "";
  for (const std::string& c : candidates) {
    if (!IsFile(c)) continue;
    std::string error;
    std::unique_ptr<DebugInfo> d = DebugInfo::OpenRelocatable(c, &error);
    if (!d) {
      notes_.push_back("module DWARF: " + error);
      continue;
    }
    if (std::string id = want.empty() ? "" : d->BuildId(); id != want) {
      notes_.push_back("module DWARF: `" + c + "` is not used: its build id " + id +
                       " is not the loaded module's (" + want + ")");
      continue;
    }
    notes_.push_back("module DWARF: using `" + c + "`");
    dwarf_ = std::move(d);
    dwarf_->entry_values = true;  // kernel probes save them at the function's entry
    return dwarf_.get();
  }
  error_ = "btap found no DWARF for module `" + module_ + "` of kernel " + target_.release +
           (candidates.empty()
                ? std::string(" (no `") + module_ + ".ko` with debug information under " +
                      (target_.dir.empty() ? "/usr/lib/debug/lib/modules/" + target_.release +
                                                 " or /lib/modules/" + target_.release
                                           : target_.dir) +
                      ")"
                : " (none of its " + std::to_string(candidates.size()) +
                      " files had usable debug information; -v says why)") +
           "; install its debug symbols, such as Debian's linux-image-" + target_.release + "-dbg";
  return nullptr;
}

DebugInfo* KernelDwarf::dwarf() {
  if (tried_) return dwarf_.get();
  tried_ = true;
  if (!module_.empty()) return OpenModule();
  std::string want = TargetBuildId(target_);
  std::vector<std::string> candidates = KernelDwarfCandidates(target_, want);
  for (const std::string& c : candidates) {
    if (!IsFile(c)) continue;
    std::string error;
    std::unique_ptr<ElfImage> elf = ElfImage::Open(c, &error);
    if (!elf) {
      notes_.push_back("kernel DWARF: cannot read `" + c + "`: " + error);
      continue;
    }
    if (!elf->has_debug_info()) {
      notes_.push_back("kernel DWARF: `" + c + "` has no .debug_info");
      continue;
    }
    if (!want.empty() && elf->build_id() != want) {
      notes_.push_back("kernel DWARF: `" + c + "` is not used: its build id " + elf->build_id() +
                       " is not the kernel's (" + want + ")");
      continue;
    }
    std::unique_ptr<DebugInfo> d = DebugInfo::Open(*elf, &error);
    if (!d) {
      notes_.push_back("kernel DWARF: " + error);
      continue;
    }
    notes_.push_back("kernel DWARF: using `" + c + "`");
    elf_ = std::move(elf);
    dwarf_ = std::move(d);
    dwarf_->entry_values = true;  // kernel probes save them at the function's entry
    return dwarf_.get();
  }
  error_ = "btap found no DWARF for kernel " + target_.release + " (looked for ";
  for (size_t i = 0; i < candidates.size(); ++i) error_ += (i ? ", `" : "`") + candidates[i] + "`";
  error_ += "; install its debug symbols, such as Debian's linux-image-" + target_.release +
            "-dbg, or give -r the directory of a vmlinux built with debug information)";
  return nullptr;
}

const std::vector<DebugFunction>& KernelDwarf::UnitFunctions(Dwarf_Die* cu) {
  std::vector<DebugFunction>& fs = units_[dwarf_dieoffset(cu)];
  if (fs.empty()) fs = dwarf_->UnitFunctions(cu);
  return fs;
}

std::vector<const ElfSymbol*>::const_iterator KernelDwarf::FirstNamed(std::string_view name) {
  if (by_name_.empty()) {
    for (const ElfSymbol& s : elf_->functions()) by_name_.push_back(&s);
    std::sort(by_name_.begin(), by_name_.end(),
              [](const ElfSymbol* a, const ElfSymbol* b) { return a->name < b->name; });
  }
  return std::lower_bound(by_name_.cbegin(), by_name_.cend(), name,
                          [](const ElfSymbol* s, std::string_view n) { return s->name < n; });
}

std::vector<DebugFunction> KernelDwarf::Named(std::string_view name) {
  std::vector<DebugFunction> out;
  if (!dwarf()) return out;
  if (!elf_) {  // a module: a few units, walked whole
    for (Dwarf_Die cu : dwarf_->Units())
      for (const DebugFunction& f : UnitFunctions(&cu))
        if (!f.inlined && f.name == name) out.push_back(f);
    return out;
  }
  // The functions of that name, else the compiler's copies of it (a function the symbol
  // table has only as `name.isra.0`): symbols that start with the name, sorted once.
  auto first = FirstNamed(name);
  for (bool clones : {false, true}) {
    std::set<uint64_t> seen;
    for (auto it = first; it != by_name_.cend() && std::string_view((*it)->name).starts_with(name);
         ++it) {
      const ElfSymbol& s = **it;
      if (!(clones ? IsCloneOf(s.name, name) : s.name == name) || !seen.insert(s.addr).second)
        continue;
      Dwarf_Die cu;
      if (!dwarf_->UnitAt(s.addr, &cu)) continue;
      for (const DebugFunction& f : UnitFunctions(&cu))
        if (!f.inlined && f.entry == s.addr) {
          out.push_back(f);
          break;
        }
    }
    if (!out.empty()) break;
  }
  return out;
}

std::vector<DebugFunction> KernelDwarf::Matching(std::string_view name, std::string_view file,
                                                 bool inlined) {
  std::vector<DebugFunction> out;
  if (!dwarf()) return out;
  std::set<uint64_t> placed;
  for (Dwarf_Die cu : dwarf_->Units()) {
    // A unit is named by its main source file, which declares its out-of-line functions;
    // inline functions come from headers too, so their units are not known by name.
    const char* unit = dwarf_diename(&cu);
    if (!file.empty() && !inlined && (!unit || !FileMatches(file, unit))) continue;
    // Only the units whose top level has the inline function are walked whole.
    if (inlined && !HasGlob(name) && ForEachChildDie(&cu, [&](Dwarf_Die* c) {
          const char* n = dwarf_tag(c) == DW_TAG_subprogram ? dwarf_diename(c) : nullptr;
          return !(n && name == n && dwarf_hasattr(c, DW_AT_inline));
        }))
      continue;
    for (const DebugFunction& f : UnitFunctions(&cu)) {
      if (f.inlined != inlined || !GlobMatch(name, f.name)) continue;
      if (!FileMatches(file, f.file)) continue;
      if (!placed.insert(f.entry).second) continue;
      out.push_back(f);
    }
  }
  return out;
}

std::optional<DebugFunction> KernelDwarf::ByDie(Dwarf_Off off) {
  Dwarf_Die die, cu;
  if (!dwarf() || !dwarf_->Die(off, &die) || !dwarf_diecu(&die, &cu, nullptr, nullptr))
    return std::nullopt;
  for (const DebugFunction& f : UnitFunctions(&cu))
    if (f.die == off) return f;
  return std::nullopt;
}

std::vector<uint64_t> KernelDwarf::SymbolCopies(std::string_view symbol) {
  std::vector<uint64_t> out;
  if (!dwarf()) return out;
  if (!elf_) {
    out = dwarf_->SymbolAddresses(symbol);
  } else {
    for (auto it = FirstNamed(symbol); it != by_name_.cend() && (*it)->name == symbol; ++it)
      out.push_back((*it)->addr);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool KernelDwarf::InitText(uint64_t address) {
  if (!dwarf()) return false;
  if (!elf_) {  // a module's .init.text or .exit.text
    std::string section;
    uint64_t offset = 0;
    return dwarf_->SectionOffset(address, &section, &offset) &&
           (section.starts_with(".init") || section.starts_with(".exit"));
  }
  std::optional<uint64_t> begin = elf_->SymbolAddress("_sinittext");
  std::optional<uint64_t> end = elf_->SymbolAddress("_einittext");
  return begin && end && address >= *begin && address < *end;
}

std::optional<uint64_t> KernelDwarf::LinkAddress(std::string_view symbol) {
  if (!dwarf() || !elf_) return std::nullopt;  // a module's addresses are not its own
  return elf_->SymbolAddress(symbol);
}

bool KernelDwarf::Frame(const DebugFunction& f, std::string* name, uint64_t* address) {
  if (!dwarf()) return false;
  Dwarf_Die die, cu;
  if (!dwarf_->Die(f.frame, &die) || !dwarf_diecu(&die, &cu, nullptr, nullptr)) return false;
  for (const DebugFunction& g : UnitFunctions(&cu))
    if (g.die == f.frame) {
      // The symbol the kernel knows it by (its DWARF name may lack a `.isra.0` suffix).
      *name = g.name;
      *address = g.entry;
      if (!elf_) {
        // The symbol at its address, unless that is the module's init_module or
        // cleanup_module alias of the function (the kernel knows both).
        std::string symbol;
        uint64_t start = 0;
        if (dwarf_->SymbolAt(g.entry, &symbol, &start) && start == g.entry &&
            symbol != "init_module" && symbol != "cleanup_module")
          *name = symbol;
        return true;
      }
      const ElfSymbol* s = elf_->FunctionAt(g.entry);
      if (s && s->addr == g.entry) *name = s->name;
      return true;
    }
  return false;
}

}  // namespace btap::sema
