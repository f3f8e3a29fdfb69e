// process(...) function, statement and mark probes: uprobes and uretprobes on a file
// offset of a program or library (the object's metadata holds path and offset), with the
// SDT semaphore's offset as the uprobe reference counter.
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/attach/attach.h"

namespace btap::runtime {

// The GNU build id of an ELF file in lower-case hex; "" when it has none or is not ELF.
std::string ReadBuildId(const std::string& path) {
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
      if (note.n_type != NT_GNU_BUILD_ID || note.n_namesz != 4 ||
          memcmp(bytes + name_at, "GNU", 4) != 0)
        continue;
      static const char kHex[] = "0123456789abcdef";
      for (size_t i = 0; i < note.n_descsz; ++i)
        id += {kHex[bytes[desc_at + i] >> 4], kHex[bytes[desc_at + i] & 15]};
    }
  }
  if (elf) elf_end(elf);
  close(fd);
  return id;
}

bool AttachUprobe(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                  std::string* error) {
  struct stat st;
  if (stat(probe.target.c_str(), &st) != 0) {
    *error = "cannot attach `" + probe.point + "`: `" + probe.target + "`: " + std::strerror(errno);
    return false;
  }
  // The offset was computed for one build of the file.
  if (!probe.build_id.empty()) {
    std::string now = ReadBuildId(probe.target);
    if (now != probe.build_id) {
      *error = "cannot attach `" + probe.point + "`: `" + probe.target +
               "` is not the file the script was compiled for (build id " +
               (now.empty() ? std::string("none") : now) + ", expected " + probe.build_id +
               "); compile the script again";
      return false;
    }
  }
  LIBBPF_OPTS(bpf_uprobe_opts, opts);
  opts.retprobe = static_cast<meta::ProbeKind>(probe.family) == meta::ProbeKind::Uretprobe;
  opts.ref_ctr_offset = static_cast<size_t>(probe.numbers[1]);
  // Every process that runs the file's code: process(PID) filters by thread group in the
  // program, since a pid given to perf_event_open would be one thread.
  bpf_link* link = bpf_program__attach_uprobe_opts(program, -1, probe.target.c_str(),
                                                   static_cast<size_t>(probe.numbers[0]), &opts);
  if (!link) {
    int err = errno;
    *error = "cannot attach `" + probe.point + "` (uprobe at offset " +
             std::to_string(probe.numbers[0]) + " of " + probe.target + "): " + std::strerror(err);
    return false;
  }
  links.push_back(link);
  return true;
}

}  // namespace btap::runtime
