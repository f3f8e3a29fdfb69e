// Probes driven by perf events: kernel-side timers (the software CPU clock on one CPU),
// timer.profile (that clock on every CPU), perf.type(T).config(C).sample(N) and
// kernel.data(...) watchpoints (a breakpoint event on every CPU).
#include <bpf/libbpf.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/kallsyms.h"
#include "common/kernel_config.h"
#include "runtime/attach/attach.h"

namespace btap::runtime {
namespace {

bool Open(bpf_program* program, const meta::Probe& probe, perf_event_attr attr, bool every_cpu,
          std::vector<bpf_link*>& links, std::string* error) {
  int cpus = every_cpu ? libbpf_num_possible_cpus() : 1;
  int attached = 0, last_errno = 0;
  for (int cpu = 0; cpu < cpus; ++cpu) {
    int fd =
        static_cast<int>(syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0) {
      last_errno = errno;
      continue;  // an offline CPU
    }
    bpf_link* link = bpf_program__attach_perf_event(program, fd);
    if (!link) {
      last_errno = errno;
      close(fd);
      continue;
    }
    links.push_back(link);
    ++attached;
  }
  if (attached) return true;
  *error = "cannot attach `" + probe.point + "`: " + std::strerror(last_errno);
  return false;
}

}  // namespace

int64_t TimerPeriodNs(const meta::Probe& probe) {
  if (probe.period_ns > 0) return probe.period_ns;
  // A tick: timer.profile fires on each, timer.jiffies(N) every N. Without a readable
  // configuration (no /boot/config-*, no /proc/config.gz), 250 Hz, the common default.
  int hz = RunningKernelHz();
  int64_t tick = 1000000000 / (hz > 0 ? hz : 250);
  return probe.numbers[2] > 0 ? probe.numbers[2] * tick : tick;
}

bool AttachPerf(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                std::string* error) {
  perf_event_attr attr{};
  attr.size = sizeof attr;
  auto kind = static_cast<meta::ProbeKind>(probe.family);
  meta::HwBreakpoint watch;
  if (kind == meta::ProbeKind::Perf && probe.numbers[0] == PERF_TYPE_BREAKPOINT &&
      meta::ParseHwBreakpoint(probe.target, &watch)) {
    uint64_t address = static_cast<uint64_t>(probe.numbers[1]);
    if (!watch.symbol.empty()) address = KernelSymbolAddress(watch.symbol);
    if (!address) {
      *error = "cannot attach `" + probe.point + "`: no kernel symbol `" + watch.symbol +
               "` in /proc/kallsyms";
      return false;
    }
    attr.type = PERF_TYPE_BREAKPOINT;
    attr.bp_type = watch.rw ? HW_BREAKPOINT_RW : HW_BREAKPOINT_W;
    attr.bp_addr = address;
    attr.bp_len = static_cast<uint64_t>(watch.length);
    attr.sample_period = 1;
    // (Every CPU holds at most 4 watchpoints: a fifth fails to open, ENOSPC.)
    return Open(program, probe, attr, true, links, error);
  }
  if (kind == meta::ProbeKind::Perf) {
    attr.type = static_cast<uint32_t>(probe.numbers[0]);
    attr.config = static_cast<uint64_t>(probe.numbers[1]);
    // .sample(N) counts events; .hz(N) (a negative number here) asks the kernel to adjust
    // the period so the probe fires N times a second.
    if (probe.numbers[2] < 0) {
      attr.freq = 1;
      attr.sample_freq = static_cast<uint64_t>(-probe.numbers[2]);
    } else {
      attr.sample_period = probe.numbers[2] > 0 ? static_cast<uint64_t>(probe.numbers[2]) : 1000000;
    }
    return Open(program, probe, attr, true, links, error);
  }
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.sample_period = static_cast<uint64_t>(TimerPeriodNs(probe));
  return Open(program, probe, attr, kind == meta::ProbeKind::TimerProfile, links, error);
}

}  // namespace btap::runtime
