// The kernel's build configuration (CONFIG_* values), for preprocessor conditions and
// for facts the runtime needs (CONFIG_HZ): /boot/config-RELEASE, or for the running
// kernel /proc/config.gz when that file is missing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace btap {

class KernelConfig {
 public:
  // Reads the configuration of `release` ("" for the running kernel) once, lazily.
  explicit KernelConfig(std::string release = "", std::string path = "");
  // An option's value ("y", "m", a number, a string without its quotes); "" when unset.
  std::string Get(std::string_view name);
  // Where the values came from ("" when nothing was found).
  const std::string& source();

 private:
  void Load();
  std::string release_;
  std::string path_;  // a config file named outright (-r DIR), else looked for
  bool loaded_ = false;
  std::string source_;
  std::map<std::string, std::string, std::less<>> values_;
};

// The kernel's timer frequency (CONFIG_HZ); 0 when the configuration does not say.
int RunningKernelHz();

// An option's value as a number, as probe bodies read it (kconfig_value()): "y" 1, "m" 2,
// a decimal or 0x number as itself, anything else (unset, a string) 0.
int64_t KconfigNumber(std::string_view value);

// The kernel config of RELEASE: BOOT_DIR/config-RELEASE, else PROC_CONFIG (gzip) when
// RELEASE is the running kernel's; "" when neither can be read.
std::string KernelConfigText(const std::string& release, const std::string& boot_dir,
                             const std::string& proc_config);
// CONFIG_X=value lines; quoted values lose their quotes; unset options are absent (and
// so read as "", as in stap).
std::map<std::string, std::string, std::less<>> ParseKernelConfig(std::string_view text);

}  // namespace btap
