// GNU build ids of files, note runs and the running kernel.
#include "common/build_id.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

namespace btap {

std::string HexBytes(const void* data, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::string s;
  for (size_t i = 0; i < n; ++i) s += {kHex[bytes[i] >> 4], kHex[bytes[i] & 15]};
  return s;
}

std::string FileBuildId(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  std::string id;
  for (Elf_Scn* scn = nullptr; elf && id.empty() && (scn = elf_nextscn(elf, scn));) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    GElf_Nhdr note;
    size_t name_at = 0, desc_at = 0;
    for (size_t at = 0;
         data && id.empty() && (at = gelf_getnote(data, at, &note, &name_at, &desc_at)) > 0;) {
      const auto* bytes = static_cast<const unsigned char*>(data->d_buf);
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
          memcmp(bytes + name_at, "GNU", 4) == 0)
        id = HexBytes(bytes + desc_at, note.n_descsz);
    }
  }
  if (elf) elf_end(elf);
  close(fd);
  return id;
}

std::string BuildIdInNotes(const void* notes, size_t size) {
  const auto* p = static_cast<const unsigned char*>(notes);
  size_t at = 0;
  auto align4 = [](size_t n) { return (n + 3) & ~size_t{3}; };
  while (at + sizeof(Elf64_Nhdr) <= size) {
    Elf64_Nhdr note;
    memcpy(&note, p + at, sizeof note);
    size_t name_at = at + sizeof note;
    if (note.n_namesz > size - name_at) break;
    size_t desc_at = name_at + align4(note.n_namesz);
    if (desc_at > size || note.n_descsz > size - desc_at) break;
    if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && memcmp(p + name_at, "GNU", 4) == 0)
      return HexBytes(p + desc_at, note.n_descsz);
    at = desc_at + align4(note.n_descsz);
  }
  return "";
}

std::string RunningKernelBuildId() {
  std::ifstream in("/sys/kernel/notes", std::ios::binary);
  std::string notes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return BuildIdInNotes(notes.data(), notes.size());
}

}  // namespace btap
