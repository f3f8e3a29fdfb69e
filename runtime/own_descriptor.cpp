// Non-blocking descriptors of btap's own (see own_descriptor.h).
#include "runtime/own_descriptor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace btap::runtime {

OwnDescriptor::OwnDescriptor(int fd, int access) : fd_(fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  socket_ = S_ISSOCK(st.st_mode);
  if (!S_ISFIFO(st.st_mode) && !isatty(fd)) return;
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  int own = open(self.c_str(), access | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (own < 0) return;
  fd_ = own;
  own_ = true;
}

OwnDescriptor::~OwnDescriptor() {
  if (own_) close(fd_);
}

}  // namespace btap::runtime
