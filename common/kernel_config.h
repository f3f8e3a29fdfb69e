// The kernel's build configuration (CONFIG_* values), for preprocessor conditions and
// for facts the runtime needs (CONFIG_HZ): /boot/config-RELEASE, or for the running
// kernel /proc/config.gz when that file is missing.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace btap {

class KernelConfig {
 public:
  // Reads the configuration of `release` ("" for the running kernel) once, lazily.
  explicit KernelConfig(std::string release = "");
  // An option's value ("y", "m", a number, a string without its quotes); "" when unset.
  std::string Get(std::string_view name);
  // Where the values came from ("" when nothing was found).
  const std::string& source();

 private:
  void Load();
  std::string release_;
  bool loaded_ = false;
  std::string source_;
  std::map<std::string, std::string, std::less<>> values_;
};

// The kernel's timer frequency (CONFIG_HZ); 0 when the configuration does not say.
int RunningKernelHz();

}  // namespace btap
