// Opening and loading a session's object (see session.h): libbpf's log captured for the
// error a refused load gives (the verifier's last words and the script line it stopped
// at), the kernel terms an object was compiled under checked again, the kprobe/fentry
// choice, and the clocks and time zone the runtime variables need before any probe runs.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/kernel_config.h"
#include "common/kernel_terms.h"
#include "common/tracefs.h"
#include "runtime/attach/attach.h"
#include "runtime/core_relocations.h"
#include "runtime/load_facts.h"
#include "runtime/object.h"
#include "runtime/session.h"
#include "runtime/user_side.h"

namespace btap::runtime {
namespace {

constexpr char kOutputMap[] = "btap_output";

// libbpf reports through one global callback; a load collects what it says (per thread,
// so that sessions in several threads keep their logs apart).
std::mutex log_mutex;
thread_local std::string* log_sink = nullptr;

int CaptureLibbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || !log_sink) return 0;
  // A verifier log arrives as one message, often far longer than any fixed buffer.
  va_list again;
  va_copy(again, args);
  int n = vsnprintf(nullptr, 0, format, args);
  if (n > 0) {
    std::string text(static_cast<size_t>(n) + 1, '\0');
    vsnprintf(text.data(), text.size(), format, again);
    text.pop_back();
    log_sink->append(text);
  }
  va_end(again);
  return 0;
}

// The last `lines` lines of a log: a verifier log ends with what it rejected.
std::string Tail(const std::string& log, int lines) {
  size_t at = log.size();
  for (int i = 0; i <= lines && at != std::string::npos && at > 0; ++i)
    at = log.rfind('\n', at - 1);
  // An empty log (libbpf said nothing above debug level) has no line to start after.
  return at == std::string::npos || at >= log.size() ? log : log.substr(at + 1);
}

// The verifier quotes the source line of the instructions it checks (BTF line info) as
// "; <line text> @ <file>:<line>"; the last quote before the rejection is where it
// stopped.
std::string VerifierLocation(const std::string& log) {
  size_t at = log.rfind("\n; ");
  if (at == std::string::npos) return "";
  size_t end = log.find('\n', at + 1);
  std::string quote =
      log.substr(at + 3, end == std::string::npos ? std::string::npos : end - at - 3);
  size_t marker = quote.rfind(" @ ");
  if (marker == std::string::npos) return "";
  std::string where = quote.substr(marker + 3);
  std::string text = quote.substr(0, marker);
  size_t first = text.find_first_not_of(" \t");
  return where + ": " + (first == std::string::npos ? text : text.substr(first));
}

uint64_t Now(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

}  // namespace

bool Session::Open(std::vector<uint8_t> object, std::string* error) {
  object_ = std::move(object);
  return OpenObject(true, error);
}

bool Session::OpenObject(bool fentry, std::string* error) {
  if (!ReadObjectMeta(object_, &meta_, error)) return false;
  if (!PlaceHelperSdtMarks(meta_, error)) return false;
  if (!formatter_.Init(meta_, error)) return false;
  RaiseDescriptorLimit();  // (uprobes attached one by one hold two descriptors each)
  bpf_ = OpenBpfObject(error);
  if (!bpf_) return false;
  // Global data is shared with the interpreter through mmap (libbpf 1.1 leaves the
  // flag off unless the object is a skeleton).
  for (const char* section : {".bss", ".data", ".rodata"})
    if (bpf_map* map = bpf_object__find_map_by_name(bpf_, section))
      bpf_map__set_map_flags(map, bpf_map__map_flags(map) | BPF_F_MMAPABLE);
  fentry_chosen_ = false;
  for (meta::Probe& p : meta_.probes) {
    auto kind = static_cast<meta::ProbeKind>(p.family);
    if (kind == meta::ProbeKind::Kprobe || kind == meta::ProbeKind::Kretprobe)
      fentry_chosen_ |= PrepareKprobe(bpf_, p, fentry);
  }
  PrepareUprobes(bpf_, meta_);
  if (!PrepareNetfilter(bpf_, meta_, error)) return false;
  // User-side programs never go to the kernel: the interpreter runs them.
  for (const meta::Probe& p : meta_.probes) {
    if (!p.user_side) continue;
    if (bpf_program* prog = bpf_object__find_program_by_name(bpf_, p.program.c_str()))
      bpf_program__set_autoload(prog, false);
  }
  return true;
}

int Session::LoadObject(std::string* log) {
  DeferModulePrograms();
  return LoadBpfObject(bpf_, log);
}

int Session::LoadBpfObject(bpf_object* object, std::string* log) {
  std::lock_guard<std::mutex> lock(log_mutex);
  log_sink = log;
  libbpf_set_print(CaptureLibbpf);
  int rc = bpf_object__load(object);
  log_sink = nullptr;
  return rc;
}

bpf_object* Session::OpenBpfObject(std::string* error) {
  std::string log;
  bpf_object* object;
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    log_sink = &log;
    libbpf_set_print(CaptureLibbpf);
    object = bpf_object__open_mem(object_.data(), object_.size(), nullptr);
    log_sink = nullptr;
  }
  if (!object) *error = "libbpf cannot open the object: " + Tail(log, 5);
  return object;
}

std::string Session::LoadFailure(const std::string& log) const {
  if (std::string core = ExplainCoreFailure(log, meta_); !core.empty()) return core;
  return Tail(log, 12);
}

// The preprocessor decided kernel_v, kernel_vr and CONFIG_ conditions for the compiling
// kernel; an object that runs elsewhere is refused where this kernel decides one otherwise.
static bool SameKernelTerms(const meta::Meta& meta, std::string* error) {
  if (meta.kernel_terms.empty()) return true;
  struct utsname u;
  std::string release = uname(&u) == 0 ? u.release : "";
  auto config = std::make_shared<KernelConfig>();
  ConfigLookup lookup = [config](std::string_view name) { return config->Get(name); };
  for (const KernelTerm& t : meta.kernel_terms) {
    bool now = false;
    std::string why;
    if (DecideKernelTerm(t, release, lookup, &now, &why) && now == t.result) continue;
    *error = "this object was compiled for a kernel where `" + t.Text() + "` is " +
             (t.result ? "true" : "false") + " (" + t.where + "); on this kernel (" + release +
             ") it is " + (why.empty() ? (now ? "true" : "false") : "undecided: " + why) +
             (t.name.starts_with("CONFIG_") && config->source().empty()
                  ? " (its configuration could not be read)"
                  : "") +
             ": compile the script for this kernel (btap -r RELEASE, or on this machine)";
    return false;
  }
  return true;
}

bool Session::Load(std::string* error) {
  if (!SameKernelTerms(meta_, error)) return false;
  std::vector<std::string> missing = MissingSyscalls(meta_, FindTracefs());
  if (missing.empty()) {
    KernelTypes kernel = KernelTypes::Running();  // (read only for a tracepoint tracefs lacks)
    missing = MissingTracepoints(meta_, FindTracefs(), [&](const std::string& event) {
      return KernelHasBareTracepoint(kernel, event);
    });
  }
  for (const meta::Probe& p : meta_.probes) {
    std::string active;
    if (static_cast<meta::ProbeKind>(p.family) != meta::ProbeKind::Lsm || BpfLsmEnabled(&active))
      continue;
    // The kernel would load and attach the program, then never run it.
    while (!active.empty() && active.back() == '\n') active.pop_back();
    missing.push_back(
        "cannot probe `" + p.point + "`" + (p.where.empty() ? "" : " at " + p.where) +
        ": BPF LSM is not enabled: boot with lsm=" + (active.empty() ? "..." : active) + ",bpf");
  }
  if (!missing.empty()) {
    *error = missing[0];
    for (size_t i = 1; i < missing.size(); ++i) *error += "\n" + missing[i];
    return false;
  }
  std::string log;
  int rc = LoadObject(&log);
  if (rc != 0 && fentry_chosen_ && !Stopping()) {
    // Some fentry program was refused (a function trampolines may not attach to): every
    // kernel function loads as a kprobe instead.
    bpf_object__close(bpf_);
    bpf_ = nullptr;
    if (!OpenObject(false, error)) return false;
    log.clear();
    rc = LoadObject(&log);
  }
  if (rc != 0) {
    std::string probe;
    bool netfilter = false, lsm = false;
    for (const meta::Probe& p : meta_.probes)
      if (!p.program.empty() && log.find("prog '" + p.program + "'") != std::string::npos) {
        probe = p.point;
        netfilter = static_cast<meta::ProbeKind>(p.family) == meta::ProbeKind::Netfilter;
        lsm = static_cast<meta::ProbeKind>(p.family) == meta::ProbeKind::Lsm;
      }
    for (const meta::TailSlot& t : meta_.tail_slots)
      if (log.find("prog '" + t.program + "'") != std::string::npos) probe = t.point;
    std::string where = VerifierLocation(log);
    *error = "the kernel refused the compiled probes";
    if (!probe.empty()) *error += " of `" + probe + "`";
    if (std::string core = ExplainCoreFailure(log, meta_); !core.empty()) {
      // Every member and type this kernel lacks that the loaded programs read outside a
      // load-time @defined, with where the script reads each; else libbpf's one.
      std::vector<ProgramPlace> loaded;
      bpf_program* prog;
      bpf_object__for_each_program(prog, bpf_) if (bpf_program__autoload(prog))
          loaded.push_back(PlaceOf(prog));
      KernelTypes kernel = KernelTypes::Running();
      std::string all =
          UnsatisfiedCoreRelocations(object_, meta_, kernel, [&](const CoreRelocation& r) {
            return std::any_of(loaded.begin(), loaded.end(),
                               [&](const ProgramPlace& p) { return p.Holds(r); });
          });
      *error = !all.empty() ? all
                            : *error + ": " + core +
                                  " (the object was compiled for a kernel that has it: compile "
                                  "the script for this kernel, or read it under @defined)";
      return false;
    }
    *error += ": " + std::string(std::strerror(-rc));
    if (rc == -EMFILE || rc == -ENFILE) {  // not the verifier's doing: its log is of no help
      size_t programs = 0;
      bpf_program* prog;
      bpf_object__for_each_program(prog, bpf_) programs += bpf_program__autoload(prog);
      *error += DescriptorNote(-rc, programs);
      return false;
    }
    if (log.find("cannot use helper bpf_probe_write_user") != std::string::npos)
      *error +=
          " (writing user memory, set_user_*(): this kernel's lockdown forbids it to BPF "
          "programs; see /sys/kernel/security/lockdown)";
    *error += HelperNote(log, netfilter);
    if (lsm && rc == -EPERM)
      *error +=
          " (the kernel refused a BPF LSM program: LSM programs attach through BPF "
          "trampolines, as fentry programs do, and a kernel without them refuses both)";
    if (log.find("tail_calls are not allowed in non-JITed programs") != std::string::npos)
      *error +=
          " (a syscalls:* dispatch by tail call whose bodies call the runtime library needs "
          "the BPF JIT: this kernel runs BPF without it; see net.core.bpf_jit_enable)";
    if (rc == -E2BIG)
      *error +=
          " (the verifier gave up on its size: a loop that may run too long? MAXACTION "
          "bounds kernel-side loops)";
    if (!where.empty()) *error += "\n  at " + where;
    if (verbose_)
      *error += "\nthe verifier's log:\n" + log;
    else
      *error +=
          "\nthe verifier's last words (all of them with btaprun -v, btap -vv):\n" + Tail(log, 12);
    return false;
  }
  if (!FillTailSlots(bpf_, meta_, error)) return false;
  if (bpf_map* map = bpf_object__find_map_by_name(bpf_, kOutputMap)) {
    ring_ = ring_buffer__new(
        bpf_map__fd(map),
        [](void* ctx, void* data, size_t size) {
          auto* session = static_cast<Session*>(ctx);
          session->HandleRecord(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
          // A negative value makes libbpf stop consuming (the record is taken).
          return --session->batch_left_ > 0 ? 0 : -EAGAIN;
        },
        this, nullptr);
    if (!ring_) {
      *error = "cannot read the output ring buffer: " + std::string(std::strerror(errno));
      return false;
    }
  }
  user_ = std::make_unique<UserSide>();
  auto sink = [this](std::span<const uint8_t> r) { HandleRecord(r); };
  auto format = [this](std::span<const uint8_t> r, std::string* text) {
    std::string why;
    if (formatter_.FormatRecord(r, *text, &why)) return true;
    *text = why;
    return false;
  };
  auto text = [this](const std::string& t) { Output(t); };
  if (!user_->Prepare(object_, bpf_, meta_, sink, format, text, error)) return false;
  state_ = user_->RuntimeVariable(session::kStateVariable);
  if (user_->GlobalData(session::kStateVariable).size() >= 8 * session::kSessionWords) {
    stop_error_ = state_ + session::kStopErrorWord;
    error_counter_ = state_ + session::kErrorsWord;
  }
  if (!SetLoadFacts(*user_, meta_, error)) return false;
  if (uint64_t* offset = user_->RuntimeVariable("__btap_realtime_offset"))
    *offset = Now(CLOCK_REALTIME) - Now(CLOCK_MONOTONIC);
  SetTimeZone();
  CalibrateCycles();
  // Kernel probes that read statistics merge this many per-CPU copies.
  if (uint64_t* cpus = user_->RuntimeVariable("__btap_cpus")) {
    int n = libbpf_num_possible_cpus();
    *cpus = n > 0 ? static_cast<uint64_t>(n) : 1;
  }
  return true;
}

// The local time zone as staprun gives stap's tz_gmtoff() and tz_name(): the offset
// west of UTC and the zone's abbreviation now, for the whole session.
void Session::SetTimeZone() {
  uint64_t* gmtoff = user_->RuntimeVariable(session::kTzGmtoff);
  std::span<uint8_t> name = user_->GlobalData(session::kTzName);
  if (!gmtoff && name.size() < session::kTzNameBytes) return;
  time_t now = time(nullptr);
  struct tm local {};
  if (!localtime_r(&now, &local)) return;
  if (gmtoff) *gmtoff = static_cast<uint64_t>(-static_cast<int64_t>(local.tm_gmtoff));
  // The variable's own bytes (the span runs on to the end of its section).
  if (name.size() >= session::kTzNameBytes && local.tm_zone) {
    std::memset(name.data(), 0, session::kTzNameBytes);
    std::memcpy(name.data(), local.tm_zone,
                std::min<size_t>(std::strlen(local.tm_zone), session::kTzNameBytes - 1));
  }
}

namespace {

// Both clocks at one moment: the monotonic clock between two reads of the time-stamp
// counter, whose midpoint stands for it; the tightest pair of a few (a preemption
// between the reads widens it). `spread` is UINT64_MAX when no pair was usable.
struct ClockPair {
  uint64_t ns = 0, cycles = 0, spread = UINT64_MAX;
};

ClockPair ReadClocks() {
  ClockPair best;
#if defined(__x86_64__)
  for (int i = 0; i < 5; ++i) {
    uint64_t before = __rdtsc(), ns = Now(CLOCK_MONOTONIC), after = __rdtsc();
    if (after >= before && after - before < best.spread)
      best = {ns, before + (after - before) / 2, after - before};
  }
#endif
  return best;
}

}  // namespace

// get_cycles() reads the monotonic clock at the time-stamp counter's rate: that rate is
// measured here, over 2 ms, only for objects that call it. A counter that runs backwards
// or at no plausible rate (0.05 to 100 cycles a nanosecond) leaves get_cycles() 0, as
// stap's is where the counter is unavailable.
void Session::CalibrateCycles() {
  uint64_t* mult = user_->RuntimeVariable(session::kTscMult);
  uint64_t* base = user_->RuntimeVariable(session::kTscBase);
  if (!mult || !base) return;
  *mult = *base = 0;
  ClockPair start = ReadClocks(), end = start;
  while (start.spread != UINT64_MAX && end.ns - start.ns < 2000000) end = ReadClocks();
  if (start.spread == UINT64_MAX || end.spread == UINT64_MAX || end.cycles <= start.cycles ||
      end.ns <= start.ns)
    return;
  auto rate = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(end.cycles - start.cycles) << 20) / (end.ns - start.ns));
  if (rate < (1u << 20) / 20 || rate > 100ull << 20) return;
  *mult = rate;
  *base = end.cycles - session::TscCycles(end.ns, rate);
}

}  // namespace btap::runtime
