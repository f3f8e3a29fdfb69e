// What the runtime writes into an object's runtime variables when it loads (see
// load_facts.h).
#include "runtime/load_facts.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/build_id.h"
#include "common/kallsyms.h"
#include "common/kernel_config.h"
#include "common/object_meta.h"
#include "runtime/namespaces.h"

namespace btap::runtime {

std::optional<uint64_t> MountinfoDevice(std::string_view mountinfo, uint64_t mount_id) {
  // Each line: mount id, parent id, major:minor, root, mount point, ... (proc(5)).
  while (!mountinfo.empty()) {
    size_t eol = mountinfo.find('\n');
    std::string line(mountinfo.substr(0, eol));
    mountinfo = eol == std::string_view::npos ? "" : mountinfo.substr(eol + 1);
    std::istringstream fields(line);
    uint64_t id = 0, parent = 0;
    unsigned major_number = 0, minor_number = 0;
    char colon = 0;
    if (!(fields >> id >> parent >> major_number >> colon >> minor_number) || colon != ':')
      continue;
    if (id == mount_id) return (uint64_t{major_number} << 20) | minor_number;
  }
  return std::nullopt;
}

uint64_t SuperblockDevice(int dir, const char* path, const struct stat& st, int proc_dir) {
  uint64_t fallback = (static_cast<uint64_t>(major(st.st_dev)) << 20) | minor(st.st_dev);
  struct statx stx;
  if (statx(dir, path, 0, STATX_MNT_ID, &stx) != 0 || !(stx.stx_mask & STATX_MNT_ID))
    return fallback;
  static const std::string mountinfo = [] {
    std::ifstream in("/proc/self/mountinfo");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }();
  if (auto dev = MountinfoDevice(mountinfo, stx.stx_mnt_id)) return *dev;
  // A process in another mount namespace: its own mountinfo lists the mount (mount ids
  // are the kernel's, one numbering for every namespace).
  if (proc_dir < 0) return fallback;
  int fd = openat(proc_dir, "mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fallback;
  std::string theirs;
  char buf[8192];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) theirs.append(buf, static_cast<size_t>(n));
  close(fd);
  return MountinfoDevice(theirs, stx.stx_mnt_id).value_or(fallback);
}

namespace {
// The files process("PATH") probes match (meta::kExePrefix): PATH's inode number and
// device here, the device as the kernel's super_block holds it (SuperblockDevice).
bool SetExeFiles(const UserSide& user, std::string* error) {
  for (const std::string& name : user.RuntimeVariables(meta::kExePrefix)) {
    std::span<uint8_t> data = user.GlobalData(name);
    if (data.size() < 17 || data.back() != 0) continue;
    std::string path(reinterpret_cast<const char*>(data.data() + 16));
    struct stat st;
    bool found = stat(path.c_str(), &st) == 0;
    if (!found || !S_ISREG(st.st_mode)) {
      *error = "cannot find executable `" + path + "` (process(\"" + path +
               "\") probes match the processes that run it): " +
               (found ? "not a regular file" : std::strerror(errno));
      return false;
    }
    uint64_t ino = st.st_ino, dev = SuperblockDevice(AT_FDCWD, path.c_str(), st);
    std::memcpy(data.data(), &ino, 8);
    std::memcpy(data.data() + 8, &dev, 8);
  }
  return true;
}

// The bits of `files` that the process of `proc_dir` (its /proc/PID) runs; `running` is
// false when its file cannot be read: the process has left, or its leader has (exit_mm).
uint64_t RunsBits(int proc_dir, const std::vector<ExeFile>& files, bool* running) {
  struct stat st;
  *running = fstatat(proc_dir, "exe", &st, 0) == 0;
  if (!*running) return 0;
  // (The device, a statx and a mountinfo lookup, only for a process whose inode number
  // is one of the files': the scan runs over every process of the machine.)
  uint64_t bits = 0, dev = 0;
  bool have_dev = false;
  for (const ExeFile& f : files) {
    if (f.ino != st.st_ino) continue;
    if (!have_dev) dev = SuperblockDevice(proc_dir, "exe", st, proc_dir), have_dev = true;
    if (f.dev == dev) bits |= uint64_t{1} << f.bit;
  }
  return bits;
}

// Waits (at most ~0.2 s) until the leaving process of `proc_dir` has passed
// sched_process_exit: it is a zombie (exit_notify comes after that tracepoint) or gone.
void WaitExited(int proc_dir) {
  for (int i = 0; i < 200; i++) {
    int fd = openat(proc_dir, "stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char text[512];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return;
    std::string_view stat(text, static_cast<size_t>(n));
    size_t paren = stat.rfind(')');
    if (paren == std::string_view::npos || paren + 2 >= stat.size()) return;
    if (std::strchr("ZXx", stat[paren + 2])) return;
    usleep(1000);
  }
}
}  // namespace

void AddRunningProcess(int map_fd, int proc_dir, uint32_t pid, const std::vector<ExeFile>& files,
                       const std::function<void()>& before_insert) {
  bool running;
  uint64_t bits = RunsBits(proc_dir, files, &running);
  if (!bits) return;
  if (before_insert) before_insert();
  // (BPF_NOEXIST: what the programs recorded since they were attached is newer.)
  if (bpf_map_update_elem(map_fd, &pid, &bits, BPF_NOEXIST) != 0) return;
  // The programs are attached, so whatever the process did before the insert went
  // unseen only if it happened between the first look and the insert. proc_dir names
  // this process, never a later one given the same pid, so a second look tells.
  uint64_t now = RunsBits(proc_dir, files, &running);
  if (running && now == bits) return;
  if (running && now) {
    // An exec into another of the files: set as track_exe_exec does.
    bpf_map_update_elem(map_fd, &pid, &now, BPF_ANY);
    return;
  }
  // Left (or exec'd a file of none): the entry is stale unless track_exe_exit runs after
  // the insert; once the process is past it, removing the entry is right either way
  // (short of a new process given the same pid meanwhile: the pids wrapping around).
  if (!running) WaitExited(proc_dir);
  bpf_map_delete_elem(map_fd, &pid);
}

void AddRunningProcesses(struct bpf_object* bpf, const UserSide& user) {
  bpf_map* map = bpf_object__find_map_by_name(bpf, meta::kExeProcsMap);
  if (!map) return;
  std::vector<ExeFile> files;
  for (const std::string& name : user.RuntimeVariables(meta::kExePrefix)) {
    uint64_t bit = std::strtoull(name.c_str() + std::strlen(meta::kExePrefix), nullptr, 10);
    std::span<uint8_t> data = user.GlobalData(name);
    if (bit >= 64 || data.size() < 16) continue;
    ExeFile f{bit, 0, 0};
    std::memcpy(&f.ino, data.data(), 8);
    std::memcpy(&f.dev, data.data() + 8, 8);
    files.push_back(f);
  }
  DIR* proc = opendir("/proc");
  if (!proc) return;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    unsigned long pid = std::strtoul(entry->d_name, &end, 10);
    if (!pid || *end) continue;
    int dir = openat(dirfd(proc), entry->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) continue;
    AddRunningProcess(bpf_map__fd(map), dir, static_cast<uint32_t>(pid), files);
    close(dir);
  }
  closedir(proc);
}

bool SetLoadFacts(const UserSide& user, const meta::Meta& meta, std::string* error) {
  if (uint64_t* pid = user.RuntimeVariable("__btap_stp_pid"))
    *pid = static_cast<uint64_t>(getpid());
  if (uint64_t* uid = user.RuntimeVariable("__btap_stp_uid"))
    *uid = static_cast<uint64_t>(getuid());
  // CONFIG_ options probe bodies read: this kernel's, where its configuration says.
  std::vector<std::string> options = user.RuntimeVariables(meta::kKconfigPrefix);
  if (KernelConfig config; !options.empty() && !config.source().empty()) {
    for (const std::string& name : options)
      if (uint64_t* value = user.RuntimeVariable(name))
        *value = static_cast<uint64_t>(KconfigNumber(
            config.Get(std::string_view(name).substr(std::strlen(meta::kKconfigPrefix)))));
  }
  // The namespaces the ns_* functions see ids in: this process's.
  if (uint64_t* facts = user.RuntimeVariable(meta::kNsFacts)) FillNsFacts(facts);
  // Kernel symbols the tapsets read by address (avenrun): this boot's.
  for (const std::string& name : user.RuntimeVariables(meta::kKsymPrefix)) {
    std::string symbol = name.substr(std::strlen(meta::kKsymPrefix));
    uint64_t address = KernelSymbolAddress(symbol);
    if (!address) {
      *error = "cannot find the kernel symbol `" + symbol +
               "` in /proc/kallsyms (a kernel without CONFIG_KALLSYMS_ALL lists no variables "
               "there; addresses need root and kernel.kptr_restrict below 2)";
      return false;
    }
    if (uint64_t* value = user.RuntimeVariable(name)) *value = address;
  }
  // Kernel and module variables placed by DWARF: their addresses are that build's.
  if (!meta.kernel_build_id.empty()) {
    std::string here = RunningKernelBuildId();
    if (here != meta.kernel_build_id) {
      *error = "the object reads kernel variables at the addresses of the kernel with build id " +
               meta.kernel_build_id + " (from its DWARF), and this kernel's is " +
               (here.empty() ? "unknown" : here) + "; compile the script again for this kernel";
      return false;
    }
  }
  if (uint64_t* slide = user.RuntimeVariable(meta::kKernelSlide)) {
    std::vector<uint64_t> anchor = KernelTextAddresses(meta::kKernelAnchor);
    if (anchor.empty()) {
      *error = std::string(
                   "cannot find kernel variables: /proc/kallsyms does not give the "
                   "address of `") +
               meta::kKernelAnchor + "` (run as root, with kernel.kptr_restrict below 2)";
      return false;
    }
    *slide += anchor[0];
  }
  // Module variables: where this boot loaded their module's sections.
  for (const std::string& name : user.RuntimeVariables(meta::kModuleSectionPrefix)) {
    std::string hex = name.substr(std::strlen(meta::kModuleSectionPrefix)), text;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      text += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    size_t space = text.find(' ');
    if (space == std::string::npos) continue;
    std::string module = text.substr(0, space),
                path = "/sys/module/" + module + "/sections/" + text.substr(space + 1);
    std::ifstream in(path);
    uint64_t base = 0;
    in >> std::hex >> base;
    if (!base) {
      *error = "cannot find where module `" + module + "` was loaded: `" + path + "` " +
               (in ? "reads 0 (run as root)" : "cannot be read (is the module loaded?)");
      return false;
    }
    if (uint64_t* value = user.RuntimeVariable(name)) *value = base;
  }
  return SetExeFiles(user, error);
}

}  // namespace btap::runtime
