// Reading the kernel configuration (see kernel_config.h).
#include "common/kernel_config.h"

#include <sys/utsname.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace btap {

KernelConfig::KernelConfig(std::string release, std::string path)
    : release_(std::move(release)), path_(std::move(path)) {}

std::string KernelConfig::Get(std::string_view name) {
  Load();
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second;
}

const std::string& KernelConfig::source() {
  Load();
  return source_;
}

namespace {

// The whole of a gzip file, "" if it cannot be read.
std::string Gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return "";
  std::string text;
  char buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return n < 0 ? std::string() : text;
}

std::string RunningRelease() {
  struct utsname u;
  return uname(&u) == 0 ? u.release : "";
}

}  // namespace

std::string KernelConfigText(const std::string& release, const std::string& boot_dir,
                             const std::string& proc_config) {
  std::ifstream boot(boot_dir + "/config-" + release);
  if (boot) {
    std::ostringstream text;
    text << boot.rdbuf();
    return text.str();
  }
  // /proc/config.gz (CONFIG_IKCONFIG_PROC) describes the running kernel only.
  if (release == RunningRelease()) return Gunzip(proc_config);
  return "";
}

std::map<std::string, std::string, std::less<>> ParseKernelConfig(std::string_view text) {
  std::map<std::string, std::string, std::less<>> table;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CONFIG_", 0) != 0) continue;  // "# CONFIG_X is not set" leaves X unset
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    table[line.substr(0, eq)] = value;
  }
  return table;
}

void KernelConfig::Load() {
  if (loaded_) return;
  loaded_ = true;
  if (!path_.empty()) {
    std::ifstream file(path_);
    std::ostringstream text;
    text << file.rdbuf();
    if (!file) return;
    source_ = path_;
    values_ = ParseKernelConfig(text.str());
    return;
  }
  std::string release = release_.empty() ? RunningRelease() : release_;
  std::string text = KernelConfigText(release, "/boot", "/proc/config.gz");
  if (text.empty()) return;
  source_ =
      std::ifstream("/boot/config-" + release) ? "/boot/config-" + release : "/proc/config.gz";
  values_ = ParseKernelConfig(text);
}

int64_t KconfigNumber(std::string_view value) {
  if (value == "y") return 1;
  if (value == "m") return 2;
  std::string text(value);
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(text.c_str(), &end, 0);
  return !text.empty() && end && !*end && errno == 0 ? n : 0;
}

int RunningKernelHz() {
  static const int hz = [] {
    KernelConfig config;
    return std::atoi(config.Get("CONFIG_HZ").c_str());
  }();
  return hz;
}

}  // namespace btap
