// process(...) function, statement and mark probes: uprobes and uretprobes on a file
// offset of a program or library (the object's metadata holds path and offset), with the
// SDT semaphore's offset as the uprobe reference counter.
#include <bpf/libbpf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "runtime/attach/attach.h"

namespace btap::runtime {

bool AttachUprobe(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                  std::string* error) {
  struct stat st;
  if (stat(probe.target.c_str(), &st) != 0) {
    *error = "cannot attach `" + probe.point + "`: `" + probe.target + "`: " + std::strerror(errno);
    return false;
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
