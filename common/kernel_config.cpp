// Reading the kernel configuration (see kernel_config.h).
#include "common/kernel_config.h"

#include <sys/utsname.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace btap {

KernelConfig::KernelConfig(std::string release) : release_(std::move(release)) {}

std::string KernelConfig::Get(std::string_view name) {
  Load();
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second;
}

const std::string& KernelConfig::source() {
  Load();
  return source_;
}

void KernelConfig::Load() {
  if (loaded_) return;
  loaded_ = true;
  struct utsname u;
  std::string running = uname(&u) == 0 ? u.release : "";
  std::string release = release_.empty() ? running : release_;
  std::string text;
  std::string boot = "/boot/config-" + release;
  if (std::ifstream in(boot); in) {
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
    source_ = boot;
  } else if (release == running) {
    // Only the running kernel's: /proc/config.gz describes no other.
    if (gzFile gz = gzopen("/proc/config.gz", "rb")) {
      char buf[65536];
      int n;
      while ((n = gzread(gz, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
      gzclose(gz);
      if (!text.empty()) source_ = "/proc/config.gz";
    }
  }
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("CONFIG_", 0) != 0) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    values_[line.substr(0, eq)] = value;
  }
}

int RunningKernelHz() {
  static const int hz = [] {
    KernelConfig config;
    return std::atoi(config.Get("CONFIG_HZ").c_str());
  }();
  return hz;
}

}  // namespace btap
