// Attaching one probe's program, by probe kind: each kind has its own file here
// (libbpf's per-type attach functions), as probe families have theirs in semantic/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/object_meta.h"

struct bpf_link;
struct bpf_object;
struct bpf_program;

namespace btap::runtime {

class KernelTypes;

// Appends the links it creates (several for per-CPU events), or for links libbpf cannot
// hold (netfilter's) their descriptors to `link_fds`; on failure returns false with a
// message naming the probe point. A point that a wildcard matched when the script was
// compiled and that this kernel does not have is added to `missing` instead.
bool AttachProbe(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                 std::vector<int>& link_fds, std::vector<std::string>& missing, std::string* error);

// Destroys every link (null entries are skipped) and empties `links`. Detaching a classic
// tracepoint (a perf event) or a uprobe waits for the kernel's RCU grace periods, ~60 ms
// each: 720 classic tracepoints took 43 s to detach one after another. Waits that overlap
// share their grace periods, so many links are destroyed from several threads at once.
// That is safe for the link kinds btap attaches (raw and classic tracepoints, kprobes,
// multi-kprobes, fentry, uprobes, perf events): each destroy touches only its own link,
// and libbpf's log sink is per thread. It is NOT safe for libbpf's USDT links
// (bpf_program__attach_usdt), which share their usdt_manager's state (its spec ids):
// those would have to be destroyed on one thread.
void DetachAll(std::vector<bpf_link*>& links);

// What to add to a load error whose verifier log says a program called a helper its type
// may not ("" when it does not say so); `netfilter`: the program is a netfilter probe's.
std::string HelperNote(const std::string& log, bool netfilter);

// A probe's target as lines (a wildcard's kernel functions, one per line).
std::vector<std::string> TargetLines(const std::string& text);

// `btaprun -L`: each probe point, with a note (after `  # `) where this machine would not
// attach it as compiled (preview.cpp).
std::vector<std::string> PreviewAttachments(const meta::Meta& meta);

// Puts each program of the object's tail slots (meta::TailSlot) in its program array;
// after the object loads, before any probe attaches, so that no dispatcher runs on an
// empty slot (false, with a message, when a program or map is missing or refused).
bool FillTailSlots(bpf_object* object, const meta::Meta& meta, std::string* error);

// The system calls the object's probes name (meta::NamedSyscall) that this kernel lacks,
// by its `syscalls:sys_enter_*` events under the tracefs at `tracefs`: one message each
// ("" when all are here, or when this kernel has no such events to tell).
std::vector<std::string> MissingSyscalls(const meta::Meta& meta, const std::string& tracefs);

// Whether the kernel has a tracepoint with no trace event (a bare one) of this name: its
// `btf_trace_NAME` type is in vmlinux's BTF or, failing that, a loaded module's
// (KernelTypes::Running() reads them when first asked).
bool KernelHasBareTracepoint(KernelTypes& kernel, const std::string& event);

// The tracepoints the object's probes attach to that this kernel lacks: neither under the
// tracefs at `tracefs` nor, for a tracepoint without an event there, a bare one that
// `bare_tracepoint` knows (KernelHasBareTracepoint; may be empty). One message each, at the
// probe; none when there is no tracefs to tell.
std::vector<std::string> MissingTracepoints(
    const meta::Meta& meta, const std::string& tracefs,
    const std::function<bool(const std::string& event)>& bare_tracepoint);

bool AttachTracepoint(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                      std::string* error);

bool KernelHasSleepableUprobes();
// BPF_TRACE_UPROBE_MULTI (Linux 6.6), which libbpf 1.1's headers predate.
inline constexpr uint32_t kTraceUprobeMulti = 48;
bool KernelHasUprobeMulti();
// Before the object loads: uprobe programs whose user reads may fault pages in are
// loaded sleepable where the kernel allows it (codegen/lower_sleep.cpp); a program that a
// wildcard's functions share expects a multi-uprobe link where the kernel has them
// (BTAP_UPROBE_MULTI=0 in the environment declines them).
void PrepareUprobes(bpf_object* object, const meta::Meta& meta);
// A multi-uprobe link is a descriptor in `link_fds` (libbpf 1.1 cannot hold one).
bool AttachUprobe(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                  std::vector<int>& link_fds, std::string* error);
// Raises the soft limit on open descriptors to the hard one: a uprobe attached on its own
// holds two.
void RaiseDescriptorLimit();
// In a child before exec (the -c command, system()): the limit the process had before
// RaiseDescriptorLimit, so the command runs as it would untraced. Async-signal-safe.
void RestoreDescriptorLimit();
// What to add to an error `err` (an errno) when the process ran out of descriptors; ""
// for any other error. `programs` counts the object's programs when loading them failed.
std::string DescriptorNote(int err, size_t programs = 0);

// The first `shown` of `names`, joined by ", ", then ", ..." when there are more: how
// warnings name the probe points they are about.
std::string FirstNames(const std::vector<std::string>& names, size_t shown = 5);

// A timer probe's period: timer.jiffies(N) is N ticks of the running kernel's HZ.
int64_t TimerPeriodNs(const meta::Probe& probe);

bool KernelHasKprobes();
bool KernelHasKprobeMulti();
// Before the object loads: a program shared by a wildcard's functions expects a
// multi-kprobe link where the kernel has them; a probe with an fentry copy loads that
// instead of its kprobe where `fentry` and the kernel allow (fentry.cpp), `probe.program`
// then naming it. True when it does.
bool PrepareKprobe(bpf_object* object, meta::Probe& probe, bool fentry);
bool UseFentry(const meta::Probe& probe);
bool AttachFentry(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                  std::string* error);
bool AttachKprobe(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                  std::vector<std::string>& missing, std::string* error);

// kernel.lsm: a BPF LSM program (lsm.cpp), refused where `bpf` is no active LSM.
bool AttachLsm(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
               std::string* error);
// Whether `bpf` is among the kernel's active LSMs; `active`: their list.
bool BpfLsmEnabled(std::string* active);

// Netfilter probes (netfilter.cpp): BPF netfilter programs, Linux 6.4+. Before the object
// loads, their programs get their type (false, saying why, on a kernel without them).
bool KernelHasNetfilterLinks();
bool PrepareNetfilter(bpf_object* object, const meta::Meta& meta, std::string* error);
bool AttachNetfilter(bpf_program* program, const meta::Probe& probe, std::vector<int>& link_fds,
                     std::string* error);

bool AttachPerf(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                std::string* error);

}  // namespace btap::runtime
