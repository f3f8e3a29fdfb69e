// kernel.trace probes attach as raw tracepoints, by event name (the system part of
// "sys:name" only served to find the event; no tracefs is needed for that), or, when
// their $vars are fields of the tracefs record (numbers[0] == 1), as classic tracepoints,
// whose id libbpf reads from tracefs: it is mounted first when missing. The program arrays
// of the raw_syscalls dispatchers are filled here too.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/tracefs.h"
#include "runtime/attach/attach.h"
#include "runtime/core_relocations.h"

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

bool FillTailSlots(bpf_object* object, const meta::Meta& meta, std::string* error) {
  for (const meta::TailSlot& t : meta.tail_slots) {
    bpf_map* map = bpf_object__find_map_by_name(object, t.map.c_str());
    bpf_program* program = bpf_object__find_program_by_name(object, t.program.c_str());
    if (!map || !program) {
      *error = "the object has no " + std::string(map ? "program `" + t.program : "map `" + t.map) +
               "` for `" + t.point + "`";
      return false;
    }
    if (bpf_program__fd(program) < 0) {
      *error = "the program `" + t.program + "` of `" + t.point + "` was not loaded";
      return false;
    }
    int fd = bpf_program__fd(program);
    if (bpf_map_update_elem(bpf_map__fd(map), &t.slot, &fd, BPF_ANY) != 0) {
      *error = "cannot put the program of `" + t.point + "` in its dispatcher's slot " +
               std::to_string(t.slot) + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

std::vector<std::string> MissingSyscalls(const meta::Meta& meta, const std::string& tracefs) {
  std::vector<std::string> missing;
  struct stat st;
  std::string events = tracefs + "/events/syscalls/";
  if (meta.syscalls.empty() || tracefs.empty() || stat(events.c_str(), &st) != 0) return missing;
  for (const meta::NamedSyscall& s : meta.syscalls) {
    if (stat((events + "sys_enter_" + s.name).c_str(), &st) == 0) continue;
    missing.push_back("this kernel has no system call `" + s.name + "`, probed as `" + s.point +
                      "`" + (s.where.empty() ? "" : " at " + s.where) +
                      " (the object was compiled for a kernel that has it: compile the script "
                      "for this kernel, or make the probe point optional with `?`)");
  }
  return missing;
}

bool KernelHasBareTracepoint(KernelTypes& kernel, const std::string& event) {
  return !kernel.Named("btf_trace_" + event, BTF_KIND_TYPEDEF).empty();
}

std::vector<std::string> MissingTracepoints(
    const meta::Meta& meta, const std::string& tracefs,
    const std::function<bool(const std::string& event)>& bare_tracepoint) {
  std::vector<std::string> missing;
  struct stat st;
  std::string events = tracefs + "/events/";
  if (tracefs.empty() || stat(events.c_str(), &st) != 0) return missing;
  for (const meta::Probe& p : meta.probes) {
    if (static_cast<meta::ProbeKind>(p.family) != meta::ProbeKind::Tracepoint) continue;
    size_t colon = p.target.find(':');
    std::string event = p.target.substr(colon + 1);
    if (colon != std::string::npos &&
        stat((events + p.target.substr(0, colon) + "/" + event).c_str(), &st) == 0)
      continue;
    // A tracepoint with no trace event (a bare one) is known by its BTF type only.
    if (bare_tracepoint && bare_tracepoint(event)) continue;
    missing.push_back("this kernel has no tracepoint `" + p.target + "`, probed as `" + p.point +
                      "`" + (p.where.empty() ? "" : " at " + p.where) +
                      " (the object was compiled for a kernel that has it: compile the script "
                      "for this kernel)");
  }
  return missing;
}

}  // namespace btap::runtime
