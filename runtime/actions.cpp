// system(), printk() and ftrace(), done in user space when their record arrives.
#include "runtime/actions.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/tracefs.h"
#include "runtime/attach/attach.h"

namespace btap::runtime {
namespace {

// As staprun: a child closes the session's files and starts the command in a grandchild,
// then exits; only the child is waited for, so the command runs on in the background and
// is never left a zombie.
std::string RunCommand(const std::string& command) {
  pid_t child = fork();
  if (child < 0) return std::string("system(): cannot start a process: ") + std::strerror(errno);
  if (child == 0) {
    closefrom(3);
    if (fork() == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);  // the session's mask is not the command's
      RestoreDescriptorLimit();
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    _exit(0);
  }
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
  return "";
}

std::string WriteTo(const std::string& path, const std::string& text, const char* what) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::string(what) + ": cannot open " + path + ": " + std::strerror(errno);
  ssize_t n = write(fd, text.data(), text.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    return std::string(what) + ": cannot write " + path + ": " + std::strerror(n < 0 ? err : EIO);
  return "";
}

// The kernel's default message level (the second field of /proc/sys/kernel/printk).
std::string DefaultLogLevel() {
  std::ifstream in("/proc/sys/kernel/printk");
  int current = 0, level = 4;
  if (!(in >> current >> level) || level < 0 || level > 7) level = 4;
  return std::to_string(level);
}

}  // namespace

std::string RunAction(record::Kind kind, const std::string& text) {
  switch (kind) {
    case record::Kind::System:
      return RunCommand(text);
    case record::Kind::Printk: {
      // "<N>" for levels 0-7, as the kernel log takes them; another level is the log's
      // default, given explicitly so that the message cannot choose one with a "<N>" of its own.
      bool level =
          text.size() > 3 && text[0] == '<' && text[1] >= '0' && text[1] <= '7' && text[2] == '>';
      std::string line =
          level ? text : "<" + DefaultLogLevel() + ">" + text.substr(text.find('>') + 1);
      return WriteTo("/dev/kmsg", line + '\n', "printk()");
    }
    case record::Kind::Ftrace: {
      std::string root = FindTracefs();
      if (root.empty()) return "ftrace(): tracefs is not mounted and cannot be";
      return WriteTo(root + "/trace_marker", text + '\n', "ftrace()");
    }
    default:
      return "no such action";
  }
}

}  // namespace btap::runtime
