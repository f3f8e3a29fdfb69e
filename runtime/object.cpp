// Object checks with libelf (see object.h); libelf validates the ELF structure itself,
// so malformed headers are errors, not out-of-bounds reads.
#include "runtime/object.h"

#include <gelf.h>
#include <libelf.h>

#include <cstring>
#include <memory>

namespace btap::runtime {

ElfHandle OpenElf(std::span<const uint8_t> object, std::string* error) {
  if (elf_version(EV_CURRENT) == EV_NONE) {
    *error = "libelf cannot be initialised";
    return ElfHandle(nullptr, elf_end);
  }
  // elf_memory wants a mutable buffer; it does not write to it when reading.
  ElfHandle elf(
      elf_memory(const_cast<char*>(reinterpret_cast<const char*>(object.data())), object.size()),
      elf_end);
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) {
    *error = "not an ELF object";
    return ElfHandle(nullptr, elf_end);
  }
  return elf;
}

bool ReadObjectMeta(std::span<const uint8_t> object, meta::Meta* meta, std::string* error) {
  ElfHandle elf = OpenElf(object, error);
  if (!elf) return false;
  GElf_Ehdr header;
  if (!gelf_getehdr(elf.get(), &header)) {
    *error = "not an ELF object";
    return false;
  }
  if (header.e_machine != EM_BPF) {
    *error = "not a BPF object (ELF machine " + std::to_string(header.e_machine) + ")";
    return false;
  }
  size_t names;
  if (elf_getshdrstrndx(elf.get(), &names) != 0) {
    *error = "malformed ELF object: no section names";
    return false;
  }
  for (Elf_Scn* section = nullptr; (section = elf_nextscn(elf.get(), section));) {
    GElf_Shdr sh;
    if (!gelf_getshdr(section, &sh)) continue;
    const char* name = elf_strptr(elf.get(), names, sh.sh_name);
    if (!name || std::strcmp(name, meta::kSectionName) != 0) continue;
    Elf_Data* data = elf_getdata(section, nullptr);
    if (!data || !data->d_buf) {
      *error = std::string("empty ") + meta::kSectionName + " section";
      return false;
    }
    return meta::Decode(std::string_view(static_cast<const char*>(data->d_buf), data->d_size), meta,
                        error);
  }
  *error = std::string("no ") + meta::kSectionName + " section: not compiled by btap";
  return false;
}

}  // namespace btap::runtime
