// process(...) function, statement and mark probes: uprobes and uretprobes on a file
// offset of a program or library (the object's metadata holds path and offset), with the
// SDT semaphore's offset as the uprobe reference counter. A program that a wildcard's
// functions share (its target is the path, then one offset per line) is attached with one
// multi-uprobe link where the kernel has them (6.6), else with a uprobe per offset; the
// cookie is the offset's line less one.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "common/build_id.h"
#include "runtime/attach/attach.h"

namespace btap::runtime {
namespace {

// libbpf 1.1 (Debian 12) has no bpf_program__attach_uprobe_multi, and its headers no
// BPF_TRACE_UPROBE_MULTI: the link is made with the bpf syscall's BPF_LINK_CREATE, whose
// attribute for this attach type (kTraceUprobeMulti) is laid out here, as Linux 6.6's
// uapi bpf.h defines it.
constexpr uint32_t kUprobeMultiReturn = 1;  // BPF_F_UPROBE_MULTI_RETURN

struct UprobeMultiAttr {
  uint32_t prog_fd = 0;
  uint32_t target_fd = 0;
  uint32_t attach_type = kTraceUprobeMulti;
  uint32_t flags = 0;
  uint64_t path = 0;  // pointers, as the kernel takes them
  uint64_t offsets = 0;
  uint64_t ref_ctr_offsets = 0;
  uint64_t cookies = 0;
  uint32_t cnt = 0;
  uint32_t multi_flags = 0;
  uint32_t pid = 0;
  uint32_t unused = 0;
};
static_assert(sizeof(UprobeMultiAttr) == 64);

int CreateUprobeMulti(int prog_fd, const char* path, const std::vector<uint64_t>& offsets,
                      const std::vector<uint64_t>& cookies, bool retprobe) {
  UprobeMultiAttr attr;
  attr.prog_fd = static_cast<uint32_t>(prog_fd);
  attr.path = reinterpret_cast<uintptr_t>(path);
  attr.offsets = reinterpret_cast<uintptr_t>(offsets.data());
  attr.cookies = reinterpret_cast<uintptr_t>(cookies.data());
  attr.cnt = static_cast<uint32_t>(offsets.size());
  attr.multi_flags = retprobe ? kUprobeMultiReturn : 0;
  return static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof attr));
}

// A probe whose program its functions share: the file, then an offset per line.
bool IsGroup(const meta::Probe& probe) { return probe.target.find('\n') != std::string::npos; }

// The build id check, told apart from a file that cannot be opened at all (no
// descriptor left).
bool SameBuild(const meta::Probe& probe, const std::string& path, std::string* error) {
  if (probe.build_id.empty()) return true;
  std::string now = FileBuildId(path);
  if (now == probe.build_id) return true;
  if (now.empty()) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    int err = errno;
    if (fd >= 0) {
      close(fd);
    } else {
      *error = "cannot attach `" + probe.point + "`: cannot open `" + path +
               "` to check its build id: " + std::strerror(err) + DescriptorNote(err);
      return false;
    }
  }
  *error = "cannot attach `" + probe.point + "`: `" + path +
           "` is not the file the script was compiled for (build id " +
           (now.empty() ? std::string("none") : now) + ", expected " + probe.build_id +
           "); compile the script again";
  return false;
}

bool AttachGroup(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                 std::vector<int>& link_fds, std::string* error) {
  std::vector<std::string> lines = TargetLines(probe.target);
  const std::string& path = lines[0];
  std::vector<uint64_t> offsets, cookies;
  // (An object from elsewhere may say anything: a damaged list attaches nothing.)
  bool damaged = lines.size() < 2;
  for (size_t i = 1; i < lines.size() && !damaged; ++i) {
    char* end = nullptr;
    errno = 0;
    offsets.push_back(std::strtoull(lines[i].c_str(), &end, 10));
    cookies.push_back(i - 1);
    damaged = lines[i].empty() || *end || errno;
  }
  if (damaged) {
    *error = "cannot attach `" + probe.point + "`: the object's list of its offsets in " + path +
             " is damaged";
    return false;
  }
  bool retprobe = static_cast<meta::ProbeKind>(probe.family) == meta::ProbeKind::Uretprobe;
  if (static_cast<uint32_t>(bpf_program__expected_attach_type(program)) == kTraceUprobeMulti) {
    int fd = CreateUprobeMulti(bpf_program__fd(program), path.c_str(), offsets, cookies, retprobe);
    if (fd >= 0) {
      link_fds.push_back(fd);
      return true;
    }
    int err = errno;
    *error = "cannot attach `" + probe.point + "` (a multi-uprobe link over " +
             std::to_string(offsets.size()) + " offsets of " + path + "): " + std::strerror(err) +
             DescriptorNote(err);
    return false;
  }
  // Before Linux 6.6: the same program at each offset, each link with its cookie (5.15).
  for (size_t i = 0; i < offsets.size(); ++i) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts);
    opts.retprobe = retprobe;
    opts.bpf_cookie = cookies[i];
    bpf_link* link = bpf_program__attach_uprobe_opts(program, -1, path.c_str(),
                                                     static_cast<size_t>(offsets[i]), &opts);
    if (!link) {
      int err = errno;
      *error = "cannot attach `" + probe.point + "` (uprobe at offset " +
               std::to_string(offsets[i]) + " of " + path + ", " + std::to_string(i) + " of " +
               std::to_string(offsets.size()) + " attached): " + std::strerror(err) +
               DescriptorNote(err);
      return false;
    }
    links.push_back(link);
  }
  return true;
}

}  // namespace

// Multi-uprobe links need Linux 6.6: a program that expects them loads, and a link to a
// file that does not exist is refused for the file (ENOENT). Older kernels take the
// attach type for a multi-kprobe's and refuse it (EINVAL).
bool KernelHasUprobeMulti() {
  static const bool has = [] {
    const bpf_insn code[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, load);
    load.expected_attach_type = static_cast<bpf_attach_type>(kTraceUprobeMulti);
    int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, nullptr, "GPL", code, 2, &load);
    if (fd < 0) return false;
    std::vector<uint64_t> offsets{0}, cookies{0};
    int link_fd =
        CreateUprobeMulti(fd, "/nonexistent/btap-uprobe-multi-check", offsets, cookies, false);
    int err = errno;
    if (link_fd >= 0) close(link_fd);
    close(fd);
    return link_fd < 0 && err == ENOENT;
  }();
  return has;
}

namespace {
rlimit descriptors_before{};  // the limit RaiseDescriptorLimit found, when it raised it
bool descriptors_raised = false;
}  // namespace

void RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  rlimit before = limit;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return;  // (at worst the old limit stays)
  descriptors_before = before;
  descriptors_raised = true;
}

void RestoreDescriptorLimit() {
  if (descriptors_raised) setrlimit(RLIMIT_NOFILE, &descriptors_before);
}

std::string DescriptorNote(int err, size_t programs) {
  if (err == ENFILE) return " (the system's table of open files is full)";
  if (err != EMFILE) return "";
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  std::string each = programs ? "each of the object's " + std::to_string(programs) +
                                    " programs takes one, each uprobe attached on its own two more"
                              : "each uprobe attached on its own takes two";
  return " (the process ran out of file descriptors: it may hold " +
         std::to_string(limit.rlim_cur) + ", RLIMIT_NOFILE, and " + each +
         "; raise the hard limit, e.g. `ulimit -Hn`, or probe fewer points)";
}

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
  // A BTAP_UPROBE_MULTI of 0 takes the per-offset path where multi-uprobes exist (tests).
  // The kernel is asked only when the object has a group (start-up, DESIGN decision 11).
  const char* multi = std::getenv("BTAP_UPROBE_MULTI");
  std::optional<bool> use_multi;
  for (const meta::Probe& p : meta.probes) {
    auto kind = static_cast<meta::ProbeKind>(p.family);
    if ((kind != meta::ProbeKind::Uprobe && kind != meta::ProbeKind::Uretprobe) || !IsGroup(p))
      continue;
    if (!use_multi) use_multi = !(multi && std::strcmp(multi, "0") == 0) && KernelHasUprobeMulti();
    if (!*use_multi) break;
    if (bpf_program* prog = bpf_object__find_program_by_name(object, p.program.c_str()))
      bpf_program__set_expected_attach_type(prog, static_cast<bpf_attach_type>(kTraceUprobeMulti));
  }
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
                  std::vector<int>& link_fds, std::string* error) {
  std::string path = meta::TargetFile(probe);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    int err = errno;
    *error = "cannot attach `" + probe.point + "`: `" + path + "`: " + std::strerror(err) +
             DescriptorNote(err);
    return false;
  }
  // The offset was computed for one build of the file.
  if (!SameBuild(probe, path, error)) return false;
  if (IsGroup(probe)) return AttachGroup(program, probe, links, link_fds, error);
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
             std::to_string(probe.numbers[0]) + " of " + probe.target + "): " + std::strerror(err) +
             DescriptorNote(err);
    return false;
  }
  links.push_back(link);
  return true;
}

}  // namespace btap::runtime
