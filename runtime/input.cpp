// Standard input for input probes (see input.h): read from the session's event loop, never
// blocking it, one probe run per byte.
#include "runtime/input.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "runtime/procfs.h"
#include "runtime/user_side.h"

namespace btap::runtime {

namespace {

// Bytes read at a time: the stop is looked at between two blocks (and between bytes).
constexpr size_t kBlock = 256;

// SIGTTIN and SIGTTOU held while btap reads or sets its terminal: a session put in the
// background (Ctrl-Z, bg) gets EIO instead of being stopped with its probes attached,
// and its terminal's modes are given back all the same.
class NoTerminalStops {
 public:
  NoTerminalStops() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTTIN);
    sigaddset(&set, SIGTTOU);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~NoTerminalStops() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

bool IsInputProbe(const meta::Probe& p) {
  return p.family == static_cast<uint8_t>(meta::ProbeKind::Procfs) && p.numbers[2] != 0 &&
         p.target == meta::kInputFile;
}

}  // namespace

bool HasInputProbes(const meta::Meta& meta) {
  return std::any_of(meta.probes.begin(), meta.probes.end(), IsInputProbe);
}

std::unique_ptr<StdinInput> StdinInput::Start(const meta::Meta& meta, UserSide& user,
                                              RunProbe run) {
  std::unique_ptr<StdinInput> input(new StdinInput(user, std::move(run)));
  for (const meta::Probe& p : meta.probes)
    if (IsInputProbe(p)) input->probes_.push_back(&p);
  if (input->probes_.empty()) return nullptr;
  std::stable_sort(
      input->probes_.begin(), input->probes_.end(),
      [](const meta::Probe* a, const meta::Probe* b) { return a->sequence < b->sequence; });
  // A pipe, a terminal or a socket may have nothing to read after all (another reader of
  // it took the bytes): it is read without waiting.
  input->in_ = std::make_unique<OwnDescriptor>(0, O_RDONLY);
  // Only the terminal's foreground job may change its modes (others would be stopped).
  if (isatty(0) && tcgetpgrp(0) == getpgrp() && tcgetattr(0, &input->saved_) == 0) {
    termios raw = input->saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    input->terminal_set_ = tcsetattr(0, TCSANOW, &raw) == 0;
  }
  return input;
}

StdinInput::~StdinInput() { RestoreTerminal(); }

void StdinInput::RestoreTerminal() {
  if (!terminal_set_) return;
  NoTerminalStops held;
  tcsetattr(0, TCSANOW, &saved_);
  terminal_set_ = false;
}

bool StdinInput::Read() {
  char block[kBlock];
  ssize_t n;
  {
    NoTerminalStops held;
    int fd = in_->fd();
    n = in_->socket() ? recv(fd, block, sizeof block, MSG_DONTWAIT) : read(fd, block, sizeof block);
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0) {
    // The end (or a terminal hung up): as stapio, the terminal is given back now.
    RestoreTerminal();
    return false;
  }
  // The handlers run as btap's own task (stap's run as stapio's, which writes the file).
  ProcfsValue value;
  value.tid = static_cast<uint32_t>(gettid());
  value.tgid = static_cast<uint32_t>(getpid());
  value.ppid = static_cast<uint32_t>(getppid());
  value.uid = getuid();
  value.gid = getgid();
  char comm[17] = {};
  prctl(PR_GET_NAME, comm);
  value.comm = comm;
  for (ssize_t i = 0; i < n; ++i) {
    value.written.assign(1, block[i]);
    for (const meta::Probe* p : probes_) {
      user_.SetProcfsValue(&value);
      bool running = run_(*p);
      user_.SetProcfsValue(nullptr);
      if (running) continue;
      // Stopping: a file's unread bytes are left for whoever reads it next.
      if (i + 1 < n) lseek(in_->fd(), static_cast<off_t>(i + 1 - n), SEEK_CUR);
      return true;
    }
  }
  return true;
}

}  // namespace btap::runtime
