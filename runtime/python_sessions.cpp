// HelperSDT marks placed at run time, and the session files of the python tracer
// (runtime/python_sessions.h; the reader is python/HelperSDT/__init__.py).
#include "runtime/python_sessions.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

bool MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return true;
  return false;
}

// Raises the generation counter under an exclusive lock. The file is made whole (8 bytes)
// before it gets its name, so a tracer never maps a shorter one.
void RaiseGeneration(const std::string& dir) {
  std::string path = dir + "/generation";
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::string temp = path + "." + std::to_string(getpid());
    int t = open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (t < 0) return;
    uint64_t zero = 0;
    bool whole = write(t, &zero, sizeof zero) == sizeof zero;
    fchmod(t, 0644);
    close(t);
    if (whole) link(temp.c_str(), path.c_str());  // (another session's may be there first)
    unlink(temp.c_str());
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
  }
  if (flock(fd, LOCK_EX) == 0) {
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
  if (const char* env = std::getenv("BTAP_PYTHON_SESSIONS"); env && *env) return env;
  return "/run/btap/python";
}

void PythonSessionFile::Publish(const meta::Meta& meta) {
  std::string text;
  for (const meta::Probe& p : meta.probes) {
    if (p.helper_mark.empty() || !p.helper_mark.ends_with("_details")) continue;
    std::istringstream globs(p.python_filter);
    std::string module, function, file;
    std::getline(globs, module);
    std::getline(globs, function);
    std::getline(globs, file);
    text += "mark\t" + p.helper_mark + "\t" + Field(module) + "\t" + Field(function) + "\t" +
            Field(file) + "\n";
  }
  if (text.empty() || !path_.empty()) return;
  std::string dir = PythonSessionsDir();
  // (/run/btap/python: its parent first; a $BTAP_PYTHON_SESSIONS folder may be anywhere.)
  size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) MakeDir(dir.substr(0, slash));
  if (!MakeDir(dir)) return;
  pid_t pid = getpid();
  text = "btap-python-session 1\npid\t" + std::to_string(pid) + "\t" + StartTime(pid) + "\n" + text;
  std::string path = dir + "/" + std::to_string(pid) + ".session";
  std::string temp = path + ".new";
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  bool whole = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  fchmod(fd, 0644);
  close(fd);
  if (!whole || rename(temp.c_str(), path.c_str()) != 0) {
    unlink(temp.c_str());
    return;
  }
  dir_ = dir;
  path_ = path;
  RaiseGeneration(dir);
}

void PythonSessionFile::Withdraw() {
  if (path_.empty()) return;
  unlink(path_.c_str());
  path_.clear();
  RaiseGeneration(dir_);
}

}  // namespace btap::runtime
