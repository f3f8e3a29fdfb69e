// Netfilter probes: BPF netfilter programs (Linux 6.4+) linked to a hook with
// BPF_LINK_CREATE. The system's libbpf (1.1) and uapi headers predate them: the program
// type, the attach type and the link's attributes are defined here, and the link is made
// with the bpf() system call; its descriptor is the link (closing it unhooks the program).
#include <errno.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>

#include "runtime/attach/attach.h"

namespace btap::runtime {
namespace {

// What linux/bpf.h of Linux 6.4 adds (enum bpf_prog_type, enum bpf_attach_type, and
// union bpf_attr's link_create with its netfilter member).
constexpr int kProgTypeNetfilter = 32;  // BPF_PROG_TYPE_NETFILTER
constexpr int kAttachNetfilter = 45;    // BPF_NETFILTER
struct NetfilterLinkCreate {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint32_t pf;
  uint32_t hooknum;
  int32_t priority;
  uint32_t netfilter_flags;
};

}  // namespace

// A program of the type must load (the kernel knows the type, and its verifier the
// attach type): a kernel before 6.4, or built without CONFIG_NETFILTER_BPF_LINK, refuses.
bool KernelHasNetfilterLinks() {
  static const bool has = [] {
    const bpf_insn code[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},  // NF_ACCEPT
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, load);
    load.expected_attach_type = static_cast<bpf_attach_type>(kAttachNetfilter);
    int fd = bpf_prog_load(static_cast<bpf_prog_type>(kProgTypeNetfilter), nullptr, "GPL", code, 2,
                           &load);
    if (fd < 0) return false;
    close(fd);
    return true;
  }();
  return has;
}

bool PrepareNetfilter(bpf_object* object, const meta::Meta& meta, std::string* error) {
  for (const meta::Probe& p : meta.probes) {
    if (static_cast<meta::ProbeKind>(p.family) != meta::ProbeKind::Netfilter) continue;
    if (!KernelHasNetfilterLinks()) {
      *error = "cannot attach `" + p.point +
               "`: this kernel has no BPF netfilter links, which netfilter probes need "
               "(Linux 6.4 and later has them, built with CONFIG_NETFILTER_BPF_LINK)";
      return false;
    }
    bpf_program* program = bpf_object__find_program_by_name(object, p.program.c_str());
    if (!program) continue;  // Attach says so
    bpf_program__set_type(program, static_cast<bpf_prog_type>(kProgTypeNetfilter));
    bpf_program__set_expected_attach_type(program, static_cast<bpf_attach_type>(kAttachNetfilter));
  }
  return true;
}

// The link for `priority`: its descriptor, or -1 with errno set.
static int LinkAt(bpf_program* program, const meta::Probe& probe, int32_t priority) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  NetfilterLinkCreate link{};
  static_assert(sizeof link <= sizeof attr);
  link.prog_fd = static_cast<uint32_t>(bpf_program__fd(program));
  link.attach_type = kAttachNetfilter;
  link.pf = static_cast<uint32_t>(probe.numbers[0]);
  link.hooknum = static_cast<uint32_t>(probe.numbers[1]);
  link.priority = priority;
  std::memcpy(&attr, &link, sizeof link);
  return static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof attr));
}

// The kernel gives a BPF hook a priority no other hook of the family's hook has (EBUSY):
// the filter tables of iptables and nftables sit at 0, stap's default. A probe that
// named no priority (meta::kNetfilterNearest) takes the free one nearest to it.
bool AttachNetfilter(bpf_program* program, const meta::Probe& probe, std::vector<int>& fds,
                     std::string* error) {
  int32_t wanted = static_cast<int32_t>(probe.numbers[2]);
  bool nearest = probe.target == meta::kNetfilterNearest;
  int fd = -1, err = 0;
  int32_t priority = wanted;
  for (int32_t step = 0; step <= (nearest ? 64 : 0); ++step) {
    for (int32_t sign : {1, -1}) {
      if (step == 0 && sign < 0) continue;
      priority = wanted + sign * step;
      fd = LinkAt(program, probe, priority);
      err = errno;
      if (fd >= 0 || err != EBUSY) break;
    }
    if (fd >= 0 || err != EBUSY) break;
  }
  if (fd >= 0) {
    fds.push_back(fd);
    return true;
  }
  std::string at = "at priority " + std::to_string(priority);
  if (nearest && err == EBUSY)
    at = "at any priority from " + std::to_string(wanted - 64) + " to " +
         std::to_string(wanted + 64);
  *error = "cannot attach `" + probe.point + "` " + at + ": " + std::strerror(err);
  if (err == EAFNOSUPPORT || err == EPROTO)
    *error += " (this kernel's BPF netfilter links do not take that family or hook)";
  if (err == ERANGE) *error += " (this kernel's BPF netfilter links do not take that priority)";
  if (err == EBUSY)
    *error += nearest ? " (every one has a hook already)"
                      : " (another hook has that priority, and the kernel gives a BPF program "
                        "a priority of its own: choose another)";
  if (err == EPERM) *error += " (it needs CAP_NET_ADMIN)";
  return false;
}

}  // namespace btap::runtime
