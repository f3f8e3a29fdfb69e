// The DWARF of relocatable objects (kernel modules' .ko files): libdw reads a .ko's debug
// sections unrelocated (every string and reference would point at the section's start),
// so libdwfl opens it "offline", lays its sections out and applies its relocations.
#include <dwarf.h>
#include <elfutils/libdwfl.h>

#include <cstring>

#include "common/build_id.h"
#include "semantic/machine/debuginfo.h"

namespace btap::sema {

std::unique_ptr<DebugInfo> DebugInfo::OpenRelocatable(const std::string& path, std::string* error) {
  static const Dwfl_Callbacks kOffline = {
      .find_elf = nullptr,
      .find_debuginfo = dwfl_standard_find_debuginfo,
      .section_address = dwfl_offline_section_address,
      .debuginfo_path = nullptr,
  };
  elf_version(EV_CURRENT);
  std::unique_ptr<DebugInfo> d(new DebugInfo);
  d->path_ = path;
  d->dwfl_ = dwfl_begin(&kOffline);
  if (!d->dwfl_) {
    *error = std::string("cannot start libdwfl: ") + dwfl_errmsg(-1);
    return nullptr;
  }
  d->module_ = dwfl_report_offline(d->dwfl_, path.c_str(), path.c_str(), -1);
  if (!d->module_ || dwfl_report_end(d->dwfl_, nullptr, nullptr) != 0) {
    *error = "cannot read `" + path + "`: " + dwfl_errmsg(-1);
    return nullptr;
  }
  Dwarf_Addr bias = 0;
  d->dwarf_ = dwfl_module_getdwarf(d->module_, &bias);
  if (!d->dwarf_) {
    *error = "cannot read DWARF in `" + path + "`: " + dwfl_errmsg(-1);
    return nullptr;
  }
  d->bias_ = bias;
  d->debug_cfi_ = dwfl_module_dwarf_cfi(d->module_, &bias);
  return d;
}

bool DebugInfo::SymbolAt(uint64_t address, std::string* name, uint64_t* start) {
  if (!module_) return false;
  GElf_Off offset = 0;
  GElf_Sym sym;
  const char* n =
      dwfl_module_addrinfo(module_, address + bias_, &offset, &sym, nullptr, nullptr, nullptr);
  if (!n || GELF_ST_TYPE(sym.st_info) != STT_FUNC) return false;
  *name = n;
  *start = address - offset;
  return true;
}

std::vector<uint64_t> DebugInfo::SymbolAddresses(std::string_view name) {
  std::vector<uint64_t> out;
  int n = module_ ? dwfl_module_getsymtab(module_) : -1;
  for (int i = 1; i < n; ++i) {
    GElf_Sym sym;
    GElf_Addr value = 0;
    const char* s = dwfl_module_getsym_info(module_, i, &sym, &value, nullptr, nullptr, nullptr);
    if (s && name == s && GELF_ST_TYPE(sym.st_info) == STT_FUNC) out.push_back(value - bias_);
  }
  return out;
}

bool DebugInfo::SectionOffset(uint64_t address, std::string* section, uint64_t* offset) {
  if (!module_) return false;
  Dwarf_Addr at = address + bias_;
  int i = dwfl_module_relocate_address(module_, &at);
  if (i < 0) return false;
  GElf_Word shndx = 0;
  const char* name = dwfl_module_relocation_info(module_, i, &shndx);
  if (!name || !*name) return false;
  *section = name;
  *offset = at;
  return true;
}

std::string DebugInfo::BuildId() { return FileBuildId(path_); }

}  // namespace btap::sema
