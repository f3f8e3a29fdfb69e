// Dispatch from a probe's kind to the file that attaches it, and detaching them all.
#include "runtime/attach/attach.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

namespace btap::runtime {

std::vector<std::string> TargetLines(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (end > at) out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

std::string HelperNote(const std::string& log, bool netfilter) {
  static constexpr std::string_view kNoHelper = "program of this type cannot use helper ";
  size_t at = log.find(kNoHelper);
  if (at == std::string::npos) return "";
  size_t from = at + kNoHelper.size();
  std::string helper = log.substr(from, log.find_first_of("#\n", from) - from);
  if (netfilter)
    return " (netfilter probes are BPF netfilter programs, which have only the kernel's basic "
           "helpers: " +
           helper + ", which a function the handler calls needs, is not one)";
  return " (this probe's kind of BPF program cannot call " + helper +
         ", which a function the handler calls needs)";
}

bool AttachProbe(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                 std::vector<int>& link_fds, std::vector<std::string>& missing,
                 std::string* error) {
  switch (static_cast<meta::ProbeKind>(probe.family)) {
    case meta::ProbeKind::Tracepoint:
      return AttachTracepoint(program, probe, links, error);
    case meta::ProbeKind::Timer:
    case meta::ProbeKind::TimerProfile:
    case meta::ProbeKind::Perf:
      return AttachPerf(program, probe, links, error);
    case meta::ProbeKind::Kprobe:
    case meta::ProbeKind::Kretprobe:
      return AttachKprobe(program, probe, links, missing, error);
    case meta::ProbeKind::Uprobe:
    case meta::ProbeKind::Uretprobe:
      return AttachUprobe(program, probe, links, link_fds, error);
    case meta::ProbeKind::Netfilter:
      return AttachNetfilter(program, probe, link_fds, error);
    case meta::ProbeKind::Lsm:
      return AttachLsm(program, probe, links, error);
    default:
      *error = "probe `" + probe.point + "`: attaching this kind of probe is not supported yet";
      return false;
  }
}

void DetachAll(std::vector<bpf_link*>& links) {
  constexpr size_t kPerThread = 8;    // fewer links are destroyed here alone
  constexpr size_t kMaxThreads = 64;  // enough to share each grace period widely
  std::atomic<size_t> next{0};
  auto destroy = [&] {
    for (size_t i; (i = next.fetch_add(1)) < links.size();) bpf_link__destroy(links[i]);
  };
  std::vector<std::thread> helpers;
  size_t wanted = std::min(kMaxThreads, links.size() / kPerThread);
  for (size_t t = 1; t < wanted; ++t) {
    try {
      helpers.emplace_back(destroy);
    } catch (const std::system_error&) {
      break;  // no more threads: the ones there are (or this one) do the rest
    }
  }
  destroy();
  for (std::thread& t : helpers) t.join();
  links.clear();
}

std::string FirstNames(const std::vector<std::string>& names, size_t shown) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += ", ...";
  return out;
}

}  // namespace btap::runtime
