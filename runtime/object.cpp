// Object checks with libelf (see object.h); libelf validates the ELF structure itself,
// and section contents are read only after their bounds are checked against the file,
// so malformed headers are errors, not out-of-bounds reads.
#include "runtime/object.h"

#include "runtime/object_btf.h"

#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

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

namespace {

// A section's bytes in the file, or false when its header puts them outside it.
bool Contents(std::span<const uint8_t> object, const GElf_Shdr& sh, std::string_view* out) {
  *out = {};
  if (sh.sh_type == SHT_NOBITS) return true;
  if (sh.sh_offset > object.size() || object.size() - sh.sh_offset < sh.sh_size) return false;
  *out = {reinterpret_cast<const char*>(object.data() + sh.sh_offset), sh.sh_size};
  return true;
}

// Compares every section, in order, with the digests codegen recorded: entry 0 covers
// the ELF header, the metadata's own entry its section header (its bytes end with a
// checksum of their own).
bool CheckDigests(Elf* elf, size_t names, std::span<const uint8_t> object, Elf_Scn* meta_section,
                  const meta::Meta& meta, std::string* error) {
  size_t count;
  if (elf_getshdrnum(elf, &count) != 0) {
    *error = "malformed ELF object: no section count";
    return false;
  }
  if (count != meta.sections.size()) {
    *error = "damaged object: it has " + std::to_string(count) +
             " sections, its digests describe " + std::to_string(meta.sections.size());
    return false;
  }
  for (size_t i = 0; i < count; ++i) {
    Elf_Scn* section = elf_getscn(elf, i);
    GElf_Shdr sh;
    const char* name = section && gelf_getshdr(section, &sh) ? elf_strptr(elf, names, sh.sh_name)
                                                             : (i == 0 ? "" : nullptr);
    std::string_view contents;
    if (!name || (i > 0 && !Contents(object, sh, &contents))) {
      *error = "damaged object: section " + std::to_string(i) + " has a malformed header";
      return false;
    }
    if (i == 0) {
      if (!section || !gelf_getshdr(section, &sh)) sh = {};
      contents = {reinterpret_cast<const char*>(object.data()),
                  std::min<size_t>(object.size(), sizeof(Elf64_Ehdr))};
    }
    const meta::SectionDigest& expected = meta.sections[i];
    if (expected.name != name) {
      *error = "damaged object: section " + std::to_string(i) + " is `" + std::string(name) +
               "`, its digest is for `" + expected.name + "`";
      return false;
    }
    if (section == meta_section) contents = {};
    meta::SectionHeader header{sh.sh_type, sh.sh_flags, sh.sh_addr,      sh.sh_size,
                               sh.sh_link, sh.sh_info,  sh.sh_addralign, sh.sh_entsize};
    if (meta::DigestSection(name, header, contents) != expected.digest) {
      *error =
          i == 0 ? std::string("damaged object: the ELF header does not match its digest")
                 : "damaged object: section `" + std::string(name) + "` does not match its digest";
      return false;
    }
  }
  return true;
}

}  // namespace

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
    std::string_view bytes;
    if (!Contents(object, sh, &bytes)) {
      *error = std::string("damaged object: its ") + meta::kSectionName +
               " section lies outside the file (a truncated file?)";
      return false;
    }
    if (bytes.empty()) {
      *error = std::string("empty ") + meta::kSectionName + " section";
      return false;
    }
    if (!meta::Decode(bytes, meta, error) ||
        !CheckDigests(elf.get(), names, object, section, *meta, error))
      return false;
    // Intact, but possibly written by something other than btap: what libbpf would
    // trust blindly is checked too.
    for (Elf_Scn* s = nullptr; (s = elf_nextscn(elf.get(), s));) {
      const char* n = gelf_getshdr(s, &sh) ? elf_strptr(elf.get(), names, sh.sh_name) : nullptr;
      std::string_view btf;
      if (n && std::strcmp(n, ".BTF") == 0 && Contents(object, sh, &btf) && !CheckBtf(btf, error))
        return false;
    }
    return true;
  }
  *error = std::string("no ") + meta::kSectionName + " section: not compiled by btap";
  return false;
}

bool ObjectSection(std::span<const uint8_t> object, std::string_view name,
                   std::string_view* contents, std::string* error) {
  *contents = {};
  ElfHandle elf = OpenElf(object, error);
  size_t names;
  if (!elf || elf_getshdrstrndx(elf.get(), &names) != 0) {
    if (elf) *error = "malformed ELF object: no section names";
    return false;
  }
  for (Elf_Scn* section = nullptr; (section = elf_nextscn(elf.get(), section));) {
    GElf_Shdr sh;
    const char* n = gelf_getshdr(section, &sh) ? elf_strptr(elf.get(), names, sh.sh_name) : nullptr;
    if (!n || name != n) continue;
    if (Contents(object, sh, contents)) return true;
    *error = "damaged object: its " + std::string(name) + " section lies outside the file";
    return false;
  }
  return true;
}

bool ObjectFunction(std::span<const uint8_t> object, std::string_view name, std::string* section,
                    uint64_t* offset, uint64_t* size) {
  std::string error;
  ElfHandle elf = OpenElf(object, &error);
  size_t names;
  if (!elf || elf_getshdrstrndx(elf.get(), &names) != 0) return false;
  for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf.get(), scn));) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || sh.sh_entsize == 0) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data) return false;
    for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
        continue;
      const char* n = elf_strptr(elf.get(), sh.sh_link, sym.st_name);
      if (!n || name != n) continue;
      Elf_Scn* home = elf_getscn(elf.get(), sym.st_shndx);
      GElf_Shdr home_sh;
      const char* home_name = home && gelf_getshdr(home, &home_sh)
                                  ? elf_strptr(elf.get(), names, home_sh.sh_name)
                                  : nullptr;
      if (!home_name) return false;
      *section = home_name;
      *offset = sym.st_value;
      *size = sym.st_size;
      return true;
    }
  }
  return false;
}

bool GlobalAssignment(const meta::Meta& meta, const std::string& name, const std::string& value,
                      const meta::Global** global, std::vector<uint8_t>* bytes,
                      std::string* error) {
  const std::string what = "`" + name + "=" + value + "`: ";
  *global = nullptr;
  for (const meta::Global& g : meta.globals)
    if (g.name == name && g.keys.empty() && g.value != meta::ValueType::Stats) *global = &g;
  if (!*global) {
    bool other = false;
    for (const meta::Global& g : meta.globals) other |= g.name == name;
    *error =
        what + (other ? "`" + name + "` is not a scalar; only global longs and strings can be set"
                      : "the script has no global `" + name + "` (or it is never used)");
    return false;
  }
  if ((*global)->value == meta::ValueType::String) {
    size_t room = meta.limits.max_string_len;
    if (room == 0) {
      *error = what + "the object gives no MAXSTRINGLEN";
      return false;
    }
    bytes->assign(value.begin(),
                  value.begin() + static_cast<std::ptrdiff_t>(std::min(value.size(), room - 1)));
    bytes->push_back(0);
    return true;
  }
  char* end = nullptr;
  errno = 0;
  long long number = std::strtoll(value.c_str(), &end, 0);
  if (value.empty() || *end || errno) {
    *error = what + "`" + name + "` is a long; expected a number" +
             (errno == ERANGE ? " that fits in 64 bits" : "");
    return false;
  }
  bytes->resize(8);
  std::memcpy(bytes->data(), &number, 8);
  return true;
}

}  // namespace btap::runtime
