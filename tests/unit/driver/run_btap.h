// What the driver tests share: btap's driver run in a child process, and a whole file's
// bytes.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tools/btap/driver.h"

namespace btap::driver {

struct Ran {
  int status;
  std::string out, err;
};

// In a child process: LLVM 16's BPF CO-RE pass keeps the globals it made in a static map
// keyed by the access, so a second compile in one process that repeats an access reads
// the first one's freed global (btap compiles once per process; codegen/compile.cpp).
inline Ran RunBtap(const std::vector<std::string>& argv, const std::string& stdin_text = "") {
  int fds[2];
  // (Close-on-exec: what btap starts must not hold the pipe open after btap is done.)
  if (pipe2(fds, O_CLOEXEC) != 0) return {-1, "", "pipe failed"};
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return {-1, "", "fork failed"};
  }
  auto put = [](std::string& to, const std::string& s) {
    uint64_t n = s.size();
    to.append(reinterpret_cast<const char*>(&n), sizeof n);
    to.append(s);
  };
  if (pid == 0) {
    close(fds[0]);
    std::istringstream in(stdin_text);
    std::ostringstream out, err;
    int status = Run(argv, in, out, err);
    std::string all;
    put(all, std::to_string(status));
    put(all, out.str());
    put(all, err.str());
    for (size_t at = 0; at < all.size();) {
      ssize_t n = write(fds[1], all.data() + at, all.size() - at);
      if (n <= 0) _exit(1);
      at += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string all;
  char buf[65536];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  std::string_view view = all;
  std::string parts[3];
  for (std::string& part : parts) {
    uint64_t n = 0;
    if (view.size() < sizeof n)
      return {-1, "", "btap's child died (wait status " + std::to_string(wstatus) + ")"};
    memcpy(&n, view.data(), sizeof n);
    view.remove_prefix(sizeof n);
    if (view.size() < n)
      return {-1, "", "btap's child died mid-write (wait status " + std::to_string(wstatus) + ")"};
    part.assign(view.substr(0, n));
    view.remove_prefix(n);
  }
  return {std::stoi(parts[0]), parts[1], parts[2]};
}

inline std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace btap::driver
