// process(...) function, statement and mark probes: uprobes and uretprobes on a file
// offset of a program or library (the object's metadata holds path and offset), with the
// SDT semaphore's offset as the uprobe reference counter.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/build_id.h"
#include "runtime/attach/attach.h"

namespace btap::runtime {

// Uprobe programs may sleep (bpf_copy_from_user faulting a page in) since Linux 6.0; task
// storage and the current task's BTF pointer, which their scratch needs, are older.
bool KernelHasSleepableUprobes() {
  static const bool has = [] {
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) return false;
    const bpf_insn code[] = {
        {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_10, 0, 0},
        {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, -8},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 1},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 0},
        {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_copy_from_user},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, load);
    load.prog_flags = BPF_F_SLEEPABLE;
    int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, nullptr, "GPL", code, std::size(code), &load);
    if (fd < 0) return false;
    close(fd);
    return true;
  }();
  return has;
}

void PrepareUprobes(bpf_object* object, const meta::Meta& meta) {
  bool any = false;
  for (const meta::Probe& p : meta.probes) any |= p.may_sleep;
  if (!any) return;
  if (!KernelHasSleepableUprobes()) {
    // The flag stays 0: no program reaches the task storage, which need not exist.
    if (bpf_map* map = bpf_object__find_map_by_name(object, meta::kTaskScratchMap)) {
      bpf_map__set_type(map, BPF_MAP_TYPE_ARRAY);
      bpf_map__set_map_flags(map, 0);
      bpf_map__set_max_entries(map, 1);
    }
    return;
  }
  bpf_map* flag = bpf_object__find_map_by_name(object, meta::kSleepSection);
  size_t size = 0;
  const void* value = flag ? bpf_map__initial_value(flag, &size) : nullptr;
  if (!value || size < sizeof(uint64_t)) return;  // compiled without a read that sleeps
  std::vector<uint8_t> data(static_cast<const uint8_t*>(value),
                            static_cast<const uint8_t*>(value) + size);
  uint64_t one = 1;
  std::memcpy(data.data(), &one, sizeof one);
  if (bpf_map__set_initial_value(flag, data.data(), data.size()) != 0) return;
  for (const meta::Probe& p : meta.probes)
    if (p.may_sleep)
      if (bpf_program* prog = bpf_object__find_program_by_name(object, p.program.c_str()))
        bpf_program__set_flags(prog, bpf_program__flags(prog) | BPF_F_SLEEPABLE);
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
    std::string now = FileBuildId(probe.target);
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
