// stap's input probes (input.char, input.line: tapsets/input.stp), which are write probes
// of the procfs file "__stdin" (meta::kInputFile). stap's stapio writes each byte it reads
// from its standard input into that file; this runtime reads its own standard input from
// the session's event loop and runs those probes once per byte, with the byte in `$value`.
// An object without input probes leaves standard input alone (a -c command keeps it).
#pragma once

#include <termios.h>

#include <functional>
#include <memory>
#include <vector>

#include "common/object_meta.h"
#include "runtime/own_descriptor.h"

namespace btap::runtime {

class UserSide;

bool HasInputProbes(const meta::Meta& meta);

class StdinInput {
 public:
  // Runs one input probe; false once the session is stopping (no more bytes are run).
  using RunProbe = std::function<bool(const meta::Probe&)>;

  // Null when `meta` has no input probe. On a terminal in the foreground, input is taken
  // without line editing and without echo (as stapio takes it) until this ends.
  static std::unique_ptr<StdinInput> Start(const meta::Meta& meta, UserSide& user, RunProbe run);
  ~StdinInput();  // the terminal's modes back
  StdinInput(const StdinInput&) = delete;
  StdinInput& operator=(const StdinInput&) = delete;

  // The descriptor to wait on. When it cannot be waited on (a regular file, /dev/null:
  // epoll refuses them), it is always ready: call Read on every turn of the loop.
  int fd() const { return in_->fd(); }
  // Reads what is there (a block at most) and runs the probes on each byte; false at
  // the end of the input (or a read error): nothing more will come.
  bool Read();

 private:
  StdinInput(UserSide& user, RunProbe run) : user_(user), run_(std::move(run)) {}
  void RestoreTerminal();

  UserSide& user_;
  RunProbe run_;
  std::vector<const meta::Probe*> probes_;  // in the script's order
  std::unique_ptr<OwnDescriptor> in_;       // standard input, read without waiting
  bool terminal_set_ = false;
  termios saved_{};
};

}  // namespace btap::runtime
