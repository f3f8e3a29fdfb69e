// kernel.function probes: kprobes and kretprobes on a kernel function, found by name at
// load time in the running kernel (its kallsyms), so that the object does not depend on
// the addresses of the kernel it was compiled against.
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/tracefs.h"
#include "runtime/attach/attach.h"

namespace btap::runtime {

// Whether this kernel can place kprobes: the kprobe PMU, or the tracefs interface that
// older kernels offer instead.
bool KernelHasKprobes() {
  if (access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0) return true;
  std::string root = FindTracefs();
  return !root.empty() && access((root + "/kprobe_events").c_str(), F_OK) == 0;
}

bool AttachKprobe(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                  std::vector<std::string>& missing, std::string* error) {
  if (!KernelHasKprobes()) {
    *error = "cannot attach `" + probe.point +
             "`: this kernel cannot probe functions: it was built without kprobes "
             "(CONFIG_KPROBES); kernel.function probes need a kernel that has them";
    return false;
  }
  LIBBPF_OPTS(bpf_kprobe_opts, opts);
  opts.retprobe = static_cast<meta::ProbeKind>(probe.family) == meta::ProbeKind::Kretprobe;
  bpf_link* link = bpf_program__attach_kprobe_opts(program, probe.target.c_str(), &opts);
  if (!link) {
    int err = errno;
    // A wildcard's function that this kernel lacks (the object was compiled for another).
    if (probe.numbers[0] == 1 && (err == ENOENT || err == EINVAL)) {
      missing.push_back(probe.point);
      return true;
    }
    *error = "cannot attach `" + probe.point + "`: " + std::strerror(err);
    if (err == ENOENT || err == EINVAL)
      *error += " (this kernel has no traceable function `" + probe.target +
                "`; was the script compiled for another kernel?)";
    return false;
  }
  links.push_back(link);
  return true;
}

}  // namespace btap::runtime
