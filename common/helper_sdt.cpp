// The HelperSDT library's search and its marks' places (common/helper_sdt.h).
#include "common/helper_sdt.h"

#include "common/sdt_note.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

namespace btap {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLibrary = "HelperSDT/libbtap_python.so";

}  // namespace

std::vector<std::string> HelperSdtCandidates(const char* env, const std::string& exe) {
  std::vector<std::string> out;
  if (env && *env) out.push_back((fs::path(env) / kLibrary).lexically_normal().string());
  if (!exe.empty()) {
    fs::path bin = fs::path(exe).parent_path();
    out.push_back((bin / "python" / kLibrary).lexically_normal().string());
    out.push_back((bin.parent_path() / BTAP_PYTHON_DIR / kLibrary).lexically_normal().string());
  }
  return out;
}

std::string HelperSdtLibrary(const std::vector<std::string>& candidates, std::string* why) {
  std::string list;
  for (const std::string& p : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p;
    list += (list.empty() ? "`" : ", `") + p + "`";
  }
  *why = "btap's HelperSDT library is not installed (looked for " +
         (list.empty() ? std::string("nothing") : list) +
         "; $BTAP_HELPERSDT names the folder that holds the HelperSDT package)";
  return "";
}

std::string HelperSdtLibrary(std::string* why) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string self = n > 0 ? std::string(exe, static_cast<size_t>(n)) : "";
  return HelperSdtLibrary(HelperSdtCandidates(std::getenv("BTAP_HELPERSDT"), self), why);
}

bool FindHelperSdtMark(const std::string& library, const std::string& mark, SdtPlace* out,
                       std::string* why) {
  int fd = open(library.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = "cannot open `" + library + "`: " + std::strerror(errno);
    return false;
  }
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  GElf_Ehdr ehdr;
  bool found = false;
  if (elf && gelf_getehdr(elf, &ehdr) && ehdr.e_ident[EI_CLASS] == ELFCLASS64 &&
      ehdr.e_ident[EI_DATA] == ELFDATA2LSB) {
    // Addresses to file offsets through the loaded segments.
    struct Segment {
      uint64_t vaddr, filesz, offset;
    };
    std::vector<Segment> segments;
    size_t phnum = 0;
    elf_getphdrnum(elf, &phnum);
    for (size_t i = 0; i < phnum; ++i) {
      GElf_Phdr ph;
      if (gelf_getphdr(elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD)
        segments.push_back({ph.p_vaddr, ph.p_filesz, ph.p_offset});
    }
    auto file_offset = [&](uint64_t vaddr) -> std::optional<uint64_t> {
      for (const Segment& s : segments)
        if (vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz) return vaddr - s.vaddr + s.offset;
      return std::nullopt;
    };
    size_t shstrndx = 0;
    elf_getshdrstrndx(elf, &shstrndx);
    std::optional<uint64_t> base;  // .stapsdt.base where it is now
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf, scn));) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh)) continue;
      const char* name = elf_strptr(elf, shstrndx, sh.sh_name);
      if (name && std::strcmp(name, ".stapsdt.base") == 0) base = sh.sh_addr;
    }
    for (Elf_Scn* scn = nullptr; !found && (scn = elf_nextscn(elf, scn));) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE) continue;
      Elf_Data* data = elf_getdata(scn, nullptr);
      GElf_Nhdr note;
      size_t name_at = 0, desc_at = 0;
      for (size_t at = 0;
           data && !found && (at = gelf_getnote(data, at, &note, &name_at, &desc_at)) > 0;) {
        const auto* bytes = static_cast<const char*>(data->d_buf);
        if (note.n_type != kNtStapsdt || note.n_namesz != 8 ||
            std::memcmp(bytes + name_at, "stapsdt", 8) != 0)
          continue;
        std::optional<StapsdtNote> sdt = ParseStapsdtNote(
            std::string_view(bytes + desc_at, note.n_descsz), /*is_64=*/true, /*big_endian=*/false);
        if (!sdt || sdt->provider != "btap_python" || sdt->name != mark) continue;
        sdt->Rebase(base);
        std::optional<uint64_t> pc_off = file_offset(sdt->pc);
        std::optional<uint64_t> sem_off =
            sdt->semaphore ? file_offset(sdt->semaphore) : std::optional<uint64_t>(0);
        if (!pc_off || !sem_off) continue;
        out->args = sdt->args;
        out->offset = *pc_off;
        out->semaphore = *sem_off;
        found = true;
      }
    }
    if (!found) *why = "`" + library + "` has no SDT mark btap_python:" + mark;
  } else {
    *why = "`" + library + "` is not a 64-bit little-endian ELF file";
  }
  if (elf) elf_end(elf);
  close(fd);
  return found;
}

}  // namespace btap
