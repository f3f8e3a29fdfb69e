// One run of a compiled object (pass 5, and btaprun): open and check it, load it into
// the kernel, run the begin probes, attach the kernel probes, stream output records as
// text until a stop (exit(), a signal, -T, the -c command's end, too many errors), then
// detach, drain every pending record and run the end probes (or the error probes).
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "common/object_meta.h"
#include "common/output_record.h"
#include "runtime/core_relocations.h"
#include "runtime/output.h"
#include "runtime/python_sessions.h"
#include "runtime/stdout_writer.h"

struct bpf_object;
struct bpf_link;
struct bpf_program;
struct ring_buffer;

namespace btap::runtime {

class UserSide;
class ProcfsServer;
class ModuleWatch;
class StdinInput;
class OutputFiles;

// -T SECONDS as btap and btaprun read it: a positive number of seconds, at most a century
// (the deadline is kept in nanoseconds); false for anything else (nan, inf, junk).
bool ParseTimeout(const std::string& text, double* seconds);

// Call first in main(): a standard descriptor that was closed (`>&-`) is held by a
// read-only /dev/null, so that no file the session opens takes its number, and writes
// to it still fail as on a closed descriptor (the session then ends with an error).
void ReserveStandardDescriptors();

// The environment the -c command runs with (session_command.cpp): btap's own, with btap's
// HelperSDT package on PYTHONPATH when a probe is at one of its marks; empty when the
// command simply inherits btap's.
std::vector<std::string> CommandEnvironment(const meta::Meta& meta);

// Stops the SIGALRM interval timer that interrupts a load and gives SIGALRM back the
// disposition `old`. A tick already generated is discarded first: a thread that blocks
// SIGALRM could still hold one pending, which the old disposition (the default ends the
// process) would then meet.
void StopAlarmTicks(const struct sigaction& old);

struct RunOptions {
  double timeout_seconds = 0;  // -T; 0: none
  bool handle_signals = true;  // SIGINT / SIGTERM / SIGHUP stop the session
  std::string command;         // -c CMD: started when the probes are ready; its end stops
  long target_pid = 0;         // -x PID: target()
  bool verbose = false;        // say how each probe attached (btaprun -v, btap -vv)
  // `out`'s descriptor when it is standard output (-1: another stream): written so that a
  // reader that takes nothing cannot hold a session asked to stop (see Flush).
  int output_fd = -1;
  // -o FILE's files (`out` is their stream): switch_file() and -S move the output on.
  OutputFiles* files = nullptr;

  // How Execute's own messages start ("btaprun" for btaprun).
  std::string program_name = "btap";
  // NAME=VALUE (btaprun's staprun-style module options): global scalars set after the
  // load, before the begin probes.
  std::vector<std::pair<std::string, std::string>> globals;
};

class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Checks the object and its metadata (nothing is loaded yet).
  bool Open(std::vector<uint8_t> object, std::string* error);
  // Loads maps and kernel programs and prepares the user-side ones. A verifier rejection
  // names the probe and the script line the verifier stopped at.
  bool Load(std::string* error);
  bool Attach(std::string* error);
  // Streams output to `out` until stopped; then detaches and drains.
  bool Run(const RunOptions& options, std::ostream& out, std::string* error);
  // The whole session after Open: load, begin probes, attach, stream, end probes, the
  // final report on `err`. Returns stap's exit status (0, or 1 after errors).
  int Execute(const RunOptions& options, std::ostream& out, std::ostream& err);
  // After Load: sets the global scalar `name` from text, as staprun's module options do
  // (see GlobalAssignment in object.h); false with a message naming it otherwise.
  bool SetGlobal(const std::string& name, const std::string& value, std::string* error);
  // Asks Run to stop (thread- and signal-safe).
  void RequestStop();

  const meta::Meta& meta() const { return meta_; }
  int errors() const { return errors_; }
  // Whether the output could not be written (or the next -o file made): Execute has said
  // so, and its caller need not check the stream again.
  bool output_failed() const { return !write_error_.empty(); }
  uint64_t lost() const;

 private:
  class SignalScope;
  void Detach();
  // Moves the session state (unless the probes moved it first) and wakes Run.
  void Stop(session::State why);
  // Takes in what the probes decided: exit(), abort(), too many errors.
  void ReadState();
  // The kernel-side error that stopped the session, left in global data (ReadState).
  void ReportStopError();
  // Whether the session is on its way out, for whatever reason.
  bool Stopping() const;
  void HandleRecord(std::span<const uint8_t> bytes);
  void CountError();
  // Runs the user-side probes of one kind in sequence order.
  void RunUserProbes(meta::ProbeKind kind);
  void RunKernelSessionProbe(const meta::Probe& p);
  static bool SessionProbe(const meta::Probe& p);
  void RunUserProbe(const meta::Probe& probe);
  bool RunProcfsProbe(const meta::Probe& probe);  // false when its handler failed
  bool StartCommand(const std::string& command, std::string* error);
  void StopCommand();
  void KeepCommandSymbols();
  bool KeepsUserAddresses() const;
  void SetTimeZone();                      // tz_gmtoff(), tz_name()
  void CalibrateCycles();                  // get_cycles()
  void Output(std::string_view text);      // for standard output
  void Diagnostic(std::string_view text);  // for standard error
  void Flush();
  // The -o files (output_files.cpp): switch_file(); the next file when the record from
  // `start` in the pending output would fill the current one; moving on.
  void SwitchFile();
  void RotateOutput(size_t start);
  void NextFile();
  // While standard output is full: whether to abandon it (see Flush).
  bool AbandonStalledOutput(int* signals_seen, bool* was_stopping);

  // module("M") probes that arm when M loads and disarm when it goes (session_modules.cpp).
  struct ModuleProbe {
    const meta::Probe* probe;
    bpf_program* program;
    std::string module;
    std::vector<bpf_link*> links;  // while armed
    bool armed = false;
    bpf_object* object = nullptr;  // while armed, for a deferred program: its own object
  };
  // Whether Attach leaves `p` to the module watch (a kprobe on a module's functions, where
  // the watch runs); adds it to module_probes_, armed when its module is loaded (false,
  // with `error`, when that attach fails), or to `waiting` when it is not.
  bool WatchModuleProbe(bpf_program* program, const meta::Probe& p,
                        std::vector<std::string>& missing, std::vector<std::string>& waiting,
                        bool* handled, std::string* error);
  // What the watch saw: the probes of a module that loaded are armed, of one that went,
  // disarmed (ready to arm again).
  void TakeModuleEvents();
  bool ArmModuleProbe(ModuleProbe& m, std::vector<std::string>& missing, std::string* error);
  void DetachModuleProbes();
  void Disarm(ModuleProbe& m);  // its links (and its own object) go
  // How a probe's program attached, for -v.
  static std::string AttachedAs(bpf_program* program, const meta::Probe& p);

  // Open's libbpf part; `fentry`: kernel functions may load as fentry programs.
  bool OpenObject(bool fentry, std::string* error);
  int LoadObject(std::string* log);  // bpf_object__load, its log captured
  int LoadBpfObject(bpf_object* object, std::string* log);
  bpf_object* OpenBpfObject(std::string* error);          // the object's bytes, opened by libbpf
  std::string LoadFailure(const std::string& log) const;  // why a load failed, in short
  // Before the load: the programs of module probes whose module is not loaded and whose
  // CO-RE relocations need types the kernel does not have yet (the module's) are left out;
  // each loads on its own when its module loads (ModuleProbe::object).
  void DeferModulePrograms();
  bpf_object* LoadModuleProgram(const meta::Probe& p, std::string* error);
  // Where a program's instructions lie in the object, for its CO-RE relocations: its
  // section, and its bytes there (the whole section when its symbol cannot be found).
  struct ProgramPlace {
    std::string section;
    uint64_t begin = 0, end = UINT64_MAX;
    bool Holds(const CoreRelocation& r) const {
      return r.section == section && r.insn_off >= begin && r.insn_off < end;
    }
  };
  ProgramPlace PlaceOf(bpf_program* program) const;

  std::vector<uint8_t> object_;
  meta::Meta meta_;
  bool fentry_chosen_ = false;  // some kernel function loads as an fentry program
  bool verbose_ = false;
  OutputFormatter formatter_;
  std::unique_ptr<UserSide> user_;
  std::unique_ptr<ProcfsServer> procfs_;  // procfs probes' files, while the session runs
  std::unique_ptr<StdinInput> input_;     // standard input, for input probes
  bpf_object* bpf_ = nullptr;
  std::vector<bpf_link*> links_;
  PythonSessionFile python_file_;         // what HelperSDT's tracer reads while attached
  std::vector<int> link_fds_;             // links libbpf cannot hold (netfilter's)
  std::unique_ptr<ModuleWatch> modules_;  // once a module probe needs it
  bool module_watch_failed_ = false;      // the kernel refused it: modules stay unwatched
  std::vector<ModuleProbe> module_probes_;
  std::set<std::string> deferred_;  // programs left out of the load (DeferModulePrograms)
  ring_buffer* ring_ = nullptr;
  int stop_fd_ = -1;
  std::string pending_;      // standard output not yet written
  std::string pending_err_;  // standard error not yet written
  std::string record_error_;
  std::ostream* out_ = nullptr;
  OutputFiles* files_ = nullptr;  // RunOptions::files
  std::ostream* err_ = nullptr;
  int errors_ = 0;
  uint64_t* state_ = nullptr;          // session::State, shared with the probes
  uint64_t* error_counter_ = nullptr;  // errors the probes counted
  uint64_t* stop_error_ = nullptr;     // session::kStopErrorWord
  bool stop_error_reported_ = false;
  int batch_left_ = 0;                    // records to take before looking up again
  std::string write_error_;               // why the output could not be written
  std::unique_ptr<StdoutWriter> stdout_;  // with RunOptions::output_fd
  size_t abandoned_bytes_ = 0;            // output left unwritten to a stalled reader
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // -T
  bool timed_out_ = false;
  bool exit_requested_ = false;
  bool too_many_errors_ = false;
  bool aborted_ = false;
  int child_ = -1;                 // the -c command
  int child_fd_ = -1;              // its pidfd
  int release_fd_ = -1;            // writing to it lets the command exec
  bool command_released_ = false;  // it did: a command held back ends with 127, unreported
  int traced_fd_ = -1;             // says the command stops at its exec (KeepCommandSymbols)
  bool child_reaped_ = false;      // it ended before its exec; its wait status:
  int child_status_ = 0;
  std::string program_name_ = "btap";
};

}  // namespace btap::runtime
