// Standard output written so that a reader that stops reading cannot hold a session that
// has been asked to stop: a pipe, FIFO or terminal is written through a non-blocking
// descriptor of its own (standard output's flags, shared with the shell, stay as they
// are), and while it is full the caller is asked, every 100 ms, whether to give up.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "runtime/own_descriptor.h"

namespace btap::runtime {

class StdoutWriter {
 public:
  explicit StdoutWriter(int fd);
  StdoutWriter(const StdoutWriter&) = delete;
  StdoutWriter& operator=(const StdoutWriter&) = delete;

  enum class Outcome { kWritten, kFailed, kAbandoned };
  // Writes all of `text`. While the reader takes nothing, `give_up` is called every
  // 100 ms; when it says so the rest is left (`*unwritten` bytes). kFailed sets `*error`.
  Outcome Write(std::string_view text, const std::function<bool()>& give_up, size_t* unwritten,
                std::string* error);

 private:
  OwnDescriptor out_;  // a socket is written in chunks after poll() says it has room
};

}  // namespace btap::runtime
