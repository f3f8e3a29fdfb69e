// What the runtime writes into an object's runtime variables when it loads (see
// load_facts.h).
#include "runtime/load_facts.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fstream>
#include <sstream>
#include <string>
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

uint64_t SuperblockDevice(const std::string& path, const struct stat& st) {
  uint64_t fallback = (static_cast<uint64_t>(major(st.st_dev)) << 20) | minor(st.st_dev);
  struct statx stx;
  if (statx(AT_FDCWD, path.c_str(), 0, STATX_MNT_ID, &stx) != 0 || !(stx.stx_mask & STATX_MNT_ID))
    return fallback;
  static const std::string mountinfo = [] {
    std::ifstream in("/proc/self/mountinfo");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }();
  return MountinfoDevice(mountinfo, stx.stx_mnt_id).value_or(fallback);
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
    uint64_t ino = st.st_ino, dev = SuperblockDevice(path, st);
    std::memcpy(data.data(), &ino, 8);
    std::memcpy(data.data() + 8, &dev, 8);
  }
  return true;
}
}  // namespace

void AddRunningProcesses(struct bpf_object* bpf, const UserSide& user) {
  bpf_map* map = bpf_object__find_map_by_name(bpf, meta::kExeProcsMap);
  if (!map) return;
  std::vector<std::pair<uint64_t, std::span<uint8_t>>> files;  // bit, {ino, dev, PATH}
  for (const std::string& name : user.RuntimeVariables(meta::kExePrefix)) {
    uint64_t bit = std::strtoull(name.c_str() + std::strlen(meta::kExePrefix), nullptr, 10);
    std::span<uint8_t> data = user.GlobalData(name);
    if (bit < 64 && data.size() >= 16) files.emplace_back(bit, data);
  }
  DIR* proc = opendir("/proc");
  if (!proc) return;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    unsigned long pid = std::strtoul(entry->d_name, &end, 10);
    struct stat st;
    std::string exe = "/proc/" + std::string(entry->d_name) + "/exe";
    if (!pid || *end || stat(exe.c_str(), &st) != 0) continue;
    uint64_t ino = st.st_ino, dev = SuperblockDevice(exe, st);
    uint64_t bits = 0;
    for (const auto& [bit, data] : files) {
      uint64_t want[2];
      std::memcpy(want, data.data(), 16);
      if (want[0] == ino && want[1] == dev) bits |= uint64_t{1} << bit;
    }
    auto key = static_cast<uint32_t>(pid);
    // (BPF_NOEXIST: what the programs recorded since they were attached is newer.)
    if (bits) bpf_map_update_elem(bpf_map__fd(map), &key, &bits, BPF_NOEXIST);
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
