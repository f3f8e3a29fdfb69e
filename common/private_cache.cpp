// btap's private cache folders and their files (private_cache.h).
#include "common/private_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace btap {

std::string UserCacheDir(std::string_view sub) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg) return std::string(xdg) + "/btap/" + std::string(sub);
  if (home && *home) return std::string(home) + "/.cache/btap/" + std::string(sub);
  return "";
}

bool MakePrivateDirs(const std::string& path) {
  for (size_t at = 1; at <= path.size(); ++at)
    if (at == path.size() || path[at] == '/')
      if (mkdir(path.substr(0, at).c_str(), 0700) != 0 && errno != EEXIST) return false;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return false;
  }
  if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
    errno = EPERM;
    return false;
  }
  return true;
}

bool WriteWhole(const std::string& path, std::string_view data) {
  std::string temp = path + ".XXXXXX";
  int fd = mkostemp(temp.data(), O_CLOEXEC);  // a new file of our own, never a link
  if (fd < 0) return false;
  bool written = true;
  for (size_t at = 0; written && at < data.size();) {
    ssize_t n = write(fd, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    at += written ? static_cast<size_t>(n) : 0;
  }
  if (close(fd) != 0) written = false;
  if (written && rename(temp.c_str(), path.c_str()) == 0) return true;
  int err = errno ? errno : EIO;
  unlink(temp.c_str());
  errno = err;
  return false;
}

}  // namespace btap
