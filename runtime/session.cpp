// Session lifecycle (see session.h). Shutdown is event-driven: one epoll set holds the
// ring buffer, an eventfd that signals and RequestStop() write to, the user-side timers
// and the -c command's pidfd, so stopping never waits for a poll timeout.
#include "runtime/session.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>

#include "common/build_id.h"
#include "common/kallsyms.h"
#include "common/kernel_config.h"
#include "common/kernel_terms.h"
#include "common/output_record.h"
#include "common/tracefs.h"
#include "runtime/actions.h"
#include "runtime/attach/attach.h"
#include "runtime/attach/module_watch.h"
#include "runtime/core_relocations.h"
#include "runtime/dwarf_symbols.h"
#include "runtime/input.h"
#include "runtime/load_facts.h"
#include "runtime/object.h"
#include "runtime/output_files.h"
#include "runtime/procfs.h"
#include "runtime/user_side.h"

namespace btap::runtime {
namespace {

std::atomic<int> signal_fd{-1};
std::atomic<bool> signalled{false};
std::atomic<int> signal_count{0};              // stop signals, for output abandoned on the second
std::atomic<bool> loading{false};              // the kernel is verifying the programs
std::atomic<uint64_t*> signal_state{nullptr};  // the session's state, shared with the probes

// While loading, a stop must interrupt the verifier, which gives up (EAGAIN) only while a
// signal is pending and which libbpf then asks again a few times: SIGALRM every 5 ms
// interrupts each new attempt until libbpf stops retrying.
void InterruptLoading() {
  itimerval every{{0, 5000}, {0, 5000}};
  setitimer(ITIMER_REAL, &every, nullptr);
}

void OnSignal(int) {
  int saved_errno = errno;
  signalled = true;
  ++signal_count;
  if (loading) InterruptLoading();
  // The probes stop now, even if the runtime is blocked writing output.
  if (uint64_t* state = signal_state.load()) {
    uint64_t running = 0;
    __atomic_compare_exchange_n(state, &running, static_cast<uint64_t>(session::State::Stopped),
                                false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  }
  int fd = signal_fd.load();
  uint64_t one = 1;
  if (fd >= 0) (void)!write(fd, &one, sizeof one);
  errno = saved_errno;
}

// The signals that stop a session (SIGHUP too, as staprun treats it), and SIGPIPE, which
// would kill btap silently when a pipe's reader goes: ignored, a write then fails with
// EPIPE and the session ends with an error.
constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

// What btap was started with for the signals a session changes, for the -c command.
constexpr int kChildSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
bool inherited_saved = false;
bool inherited_ignored[std::size(kChildSignals)] = {};

// Records taken from the ring buffer before the loop looks at the clock, the signals and
// the state again: a probe that fires as fast as btap writes cannot keep it consuming.
constexpr int kRecordBatch = 4096;

// Whether `name` runs: a path to an executable file, or one found on $PATH.
bool Executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0;
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t at = 0;
  while (at <= dirs.size()) {
    size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(at, end - at);
    if (access(((dir.empty() ? "." : dir) + "/" + name).c_str(), X_OK) == 0) return true;
    at = end + 1;
  }
  return false;
}

}  // namespace

bool ParseTimeout(const std::string& text, double* seconds) {
  char* end = nullptr;
  errno = 0;
  double t = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || errno || !(t > 0) || !(t < 3.2e9)) return false;
  *seconds = t;
  return true;
}

void StopAlarmTicks(const struct sigaction& old) {
  itimerval off{};
  // No tick comes after this returns (the kernel waits for a running timer callback).
  setitimer(ITIMER_REAL, &off, nullptr);
  // Ignoring a signal discards it where it is pending, the process's and every thread's.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGALRM, &ignore, nullptr);
  sigaction(SIGALRM, &old, nullptr);
}

void ReserveStandardDescriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int held = open("/dev/null", O_RDONLY);
    if (held >= 0 && held != fd) {
      dup2(held, fd);
      close(held);
    }
  }
}

Session::Session() { stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

Session::~Session() {
  procfs_.reset();
  input_.reset();
  Detach();
  if (ring_) ring_buffer__free(ring_);
  user_.reset();
  if (bpf_) bpf_object__close(bpf_);
  if (stop_fd_ >= 0) close(stop_fd_);
  if (release_fd_ >= 0) close(release_fd_);
  if (child_fd_ >= 0) close(child_fd_);
  if (traced_fd_ >= 0) close(traced_fd_);
  if (child_ > 0 && !child_reaped_) {
    kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
  }
}

uint64_t Session::lost() const {
  uint64_t* lost = user_ ? user_->RuntimeVariable("__btap_lost") : nullptr;
  return lost ? __atomic_load_n(lost, __ATOMIC_RELAXED) : 0;
}

// Text for standard output and for standard error is kept in order: one of the two
// buffers holds text at a time, and a switch of stream flushes. A storm of errors is
// then written in large pieces, not one write per message.
void Session::Output(std::string_view text) {
  if (!pending_err_.empty()) Flush();
  pending_ += text;
  if (files_) RotateOutput(pending_.size() - text.size());
}

void Session::Diagnostic(std::string_view text) {
  if (!pending_.empty()) Flush();
  pending_err_ += text;
}

// Output that cannot be written (a closed descriptor, a full disk, a pipe whose reader
// has gone) stops the session; Execute reports it and fails.
void Session::Flush() {
  if (err_ && !pending_err_.empty()) {
    *err_ << pending_err_;
    err_->flush();
  }
  pending_err_.clear();
  if (out_ && !pending_.empty() && abandoned_bytes_) abandoned_bytes_ += pending_.size();
  if (out_ && !pending_.empty() && write_error_.empty() && stdout_) {
    out_->flush();
    int signals_seen = signal_count;
    bool was_stopping = Stopping();
    size_t left = 0;
    std::string why;
    switch (stdout_->Write(
        pending_, [&] { return AbandonStalledOutput(&signals_seen, &was_stopping); }, &left,
        &why)) {
      case StdoutWriter::Outcome::kWritten:
        break;
      case StdoutWriter::Outcome::kFailed:
        write_error_ = why;
        Stop(session::State::Stopped);
        break;
      case StdoutWriter::Outcome::kAbandoned:
        abandoned_bytes_ = left;
        write_error_ =
            "its reader took nothing after the session was stopped (a signal ended the wait)";
        Stop(session::State::Stopped);
        break;
    }
  } else if (out_ && !pending_.empty() && write_error_.empty()) {
    errno = 0;
    *out_ << pending_;
    out_->flush();
    if (files_) files_->Wrote(pending_.size());
    if (!*out_) {
      write_error_ = errno ? std::strerror(errno) : "write failed";
      Stop(session::State::Stopped);
    }
  }
  pending_.clear();
}

// Standard output is full and its reader takes nothing. Stop requests still stop the
// probes (-T's deadline too, which passes while btap waits here): output then waits for
// the reader, as any writer's, until a stop request comes when the session is already
// stopping (a second Ctrl-C, or the first after -T or exit()), which abandons it.
bool Session::AbandonStalledOutput(int* signals_seen, bool* was_stopping) {
  if (deadline_ && !timed_out_ && std::chrono::steady_clock::now() >= *deadline_) {
    timed_out_ = true;
    Stop(session::State::Stopped);
  }
  int now = signal_count;
  bool abandon = now > *signals_seen && *was_stopping;
  *signals_seen = now;
  *was_stopping = Stopping();
  return abandon;
}

void Session::HandleRecord(std::span<const uint8_t> bytes) {
  uint32_t kind = 0;
  if (bytes.size() >= 4) std::memcpy(&kind, bytes.data(), 4);
  std::string why;
  switch (static_cast<record::Kind>(kind)) {
    case record::Kind::Abort:
      aborted_ = true;  // no end probes
      [[fallthrough]];
    case record::Kind::Exit:
      exit_requested_ = true;
      RequestStop();
      return;
    case record::Kind::System:
    case record::Kind::Printk:
    case record::Kind::Ftrace: {
      std::string text;
      if (!formatter_.FormatRecord(bytes, text, &why)) break;
      Flush();  // what the script printed before comes first
      if (std::string failed = RunAction(static_cast<record::Kind>(kind), text); !failed.empty())
        Diagnostic("WARNING: " + failed + '\n');
      return;
    }
    case record::Kind::SymbolProcess:
      if (bytes.size() >= 16) {
        int64_t pid = 0;
        std::memcpy(&pid, bytes.data() + 8, 8);
        PrimeProcessSymbols(static_cast<int>(pid));
      }
      return;
    case record::Kind::SwitchFile:
      SwitchFile();
      return;
    case record::Kind::Error:
    case record::Kind::Warning: {
      std::string text;
      if (!formatter_.FormatRecord(bytes, text, &why)) break;
      bool is_error = static_cast<record::Kind>(kind) == record::Kind::Error;
      Diagnostic((is_error ? "ERROR: " : "WARNING: ") + text + '\n');
      if (is_error) CountError();
      return;
    }
    default:
      if (!pending_err_.empty()) Flush();
      if (size_t start = pending_.size(); formatter_.FormatRecord(bytes, pending_, &why)) {
        if (files_) RotateOutput(start);
        return;
      }
  }
  if (record_error_.empty()) record_error_ = why;
}

// How a probe's program attached, for -v: its kind, or fentry/fexit for a kernel
// function's trampoline program.
std::string Session::AttachedAs(bpf_program* program, const meta::Probe& p) {
  auto kind = static_cast<meta::ProbeKind>(p.family);
  if (bpf_program__type(program) == BPF_PROG_TYPE_TRACING)
    return kind == meta::ProbeKind::Kretprobe ? "fexit" : "fentry";
  if (bpf_program__expected_attach_type(program) == BPF_TRACE_KPROBE_MULTI)
    return kind == meta::ProbeKind::Kretprobe ? "multi-kretprobe" : "multi-kprobe";
  if (static_cast<uint32_t>(bpf_program__expected_attach_type(program)) == kTraceUprobeMulti)
    return kind == meta::ProbeKind::Uretprobe ? "multi-uretprobe" : "multi-uprobe";
  const char* section = bpf_program__section_name(program);
  std::string name = section ? section : "";
  name = name.substr(0, name.find('/'));
  // The syscall programs, which run syscall.* and syscalls:* points, say what they are on.
  if (kind == meta::ProbeKind::Tracepoint && p.target.starts_with("raw_syscalls:") &&
      p.point.find(p.target) == std::string::npos)
    name += " on " + p.target;
  return name;
}

bool Session::Attach(std::string* error) {
  std::vector<std::string> missing;
  std::vector<std::string> waiting;  // module probes whose module is not loaded yet
  for (const meta::Probe& p : meta_.probes) {
    if (p.user_side || p.program.empty() || SessionProbe(p)) continue;
    // Attaching thousands of functions takes a while: a stop request ends it early (the
    // end probes still run).
    if (Stopping()) break;
    bpf_program* prog = bpf_object__find_program_by_name(bpf_, p.program.c_str());
    if (!prog) {
      *error = "the object has no program `" + p.program + "` for `" + p.point + "`";
      return false;
    }
    bool watched = false;
    if (!WatchModuleProbe(prog, p, missing, waiting, &watched, error)) return false;
    if (watched) continue;
    size_t missing_before = missing.size();
    if (!AttachProbe(prog, p, links_, link_fds_, missing, error)) return false;
    // (A point of one function that this kernel lacks is only in the warning below.)
    bool none = missing.size() > missing_before && p.target.find('\n') == std::string::npos;
    if (verbose_ && !none && !p.internal)
      Diagnostic("attached `" + p.point + "` (" + AttachedAs(prog, p) + ")\n");
  }
  if (!missing.empty()) {
    std::string names = FirstNames(missing);
    Diagnostic("WARNING: " + std::to_string(missing.size()) + " probe point" +
               (missing.size() == 1 ? "" : "s") +
               " that the script was compiled with (a wildcard's matches, a module's functions) " +
               (missing.size() == 1 ? "is" : "are") + " not in this kernel: " + names + '\n');
  }
  if (!waiting.empty()) {
    std::string names = FirstNames(waiting);
    Diagnostic("WARNING: " + std::to_string(waiting.size()) + " probe point" +
               (waiting.size() == 1 ? " waits" : "s wait") +
               " for a module that is not loaded, and will arm when it loads: " + names + '\n');
  }
  return true;
}

bool Session::SetGlobal(const std::string& name, const std::string& value, std::string* error) {
  const meta::Global* global = nullptr;
  std::vector<uint8_t> bytes;
  if (!GlobalAssignment(meta_, name, value, &global, &bytes, error)) return false;
  std::span<uint8_t> data = user_ ? user_->GlobalData(global->map) : std::span<uint8_t>();
  if (data.size() < bytes.size()) {
    *error = "`" + name + "=" + value + "`: the object holds no global data for `" + name + "`";
    return false;
  }
  std::memcpy(data.data(), bytes.data(), bytes.size());
  return true;
}

void Session::RequestStop() {
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);
}

// No kernel probe starts after this, whatever stopped the session first.
void Session::Stop(session::State why) {
  if (state_) {
    uint64_t running = 0;
    __atomic_compare_exchange_n(state_, &running, static_cast<uint64_t>(why), false,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  }
  RequestStop();
}

bool Session::Stopping() const {
  return exit_requested_ || too_many_errors_ || signalled || timed_out_ || !write_error_.empty();
}

// What the probes decided on their own: exit(), abort() or too many errors move the state
// even when the record that says so was lost to a full ring buffer.
void Session::ReadState() {
  if (!state_) return;
  ReportStopError();
  switch (static_cast<session::State>(__atomic_load_n(state_, __ATOMIC_SEQ_CST))) {
    case session::State::Abort:
      aborted_ = true;
      exit_requested_ = true;
      break;
    case session::State::Exit:
      exit_requested_ = true;
      break;
    case session::State::Errors:
      too_many_errors_ = true;
      break;
    case session::State::Running:
    case session::State::Stopped:
      break;
  }
}

// A kernel probe's error that reached MAXERRORS + 1 leaves its record's header in global
// data instead of the ring buffer (session::kStopErrorWord). It is reported once, as the record
// would be, after the records the probes wrote before it (the probes start no more, so
// reading them ends).
void Session::ReportStopError() {
  if (!stop_error_ || stop_error_reported_) return;
  uint64_t header = __atomic_load_n(stop_error_, __ATOMIC_SEQ_CST);
  if (header == 0) return;
  // The probes leave the format id in the high half and any non-zero low half (the
  // Errors state's value): the record is an Error record.
  header = (header & ~uint64_t{0xffffffff}) | static_cast<uint32_t>(record::Kind::Error);
  stop_error_reported_ = true;
  Stop(session::State::Errors);
  if (ring_) {
    batch_left_ = INT32_MAX;
    ring_buffer__consume(ring_);
  }
  uint8_t bytes[sizeof header];
  std::memcpy(bytes, &header, sizeof header);
  HandleRecord(bytes);
}

void Session::Detach() {
  DetachModuleProbes();
  DetachAll(links_);
  for (int fd : link_fds_) close(fd);
  link_fds_.clear();
  python_file_.Withdraw();
}

// Past MAXERRORS the session stops (and then runs error probes instead of end probes).
void Session::CountError() {
  if (++errors_ > static_cast<int>(meta_.limits.max_errors)) {
    too_many_errors_ = true;
    Stop(session::State::Errors);
  }
}

void Session::RunUserProbe(const meta::Probe& p) {
  std::string why;
  if (!user_->Run(p.program, &why)) {
    // The probes count their own errors; this one the interpreter raised.
    if (error_counter_) __atomic_fetch_add(error_counter_, 1, __ATOMIC_SEQ_CST);
    // Named by its place in the script, as the kernel side's are; else by its probe.
    if (!user_->ErrorLocated()) why += " in probe `" + p.point + "`";
    Diagnostic("ERROR: " + why + "\n");
    CountError();
  }
  Flush();
}

// A procfs file's probe, run for a reader or writer (procfs.cpp): none once the session
// stops, as stap's; what the kernel probes wrote before comes first.
bool Session::RunProcfsProbe(const meta::Probe& p) {
  ReadState();
  if (Stopping()) return false;
  if (ring_) {
    batch_left_ = kRecordBatch;
    ring_buffer__consume(ring_);
  }
  Flush();
  int before = errors_;
  RunUserProbe(p);
  ReadState();
  return errors_ == before;
}

// A begin, end or error probe that reads the kernel: a syscall program, run here in
// btap's own task as stap runs its in staprun's; its output is read at once, so that it
// comes in order with the interpreted probes'.
void Session::RunKernelSessionProbe(const meta::Probe& p) {
  bpf_program* prog = bpf_object__find_program_by_name(bpf_, p.program.c_str());
  int fd = prog ? bpf_program__fd(prog) : -1;
  LIBBPF_OPTS(bpf_test_run_opts, run);
  int rc = fd < 0 ? -EINVAL : bpf_prog_test_run_opts(fd, &run);
  if (rc != 0) {
    if (error_counter_) __atomic_fetch_add(error_counter_, 1, __ATOMIC_SEQ_CST);
    Diagnostic("ERROR: cannot run probe `" + p.point +
               "` in the kernel: " + std::strerror(rc < 0 ? -rc : errno) + "\n");
    CountError();
  }
  if (ring_) {
    batch_left_ = INT32_MAX;
    ring_buffer__consume(ring_);
  }
  ReadState();
  Flush();
}

bool Session::SessionProbe(const meta::Probe& p) {
  auto kind = static_cast<meta::ProbeKind>(p.family);
  return kind == meta::ProbeKind::Begin || kind == meta::ProbeKind::End ||
         kind == meta::ProbeKind::Error;
}

void Session::RunUserProbes(meta::ProbeKind kind) {
  std::vector<const meta::Probe*> probes;
  for (const meta::Probe& p : meta_.probes)
    if ((p.user_side || SessionProbe(p)) && p.family == static_cast<uint8_t>(kind))
      probes.push_back(&p);
  std::stable_sort(probes.begin(), probes.end(), [](const meta::Probe* a, const meta::Probe* b) {
    return a->sequence < b->sequence;
  });
  for (const meta::Probe* p : probes) {
    if (aborted_) return;
    // After too many errors nothing but error probes runs.
    if (too_many_errors_ && kind != meta::ProbeKind::Error) return;
    // exit() in a begin probe starts no later begin probe (stap's are run only while
    // the session is starting).
    if (exit_requested_ && kind == meta::ProbeKind::Begin) return;
    if (p->user_side)
      RunUserProbe(*p);
    else
      RunKernelSessionProbe(*p);
  }
}

bool Session::StartCommand(const std::string& command, std::string* error) {
  // `gate` holds the command until the probes are attached; `ready` says the child has
  // returned from fork, so that its own start is not an event the probes see.
  int gate[2], ready[2];
  if (pipe2(gate, O_CLOEXEC) != 0) {
    *error = std::string("cannot start `") + command + "`: " + std::strerror(errno);
    return false;
  }
  if (pipe2(ready, O_CLOEXEC) != 0) {
    *error = std::string("cannot start `") + command + "`: " + std::strerror(errno);
    close(gate[0]);
    close(gate[1]);
    return false;
  }
  // Words without shell syntax run directly, so target() is the command itself. The
  // argument vector is built before fork: the child only execs.
  std::vector<std::string> words;
  if (command.find_first_of("|&;<>()$`\\\"'*?[#~=%{}\n") == std::string::npos) {
    size_t at = 0;
    while ((at = command.find_first_not_of(" \t", at)) != std::string::npos) {
      size_t end = command.find_first_of(" \t", at);
      words.push_back(command.substr(at, end - at));
      at = end;
    }
  }
  if (words.empty()) words = {"/bin/sh", "-c", command};
  if (!Executable(words[0])) {
    *error = "cannot run `" + command + "`: `" + words[0] + "` is not an executable file";
    for (int fd : {gate[0], gate[1], ready[0], ready[1]}) close(fd);
    return false;
  }
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  // Python probes attach to btap's HelperSDT package: the command finds it on its path
  // (`python3 -m HelperSDT script.py`) without the user setting PYTHONPATH.
  std::vector<std::string> env_strings = CommandEnvironment(meta_);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  if (!envp.empty()) envp.push_back(nullptr);
  // `traced` says the command will stop at its exec: only when the probes keep user
  // addresses (without it, or when tracing is refused, the command just runs).
  int traced[2] = {-1, -1};
  if (KeepsUserAddresses() && pipe2(traced, O_CLOEXEC) != 0) traced[0] = traced[1] = -1;
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("cannot start `") + command + "`: " + std::strerror(errno);
    for (int fd : {gate[0], gate[1], ready[0], ready[1], traced[0], traced[1]})
      if (fd >= 0) close(fd);
    return false;
  }
  if (pid == 0) {
    // The command runs as it would untraced: with the dispositions btap itself was given
    // (ignored under nohup stays ignored), not the ones the session set (an ignored
    // SIGPIPE would survive exec), and no blocked signals.
    if (inherited_saved)
      for (size_t i = 0; i < std::size(kChildSignals); ++i)
        signal(kChildSignals[i], inherited_ignored[i] ? SIG_IGN : SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    close(gate[1]);
    close(ready[0]);
    if (traced[0] >= 0) close(traced[0]);
    (void)!write(ready[1], "r", 1);
    close(ready[1]);
    char go;
    if (read(gate[0], &go, 1) != 1) _exit(127);  // the session ended before the probes ran
    RestoreDescriptorLimit();
    // Stopped at the exec when the script keeps user addresses (KeepCommandSymbols).
    if (traced[1] >= 0 && ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0)
      (void)!write(traced[1], "t", 1);
    if (envp.empty())
      execvp(argv[0], argv.data());
    else
      execvpe(argv[0], argv.data(), envp.data());
    dprintf(2, "%s: cannot run `%s`: %s\n", program_name_.c_str(), command.c_str(),
            std::strerror(errno));
    _exit(127);
  }
  close(gate[0]);
  close(ready[1]);
  if (traced[1] >= 0) close(traced[1]);
  traced_fd_ = traced[0];
  char r;
  while (read(ready[0], &r, 1) < 0 && errno == EINTR) {
  }
  close(ready[0]);
  child_ = pid;
  release_fd_ = gate[1];
  child_fd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (child_fd_ < 0) {
    *error = std::string("cannot watch the command: ") + std::strerror(errno);
    return false;
  }
  return true;
}

// Signals stop the session from its load to its last end probe; SIGPIPE is ignored
// meanwhile (see kStopSignals).
class Session::SignalScope {
 public:
  SignalScope(bool enabled, int stop_fd) : enabled_(enabled) {
    signalled = false;
    signal_count = 0;
    if (!enabled_) return;
    signal_fd = stop_fd;
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sa.sa_flags = SA_RESTART;  // a signal must not fail a blocked write of output
    for (size_t i = 0; i < std::size(kStopSignals); ++i) {
      sigaction(kStopSignals[i], &sa, &old_[i]);
      // Under nohup SIGHUP stays ignored. (SIGINT is handled even when ignored at start,
      // as in a background job: it is how a session is stopped.)
      if (kStopSignals[i] == SIGHUP && old_[i].sa_handler == SIG_IGN)
        sigaction(SIGHUP, &old_[i], nullptr);
    }
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &old_pipe_);
    for (size_t i = 0; i < std::size(kChildSignals); ++i) {
      const struct sigaction& was = i < std::size(kStopSignals) ? old_[i] : old_pipe_;
      inherited_ignored[i] = was.sa_handler == SIG_IGN;
    }
    inherited_saved = true;
  }
  ~SignalScope() {
    if (!enabled_) return;
    StopInterrupting();
    for (size_t i = 0; i < std::size(kStopSignals); ++i)
      sigaction(kStopSignals[i], &old_[i], nullptr);
    sigaction(SIGPIPE, &old_pipe_, nullptr);
    inherited_saved = false;
    signal_fd = -1;
    signal_state = nullptr;
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

  // Around the load: a stop request makes the verifier give up (see OnSignal).
  void Loading() {
    if (!enabled_) return;
    struct sigaction alarm {};
    alarm.sa_handler = [](int) {};
    sigaction(SIGALRM, &alarm, &old_alarm_);
    loading = true;
    interrupting_ = true;
    if (signalled) InterruptLoading();  // a signal came before `loading` was set
  }
  // After the load: the probes stop through the session's state.
  void Loaded(uint64_t* state) {
    if (!enabled_) return;
    StopInterrupting();
    signal_state = state;
  }

 private:
  void StopInterrupting() {
    if (!interrupting_) return;
    loading = false;
    StopAlarmTicks(old_alarm_);
    interrupting_ = false;
  }

  bool enabled_;
  bool interrupting_ = false;
  struct sigaction old_alarm_ {};
  struct sigaction old_[std::size(kStopSignals)]{};
  struct sigaction old_pipe_ {};
};

int Session::Execute(const RunOptions& options, std::ostream& out, std::ostream& err) {
  out_ = &out;
  files_ = options.files;
  err_ = &err;
  if (options.output_fd >= 0) stdout_ = std::make_unique<StdoutWriter>(options.output_fd);
  program_name_ = options.program_name;
  verbose_ = options.verbose;
  std::string error;
  auto fail = [&](const std::string& why) {
    procfs_.reset();
    input_.reset();
    Flush();
    err << options.program_name << ": error: " << why << '\n';
    return 1;
  };
  SignalScope signals(options.handle_signals, stop_fd_);
  signals.Loading();
  bool loaded = Load(&error);
  signals.Loaded(state_);
  // Stopped while the kernel verified the programs (which can take long): no probe ran.
  if (signalled) {
    err << options.program_name << ": stopped by a signal while the probes were loading; no "
        << "probe ran\n";
    return 1;
  }
  if (!loaded) return fail(error);
  for (const auto& [name, value] : options.globals)
    if (!SetGlobal(name, value, &error)) return fail(error);
  // The procfs files are checked, and /dev/fuse and their folder taken, before any probe
  // runs; they are mounted once the probes are attached.
  if (HasProcfsProbes(meta_)) {
    procfs_ = ProcfsServer::Prepare(
        meta_, *user_, [this](const meta::Probe& p) { return RunProcfsProbe(p); }, &error);
    if (!procfs_) return fail(error);
  }
  if (!options.command.empty() && !StartCommand(options.command, &error)) return fail(error);
  if (uint64_t* target = user_->RuntimeVariable("__btap_target"))
    *target = static_cast<uint64_t>(child_ > 0 ? child_ : options.target_pid);
  // Standard input is read once the probes are attached (Run); on a terminal, what is
  // typed from now on is not echoed.
  input_ = StdinInput::Start(meta_, *user_, [this](const meta::Probe& p) {
    RunProcfsProbe(p);
    return !Stopping();
  });

  RunUserProbes(meta::ProbeKind::Begin);
  ReadState();
  if (!Stopping()) {
    python_file_.Publish(meta_);
    if (!Attach(&error)) {
      Stop(session::State::Stopped);
      Detach();
      return fail(error);
    }
    AddRunningProcesses(bpf_, *user_);
    // The files appear just before Run() starts answering them; the -c command starts
    // after.
    if (procfs_ && !procfs_->Mount(&error)) {
      Stop(session::State::Stopped);
      Detach();
      return fail(error);
    }
    if (release_fd_ >= 0) {
      // A stop while attaching: the command is not started (it ends with 127).
      if (!Stopping()) command_released_ = write(release_fd_, "g", 1) == 1;
      close(release_fd_);
      release_fd_ = -1;
      if (command_released_) KeepCommandSymbols();
    } else if (options.target_pid > 0 && KeepsUserAddresses()) {
      KeepProcessSymbols(static_cast<int>(options.target_pid));
    }
    if (!Run(options, out, &error)) return fail(error);
  }
  procfs_.reset();  // the end probes run with the files gone, as stap's
  input_.reset();
  Stop(session::State::Stopped);
  ReadState();
  if (too_many_errors_) {
    RunUserProbes(meta::ProbeKind::Error);
  } else if (!aborted_) {
    RunUserProbes(meta::ProbeKind::End);
    user_->GlobalsAtExit([&](std::string_view text) {
      Output(text);
      Flush();
    });
  }
  Flush();
  StopCommand();
  if (uint64_t n = lost())
    err << "WARNING: " << n << " output record" << (n == 1 ? " was" : "s were")
        << " lost: the output ring buffer was full\n";
  if (!write_error_.empty()) {
    err << program_name_ << ": error: cannot write the output: " << write_error_;
    if (abandoned_bytes_) err << " (" << abandoned_bytes_ << " bytes not written)";
    err << '\n';
    return 1;
  }
  // The probes' own count, when a stopping error's record was lost to a full ring buffer.
  if (error_counter_) {
    uint64_t counted = std::min<uint64_t>(__atomic_load_n(error_counter_, __ATOMIC_SEQ_CST),
                                          uint64_t{meta_.limits.max_errors} + 1);
    errors_ = std::max<int>(errors_, static_cast<int>(counted));
  }
  if (errors_ || too_many_errors_) {
    err << "WARNING: Number of errors: " << errors_ << ", skipped probes: 0\n";
    return 1;
  }
  return 0;
}

bool Session::Run(const RunOptions& options, std::ostream& out, std::string* error) {
  out_ = &out;
  files_ = options.files;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    *error = std::string("cannot wait for events: ") + std::strerror(errno);
    return false;
  }
  auto watch = [&](int fd, uint32_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  };
  constexpr uint32_t kStop = 1, kRing = 2, kChild = 3, kProcfs = 4, kInput = 5, kModules = 6,
                     kTimer = 100;
  watch(stop_fd_, kStop);
  if (modules_) watch(modules_->fd(), kModules);
  if (procfs_) watch(procfs_->fd(), kProcfs);
  // Standard input that epoll refuses (a file, /dev/null) never blocks: it is read on
  // every turn of the loop until its end.
  bool input_always_ready = false;
  if (input_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = kInput;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, input_->fd(), &ev) != 0) input_always_ready = errno == EPERM;
  }
  if (ring_) watch(ring_buffer__epoll_fd(ring_), kRing);
  if (child_fd_ >= 0) watch(child_fd_, kChild);
  // User-side timers: one timerfd each.
  std::vector<std::pair<int, const meta::Probe*>> timers;
  for (const meta::Probe& p : meta_.probes) {
    if (!p.user_side || p.family != static_cast<uint8_t>(meta::ProbeKind::Timer)) continue;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (fd < 0) {
      *error = "cannot start `" + p.point + "`: " + std::strerror(errno);
      for (auto& [open_fd, probe] : timers) close(open_fd);
      close(ep);
      return false;
    }
    itimerspec spec{};
    int64_t period = std::max<int64_t>(TimerPeriodNs(p), 1000);
    spec.it_interval = {static_cast<time_t>(period / 1000000000),
                        static_cast<long>(period % 1000000000)};
    spec.it_value = spec.it_interval;
    timerfd_settime(fd, 0, &spec, nullptr);
    watch(fd, kTimer + static_cast<uint32_t>(timers.size()));
    timers.push_back({fd, &p});
  }
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(options.timeout_seconds));
  if (options.timeout_seconds > 0) deadline_ = deadline;
  // The probes may stop the session without a record reaching us (a full ring buffer):
  // the state is looked at on every wake-up, and at least this often.
  constexpr int kStateCheckMs = 200;
  bool stop = false;
  while (!stop) {
    ReadState();
    if (Stopping()) break;
    int wait = kStateCheckMs;
    if (options.timeout_seconds > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) break;
      wait = static_cast<int>(std::min<int64_t>(left, wait));
    }
    if (input_always_ready) wait = 0;
    epoll_event events[8];
    int n = epoll_wait(ep, events, 8, wait);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      uint32_t tag = events[i].data.u32;
      if (tag == kStop) stop = true;
      if (tag == kRing) {
        batch_left_ = kRecordBatch;
        ring_buffer__consume(ring_);
      }
      if (tag == kChild) stop = true;
      if (tag == kModules && !Stopping()) TakeModuleEvents();
      // (A connection that ended, say unmounted by hand, is not watched again.)
      if (tag == kProcfs && !procfs_->Serve()) epoll_ctl(ep, EPOLL_CTL_DEL, procfs_->fd(), nullptr);
      if (tag == kInput && !Stopping() && !input_->Read())
        epoll_ctl(ep, EPOLL_CTL_DEL, input_->fd(), nullptr);
      if (tag >= kTimer && tag - kTimer < timers.size()) {
        uint64_t expirations;
        auto [fd, probe] = timers[tag - kTimer];
        if (read(fd, &expirations, sizeof expirations) > 0 && !Stopping()) {
          // What the kernel probes wrote before the timer fired comes first.
          if (ring_) {
            batch_left_ = kRecordBatch;
            ring_buffer__consume(ring_);
          }
          Flush();
          RunUserProbe(*probe);
        }
      }
    }
    if (input_always_ready && !Stopping()) input_always_ready = input_->Read();
    Flush();
  }
  // The probes return at once from now on; the records they wrote are read before they
  // are detached (which can take long): a process whose addresses they keep may end
  // meanwhile. (Stopped first, so that a probe that writes as fast as this reads cannot
  // keep it reading.)
  Stop(session::State::Stopped);
  if (ring_) {
    batch_left_ = INT32_MAX;
    ring_buffer__consume(ring_);
  }
  procfs_.reset();
  input_.reset();
  for (auto& [fd, probe] : timers) close(fd);
  Detach();
  // Records written before the detach; the probes start no more, so this ends.
  if (ring_) {
    batch_left_ = INT32_MAX;
    ring_buffer__consume(ring_);
  }
  Flush();
  close(ep);
  if (!record_error_.empty()) {
    *error = "malformed output record: " + record_error_;
    return false;
  }
  return true;
}

}  // namespace btap::runtime
