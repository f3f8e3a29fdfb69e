// kernel.trace probes attach as raw tracepoints, by event name (the system part of
// "sys:name" only served to find the event; no tracefs is needed for that), or, when
// their $vars are fields of the tracefs record (numbers[0] == 1), as classic tracepoints,
// whose id libbpf reads from tracefs: it is mounted first when missing.
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "common/tracefs.h"
#include "runtime/attach/attach.h"

namespace btap::runtime {

bool AttachTracepoint(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                      std::string* error) {
  size_t colon = probe.target.find(':');
  std::string event = probe.target.substr(colon + 1);
  if (probe.numbers[0] == 1) {
    FindTracefs();  // libbpf reads the event's id there
    std::string system = colon == std::string::npos ? "" : probe.target.substr(0, colon);
    bpf_link* link = bpf_program__attach_tracepoint(program, system.c_str(), event.c_str());
    if (!link) {
      *error = "cannot attach `" + probe.point + "`: " + std::strerror(errno);
      return false;
    }
    links.push_back(link);
    return true;
  }
  bpf_link* link = bpf_program__attach_raw_tracepoint(program, event.c_str());
  if (!link) {
    *error = "cannot attach `" + probe.point + "`: " + std::strerror(errno);
    return false;
  }
  links.push_back(link);
  return true;
}

}  // namespace btap::runtime
