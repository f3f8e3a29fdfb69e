// HelperSDT marks placed at run time, and the session files of the python tracer
// (runtime/python_sessions.h; the reader is python/HelperSDT/__init__.py).
#include "runtime/python_sessions.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/helper_sdt.h"

namespace btap::runtime {
namespace {

// The 22nd field of /proc/PID/stat, which tells a process from a later one of its pid.
std::string StartTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return "";
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  return field;
}

constexpr const char* kSessionsDir = "/run/btap/python";

// The folder, opened (made 0755 when missing: its parent first), when it is not a symbolic
// link, belongs to this user and nobody else may write in it (as stap's runtime folders):
// -1 otherwise. Whatever is made or written in it then goes through this descriptor.
int OpenSessionsDir(const std::string& dir) {
  size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) mkdir(dir.substr(0, slash).c_str(), 0755);
  mkdir(dir.c_str(), 0755);
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A new regular file in the folder (never an existing one, nor through a link).
int CreateFile(int dir, const std::string& name) {
  unlinkat(dir, name.c_str(), 0);  // (this pid's own, left by a session that was killed)
  return openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

// Raises the generation counter under an exclusive lock. The file is made whole (8 bytes)
// before it gets its name, so a tracer never maps a shorter one.
void RaiseGeneration(int dir) {
  int fd = openat(dir, "generation", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    std::string temp = "generation." + std::to_string(getpid());
    int t = CreateFile(dir, temp);
    if (t < 0) return;
    uint64_t zero = 0;
    bool whole = write(t, &zero, sizeof zero) == sizeof zero;
    fchmod(t, 0644);
    close(t);
    if (whole) linkat(dir, temp.c_str(), dir, "generation", 0);  // (another's may be first)
    unlinkat(dir, temp.c_str(), 0);
    fd = openat(dir, "generation", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return;
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX) == 0) {
    uint64_t n = 0;
    if (pread(fd, &n, sizeof n, 0) == sizeof n) {
      ++n;
      (void)!pwrite(fd, &n, sizeof n, 0);
    }
    flock(fd, LOCK_UN);
  }
  close(fd);
}

// A glob as the file holds it: one that would break its line matches everything.
std::string Field(const std::string& glob) {
  return glob.find_first_of("\t\n") == std::string::npos ? glob : "*";
}

// The module, function and file globs of a probe (one a line; any other shape: all `*`,
// which matches more than the probe's own filter, never less).
void Globs(const std::string& filter, std::string* module, std::string* function,
           std::string* file) {
  std::istringstream lines(filter);
  std::getline(lines, *module);
  std::getline(lines, *function);
  std::getline(lines, *file);
  if (std::count(filter.begin(), filter.end(), '\n') != 2) *module = *function = *file = "*";
}

}  // namespace

bool PlaceHelperSdtMarks(meta::Meta& meta, std::string* error) {
  std::string library, why;
  bool searched = false;
  for (meta::Probe& p : meta.probes) {
    if (p.helper_mark.empty()) continue;
    if (!searched) {
      library = HelperSdtLibrary(&why);
      searched = true;
    }
    if (library.empty()) {
      *error = "cannot attach `" + p.point + "`: " + why;
      return false;
    }
    SdtPlace place;
    if (!FindHelperSdtMark(library, p.helper_mark, &place, &why)) {
      *error = "cannot attach `" + p.point + "`: " + why;
      return false;
    }
    // The compiled probe reads the operands from the registers its object's copy used.
    if (!p.helper_args.empty() && place.args != p.helper_args) {
      *error = "cannot attach `" + p.point + "`: the operands of mark " + p.helper_mark + " in `" +
               library + "` (" + place.args + ") are not those it was compiled for (" +
               p.helper_args + "); compile the script again";
      return false;
    }
    p.target = library;
    p.numbers[0] = static_cast<int64_t>(place.offset);
    p.numbers[1] = static_cast<int64_t>(place.semaphore);
    p.build_id.clear();
  }
  return true;
}

std::string PythonSessionsDir() {
  const char* env = std::getenv("BTAP_PYTHON_SESSIONS");
  std::string dir = env && *env ? env : kSessionsDir;
  if (dir[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) dir = std::string(cwd) + "/" + dir;
  }
  return dir;
}

void PythonSessionFile::Publish(meta::Meta& meta) {
  std::string text;
  for (const meta::Probe& p : meta.probes) {
    if (p.helper_mark.empty() || !p.helper_mark.ends_with("_details")) continue;
    std::string module, function, file;
    Globs(p.python_filter, &module, &function, &file);
    text += "mark\t" + p.helper_mark + "\t" + Field(module) + "\t" + Field(function) + "\t" +
            Field(file) + "\n";
  }
  if (text.empty() || dir_ >= 0) return;
  std::string dir = PythonSessionsDir();
  int dfd = OpenSessionsDir(dir);
  if (dfd < 0) return;
  pid_t pid = getpid();
  text = "btap-python-session 1\npid\t" + std::to_string(pid) + "\t" + StartTime(pid) + "\n" + text;
  std::string name = std::to_string(pid) + ".session";
  std::string temp = name + ".new";
  int fd = CreateFile(dfd, temp);
  bool whole = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) {
    fchmod(fd, 0644);
    close(fd);
  }
  if (!whole || renameat(dfd, temp.c_str(), dfd, name.c_str()) != 0) {
    unlinkat(dfd, temp.c_str(), 0);
    close(dfd);
    return;
  }
  dir_ = dfd;
  name_ = name;
  RaiseGeneration(dfd);
  // Every tracer reads kSessionsDir, whatever its environment says: only a file there
  // lets the probes take the `_filtered` marks, whose strings the tracer computes for the
  // functions the files it reads match. Elsewhere they keep `_details` (every event's).
  if (dir != kSessionsDir) return;
  for (meta::Probe& p : meta.probes) {
    if (p.helper_mark.empty() || !p.helper_mark.ends_with("_details")) continue;
    std::string mark = p.helper_mark.substr(0, p.helper_mark.size() - 8) + "_filtered";
    SdtPlace place;
    std::string why;
    // (An older library has no such mark: the probe keeps its own.)
    if (!FindHelperSdtMark(TargetFile(p), mark, &place, &why)) continue;
    if (!p.helper_args.empty() && place.args != p.helper_args) continue;
    p.helper_mark = mark;
    p.numbers[0] = static_cast<int64_t>(place.offset);
    p.numbers[1] = static_cast<int64_t>(place.semaphore);
  }
}

void PythonSessionFile::Withdraw() {
  if (dir_ < 0) return;
  unlinkat(dir_, name_.c_str(), 0);
  RaiseGeneration(dir_);
  close(dir_);
  dir_ = -1;
}

}  // namespace btap::runtime
