// Kernel modules loaded and freed while a session runs, for module("M") probes whose
// module comes and goes (stap's runtime watches the kernel's module notifications): see
// module_watch.cpp.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/object_meta.h"

struct ring_buffer;

namespace btap::runtime {

// Two raw tracepoint programs of the runtime's own, on `module_load` and `module_free`,
// send each module's name to a ring buffer of their own; the session reads it in its
// epoll set.
class ModuleWatch {
 public:
  ModuleWatch() = default;
  ModuleWatch(const ModuleWatch&) = delete;
  ModuleWatch& operator=(const ModuleWatch&) = delete;
  ~ModuleWatch();

  // Loads and attaches the programs; false with the reason where the kernel has no module
  // tracepoints (a kernel without loadable modules) or refuses them.
  bool Start(std::string* error);
  // The descriptor to wait on (readable when an event is there).
  int fd() const;
  // Each module event since the last call, in order: its name and whether it loaded
  // (false: it is being freed).
  void Take(const std::function<void(const std::string& module, bool loaded)>& each);

 private:
  int map_fd_ = -1;
  std::vector<int> fds_;  // programs and their raw tracepoint links
  ring_buffer* ring_ = nullptr;
  std::vector<std::pair<std::string, bool>> events_;
};

// The module whose functions a kernel-function probe names (every line of its target is
// `MODULE:...`, one module), "" for the kernel's own functions and absolute addresses.
std::string ProbeModule(const meta::Probe& probe);

// Whether module `name` is loaded (it has /sys/module/NAME).
bool ModuleLoaded(const std::string& name);

}  // namespace btap::runtime
