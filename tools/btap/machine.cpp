// The preprocessor's view of the machine (kernel release, architecture, kernel config)
// and what the running user may do with it (loading BPF needs root).
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "tools/btap/driver.h"

namespace btap::driver {

std::string NormalizeArch(const std::string& m) {
  if (m.size() == 4 && m[0] == 'i' && m.substr(2) == "86") return "i386";
  if (m == "aarch64" || m.rfind("arm64", 0) == 0) return "arm64";
  if (m.rfind("arm", 0) == 0) return "arm";
  if (m.rfind("ppc", 0) == 0 || m.rfind("powerpc", 0) == 0) return "powerpc";
  if (m.rfind("s390", 0) == 0) return "s390";
  if (m.rfind("mips", 0) == 0) return "mips";
  if (m.rfind("riscv", 0) == 0) return "riscv";
  if (m.rfind("sh", 0) == 0) return "sh";
  return m;
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

std::map<std::string, std::string, std::less<>> ParseKernelConfig(std::string_view text) {
  std::map<std::string, std::string, std::less<>> table;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    // "# CONFIG_X is not set" lines leave X unset: it then reads as "", as in stap.
    if (line.rfind("CONFIG_", 0) != 0) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    table[line.substr(0, eq)] = value;
  }
  return table;
}

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

namespace {

// Reads the kernel config once, on the first CONFIG_ lookup.
std::function<std::string(std::string_view)> KernelConfigLookup(const std::string& release) {
  auto table = std::make_shared<std::map<std::string, std::string, std::less<>>>();
  auto loaded = std::make_shared<bool>(false);
  return [=](std::string_view name) -> std::string {
    if (!*loaded) {
      *loaded = true;
      *table = ParseKernelConfig(KernelConfigText(release, "/boot", "/proc/config.gz"));
    }
    auto it = table->find(name);
    return it == table->end() ? std::string() : it->second;
  };
}

}  // namespace

frontend::PPConfig MachineConfig(const Options& options) {
  frontend::PPConfig config;
  struct utsname u;
  uname(&u);
  config.kernel_vr = options.kernel_release.empty() ? u.release : options.kernel_release;
  config.kernel_v = config.kernel_vr.substr(0, config.kernel_vr.find('-'));
  config.arch = NormalizeArch(options.arch.empty() ? u.machine : options.arch);
  config.runtime = "bpf";
  config.systemtap_v = options.compatible;
  config.privilege = "stapdev";
  config.guru_mode = options.guru;
  config.args = options.args;
  config.kernel_config = KernelConfigLookup(config.kernel_vr);
  return config;
}

bool MayLoadBpf() {
  if (geteuid() == 0) return true;
  // A non-root user may hold the capabilities instead: CAP_SYS_ADMIN, or CAP_BPF with
  // CAP_PERFMON (kernel 5.8 on).
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
    auto has = [&](int bit) { return (caps >> bit) & 1; };
    return has(21) || (has(39) && has(38));
  }
  return false;
}

bool TracefsReadable() {
  for (const char* dir : {"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"})
    if (access(dir, R_OK | X_OK) == 0) return true;
  return false;
}

bool ListingNeedsKernel(std::string_view pattern) {
  // User-space and timer families never read tracefs; the rest (tracepoints, syscalls,
  // kernel functions, tapset aliases over them) may.
  for (std::string_view user : {"process", "begin", "end", "error", "never", "timer", "perf"})
    if (pattern.substr(0, pattern.find_first_of(".(")) == user) return false;
  return true;
}

}  // namespace btap::driver
