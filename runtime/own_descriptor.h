// A non-blocking descriptor of btap's own onto standard input or output. A pipe, FIFO or
// terminal is opened again through /proc/self/fd, so its reads and writes never wait and
// the descriptor's shared flags (standard input's and output's, which the shell and
// other processes share) stay as they are. A regular file or /dev/null is used as it is:
// it never blocks, and a new descriptor of a file would start at its beginning. A socket
// cannot be opened again: it is used as it is, and `socket()` says so, so that its user
// waits by other means (MSG_DONTWAIT, poll).
#pragma once

namespace btap::runtime {

class OwnDescriptor {
 public:
  // `access`: O_RDONLY or O_WRONLY.
  OwnDescriptor(int fd, int access);
  ~OwnDescriptor();
  OwnDescriptor(const OwnDescriptor&) = delete;
  OwnDescriptor& operator=(const OwnDescriptor&) = delete;

  int fd() const { return fd_; }
  // Whether fd() is the given descriptor, a socket.
  bool socket() const { return socket_; }

 private:
  int fd_;
  bool own_ = false;
  bool socket_ = false;
};

}  // namespace btap::runtime
