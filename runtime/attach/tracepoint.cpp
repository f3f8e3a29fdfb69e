// kernel.trace probes attach as raw tracepoints, by event name (the system part of
// "sys:name" only served to find the event); no tracefs is needed for that.
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "runtime/attach/attach.h"

namespace btap::runtime {

bool AttachTracepoint(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                      std::string* error) {
  std::string event = probe.target.substr(probe.target.find(':') + 1);
  bpf_link* link = bpf_program__attach_raw_tracepoint(program, event.c_str());
  if (!link) {
    *error = "cannot attach `" + probe.point + "`: " + std::strerror(errno);
    return false;
  }
  links.push_back(link);
  return true;
}

}  // namespace btap::runtime
