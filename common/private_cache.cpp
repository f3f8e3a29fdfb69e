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

namespace {

// Whether a folder on the way to a private one is safe to pass: root's or ours, and
// writable by others only when sticky (as /tmp), so nobody else can swap what is below it.
bool SafeAncestor(const struct stat& st) {
  if (st.st_uid != 0 && st.st_uid != geteuid()) return false;
  return !(st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_mode & S_ISVTX);
}

}  // namespace

int OpenPrivateDir(const std::string& path) {
  if (path.empty()) {
    errno = EINVAL;
    return -1;
  }
  int fd = open(path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (size_t at = 0; fd >= 0 && at < path.size();) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    std::string name = path.substr(at, end - at);
    at = end + 1;
    if (name.empty() || name == ".") continue;
    bool last = end >= path.size() || path.find_first_not_of('/', end) == std::string::npos;
    // Each level is opened by name below the one already checked. A level above the last
    // may be a link (a ~/.cache kept elsewhere): where it leads is checked as the level
    // (root's or ours); the last, the private folder itself, never is.
    int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (last ? O_NOFOLLOW : 0);
    int next = openat(fd, name.c_str(), flags);
    if (next < 0 && errno == ENOENT && (mkdirat(fd, name.c_str(), 0700) == 0 || errno == EEXIST))
      next = openat(fd, name.c_str(), flags);
    int err = errno;
    close(fd);
    fd = next;
    if (fd < 0) {
      errno = err == ELOOP ? EPERM : err;  // a link where a folder should be
      return -1;
    }
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    if (ok && last)
      ok = st.st_uid == geteuid() && !(st.st_mode & (S_IWGRP | S_IWOTH));
    else if (ok)
      ok = SafeAncestor(st);
    if (!ok) {
      close(fd);
      errno = EPERM;
      return -1;
    }
  }
  return fd;
}

bool MakePrivateDirs(const std::string& path) {
  int fd = OpenPrivateDir(path);
  if (fd < 0) return false;
  close(fd);
  return true;
}

int OpenPrivateFile(int dir_fd, const std::string& name) {
  int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & (S_IWGRP | S_IWOTH))) {
    close(fd);
    errno = EPERM;
    return -1;
  }
  return fd;
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
