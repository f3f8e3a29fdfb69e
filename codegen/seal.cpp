// Section digests (see seal.h). The digests cannot be known while LLVM emits the
// object, so the object is emitted with the metadata alone, then `.btap.meta` grows in
// place: it is the only section whose size changes, and nothing in a relocatable
// object points at file offsets but the section headers and the ELF header.
#include "codegen/seal.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace btap::codegen {
namespace {

template <typename T>
void Put(std::vector<uint8_t>& bytes, uint64_t at, const T& value) {
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

std::string_view Contents(const std::vector<uint8_t>& bytes, const Elf64_Shdr& sh) {
  if (sh.sh_type == SHT_NOBITS || sh.sh_offset > bytes.size() ||
      bytes.size() - sh.sh_offset < sh.sh_size)
    return {};
  return {reinterpret_cast<const char*>(bytes.data() + sh.sh_offset), sh.sh_size};
}

}  // namespace

bool SealObject(std::vector<uint8_t>& object, meta::Meta meta, std::string* error) {
  auto fail = [&](const char* why) {
    *error = std::string("cannot record section digests: ") + why;
    return false;
  };
  Elf64_Ehdr eh;
  if (!Get(object, 0, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_phnum != 0)
    return fail("not a little-endian ELF64 relocatable object");
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  for (size_t i = 0; i < sh.size(); ++i)
    if (!Get(object, eh.e_shoff + i * sizeof(Elf64_Shdr), &sh[i]))
      return fail("section headers out of bounds");
  if (eh.e_shstrndx >= sh.size()) return fail("no section names");
  // A copy: the object moves when it grows.
  const std::string names(Contents(object, sh[eh.e_shstrndx]));
  auto name = [&](const Elf64_Shdr& s) {
    if (s.sh_name >= names.size()) return std::string_view();
    std::string_view n = std::string_view(names).substr(s.sh_name);
    return n.substr(0, n.find('\0'));
  };
  size_t at = 0;
  for (size_t i = 1; i < sh.size(); ++i)
    if (name(sh[i]) == meta::kSectionName) at = i;
  if (at == 0 || Contents(object, sh[at]).empty()) return fail("no metadata section");

  // Grow the metadata to its final size (the digests are fixed-size placeholders here).
  meta.sections.clear();
  for (size_t i = 0; i < sh.size(); ++i) meta.sections.push_back({std::string(name(sh[i])), 0});
  std::vector<uint8_t> sealed = meta::Encode(meta);
  uint64_t old_size = sh[at].sh_size, end = sh[at].sh_offset + old_size;
  if (sealed.size() < old_size) return fail("the metadata shrank");
  uint64_t align = 8;
  for (const Elf64_Shdr& s : sh)
    if (s.sh_offset >= end) align = std::max<uint64_t>(align, s.sh_addralign);
  if (align & (align - 1)) return fail("a section alignment that is not a power of two");
  uint64_t shift = (sealed.size() - old_size + align - 1) & ~(align - 1);
  object.insert(object.begin() + static_cast<std::ptrdiff_t>(end), shift, 0);
  for (size_t i = 1; i < sh.size(); ++i)
    if (i != at && sh[i].sh_offset >= end) sh[i].sh_offset += shift;
  if (eh.e_shoff >= end) eh.e_shoff += shift;
  sh[at].sh_size = sealed.size();
  // The metadata's symbol keeps describing the whole section.
  for (const Elf64_Shdr& s : sh) {
    if (s.sh_type != SHT_SYMTAB || s.sh_entsize != sizeof(Elf64_Sym)) continue;
    for (uint64_t off = s.sh_offset; off + sizeof(Elf64_Sym) <= s.sh_offset + s.sh_size;
         off += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      if (!Get(object, off, &sym)) return fail("symbols out of bounds");
      if (sym.st_shndx != at || sym.st_size != old_size) continue;
      sym.st_size = sealed.size();
      Put(object, off, sym);
    }
  }
  Put(object, 0, eh);
  for (size_t i = 0; i < sh.size(); ++i) Put(object, eh.e_shoff + i * sizeof(Elf64_Shdr), sh[i]);

  // Entry 0 (the null section) covers the ELF header; the metadata's own entry covers
  // its section header only: its contents end with a checksum.
  std::string_view elf_header(reinterpret_cast<const char*>(object.data()), sizeof eh);
  for (size_t i = 0; i < sh.size(); ++i) {
    std::string_view contents = Contents(object, sh[i]);
    if (i == 0) contents = elf_header;
    if (i == at) contents = {};
    const Elf64_Shdr& h = sh[i];
    meta.sections[i].digest =
        meta::DigestSection(name(h),
                            {h.sh_type, h.sh_flags, h.sh_addr, h.sh_size, h.sh_link, h.sh_info,
                             h.sh_addralign, h.sh_entsize},
                            contents);
  }
  sealed = meta::Encode(meta);
  std::memcpy(object.data() + sh[at].sh_offset, sealed.data(), sealed.size());
  return true;
}

bool HideUserSideFunctions(std::vector<uint8_t>& object, std::string* error) {
  Elf64_Ehdr eh;
  if (!Get(object, 0, &eh) || eh.e_shentsize != sizeof(Elf64_Shdr)) {
    *error = "malformed object (ELF header)";
    return false;
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  for (size_t i = 0; i < sections.size(); ++i)
    if (!Get(object, eh.e_shoff + i * sizeof(Elf64_Shdr), &sections[i])) {
      *error = "malformed object (section headers)";
      return false;
    }
  if (eh.e_shstrndx >= sections.size()) {
    *error = "malformed object (section names)";
    return false;
  }
  const Elf64_Shdr& names = sections[eh.e_shstrndx];
  auto name_of = [&](const Elf64_Shdr& s) -> std::string_view {
    if (s.sh_name >= names.sh_size || names.sh_offset + names.sh_size > object.size()) return "";
    const char* at = reinterpret_cast<const char*>(object.data() + names.sh_offset + s.sh_name);
    return std::string_view(at, strnlen(at, names.sh_size - s.sh_name));
  };
  for (const Elf64_Shdr& table : sections) {
    if (table.sh_type != SHT_SYMTAB || table.sh_entsize != sizeof(Elf64_Sym)) continue;
    for (uint64_t at = table.sh_offset; at + sizeof(Elf64_Sym) <= table.sh_offset + table.sh_size;
         at += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      if (!Get(object, at, &sym)) {
        *error = "malformed object (symbols)";
        return false;
      }
      if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || ELF64_ST_BIND(sym.st_info) != STB_LOCAL ||
          sym.st_shndx >= sections.size() ||
          !name_of(sections[sym.st_shndx]).starts_with("btap_user/"))
        continue;
      sym.st_info = ELF64_ST_INFO(STB_LOCAL, STT_NOTYPE);
      std::memcpy(object.data() + at, &sym, sizeof sym);
    }
  }
  return true;
}

}  // namespace btap::codegen
