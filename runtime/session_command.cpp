// The -c command's life around a session (see session.h): its environment, the stop at
// its exec where its symbols are kept, and its end.
#include <poll.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/dwarf_symbols.h"
#include "runtime/session.h"
#include "runtime/user_side.h"

namespace btap::runtime {

// Ends the -c command if it still runs: SIGTERM, then SIGKILL after a second. A command
// that ended on its own with a failure is reported as staprun reports it; one that a stop
// before the probes were attached held back (it ends with 127 at the closed gate) is not.
void Session::StopCommand() {
  if (child_ <= 0) return;
  int status = child_status_;
  if (!child_reaped_ && waitpid(child_, &status, WNOHANG) == 0) {
    kill(child_, SIGTERM);
    pollfd p{child_fd_, POLLIN, 0};
    if (child_fd_ < 0 || poll(&p, 1, 1000) <= 0) kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
  } else if (err_ && command_released_) {
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
      *err_ << "WARNING: Child process exited with status " << WEXITSTATUS(status) << '\n';
    else if (WIFSIGNALED(status))
      *err_ << "WARNING: Child process exited with signal " << WTERMSIG(status) << " ("
            << strsignal(WTERMSIG(status)) << ")\n";
  }
  child_ = -1;
}

// Whether kernel probes keep user addresses that the runtime symbolizes later: tagged
// values (which name their process in a SymbolProcess record) or printed ones (`%{task}d`).
bool Session::KeepsUserAddresses() const {
  if (user_ && user_->RuntimeVariable("__btap_symbol_process")) return true;
  return std::any_of(meta_.formats.begin(), meta_.formats.end(),
                     [](const std::string& f) { return f.find("%{task}d") != std::string::npos; });
}

// A command that asked to be traced stops at its exec: its mappings (the program and its
// loader) are read there, before it runs a probed instruction, and it goes on untraced.
// A kept user address of the command is then symbolized even when it exits before the
// runtime reads the probe's record (see KeepProcessSymbols). Runs on the thread that
// started the command, its tracer: only that thread may detach it.
void Session::KeepCommandSymbols() {
  if (traced_fd_ < 0) return;
  char t = 0;
  ssize_t n;
  while ((n = read(traced_fd_, &t, 1)) < 0 && errno == EINTR) {
  }
  close(traced_fd_);
  traced_fd_ = -1;
  if (n != 1) return;  // not traced, or it ended before its exec
  for (;;) {
    int status = 0;
    if (waitpid(child_, &status, 0) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (!WIFSTOPPED(status)) {  // its exec failed
      child_reaped_ = true;
      child_status_ = status;
      return;
    }
    if (WSTOPSIG(status) == SIGTRAP) {
      KeepProcessSymbols(child_);
      ptrace(PTRACE_DETACH, child_, nullptr, nullptr);
      return;
    }
    // A signal before the exec goes on to the command. (A SIGSTOP in that instant does not
    // leave it stopped: the group stop it enters is resumed here as well.)
    ptrace(PTRACE_CONT, child_, nullptr,
           reinterpret_cast<void*>(static_cast<intptr_t>(WSTOPSIG(status))));
  }
}

// The folder that holds btap's HelperSDT package, when a probe is at one of its marks
// (the library inside the package); "" otherwise.
static std::string HelperSdtPath(const meta::Meta& meta) {
  constexpr std::string_view kLibrary = "/HelperSDT/libbtap_python.so";
  for (const meta::Probe& p : meta.probes) {
    std::string_view file = std::string_view(p.target).substr(0, p.target.find('\n'));
    if (file.ends_with(kLibrary)) return std::string(file.substr(0, file.size() - kLibrary.size()));
  }
  return "";
}

// The -c command's environment: btap's own with the HelperSDT package's folder first on
// PYTHONPATH when a probe is at one of its marks; empty (inherit btap's) otherwise.
std::vector<std::string> CommandEnvironment(const meta::Meta& meta) {
  std::vector<std::string> env;
  std::string package = HelperSdtPath(meta);
  if (package.empty()) return env;
  std::string path = "PYTHONPATH=" + package;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("PYTHONPATH=")) {
      if (entry.size() > 11) path += ":" + std::string(entry.substr(11));
      continue;
    }
    env.emplace_back(entry);
  }
  env.push_back(std::move(path));
  return env;
}

}  // namespace btap::runtime
