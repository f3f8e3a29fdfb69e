// kernel.lsm probes attach as BPF LSM programs (section lsm/HOOK; codegen returns 0 from
// them, so no hook is denied). The kernel calls them only where `bpf` is one of its active
// LSMs (/sys/kernel/security/lsm; securityfs is mounted for the read when missing): elsewhere an
// attached program would never run, so attaching fails with the boot option to use.
#include <bpf/libbpf.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/attach/attach.h"

namespace btap::runtime {
namespace {

constexpr char kLsmList[] = "/sys/kernel/security/lsm";

// The kernel's active LSMs, comma-separated ("" when securityfs cannot be read). A
// securityfs mounted here to read them is unmounted again: the machine is left as found.
std::string ActiveLsms() {
  constexpr char kSecurityfs[] = "/sys/kernel/security";
  struct stat st;
  bool mounted =
      stat(kLsmList, &st) != 0 && mount("securityfs", kSecurityfs, "securityfs", 0, nullptr) == 0;
  std::stringstream text;
  {
    std::ifstream in(kLsmList);
    text << in.rdbuf();
  }
  if (mounted) umount2(kSecurityfs, MNT_DETACH);
  return text.str();
}

}  // namespace

bool BpfLsmEnabled(std::string* active) {
  static const std::string lsms = ActiveLsms();
  if (active) *active = lsms;
  std::stringstream list(lsms);
  for (std::string name; std::getline(list, name, ',');)
    if (name == "bpf" || name == "bpf\n") return true;
  return false;
}

bool AttachLsm(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
               std::string* error) {
  std::string active;
  if (!BpfLsmEnabled(&active)) {
    while (!active.empty() && active.back() == '\n') active.pop_back();
    *error = "cannot attach `" + probe.point +
             "`: BPF LSM is not enabled: boot with lsm=" + (active.empty() ? "..." : active) +
             ",bpf";
    return false;
  }
  if (bpf_link* link = bpf_program__attach_lsm(program)) {
    links.push_back(link);
    return true;
  }
  *error = "cannot attach `" + probe.point + "`: " + std::strerror(errno);
  return false;
}

}  // namespace btap::runtime
