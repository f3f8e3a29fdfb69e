// Standard output that a stalled reader cannot make the session wait on forever (see
// stdout_writer.h).
#include "runtime/stdout_writer.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace btap::runtime {
namespace {

// How long one wait for the reader lasts before the caller is asked again.
constexpr int kWaitMs = 100;
// Bytes per write to a descriptor that may still block (a socket): what a pipe or a
// socket with room for one more page takes without waiting.
constexpr size_t kChunk = 4096;

}  // namespace

StdoutWriter::StdoutWriter(int fd) : out_(fd, O_WRONLY) {}

StdoutWriter::Outcome StdoutWriter::Write(std::string_view text,
                                          const std::function<bool()>& give_up, size_t* unwritten,
                                          std::string* error) {
  size_t done = 0;
  // Waits for room, asking the caller between waits; false when the caller gave up or
  // poll failed.
  auto room = [&]() {
    while (true) {
      pollfd p{out_.fd(), POLLOUT, 0};
      int ready = poll(&p, 1, kWaitMs);
      if (ready > 0) return true;  // room, or an error the next write reports
      if (ready < 0 && errno != EINTR) {
        *error = std::strerror(errno);
        return false;
      }
      if (give_up()) {
        *unwritten = text.size() - done;
        return false;
      }
    }
  };
  while (done < text.size()) {
    if (out_.socket() && !room()) return error->empty() ? Outcome::kAbandoned : Outcome::kFailed;
    size_t n = out_.socket() ? std::min(kChunk, text.size() - done) : text.size() - done;
    ssize_t wrote = write(out_.fd(), text.data() + done, n);
    if (wrote > 0) {
      done += static_cast<size_t>(wrote);
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      *error = std::strerror(errno);
      return Outcome::kFailed;
    }
    if (!room()) return error->empty() ? Outcome::kAbandoned : Outcome::kFailed;
  }
  return Outcome::kWritten;
}

}  // namespace btap::runtime
