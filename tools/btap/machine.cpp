// The preprocessor's view of the machine (kernel release, architecture, kernel config)
// and what the running user may do with it (loading BPF needs root).
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "common/kernel_config.h"
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

// Reads the kernel config once, on the first CONFIG_ lookup.
std::function<std::string(std::string_view)> KernelConfigLookup(const std::string& release,
                                                                const std::string& path) {
  auto config = std::make_shared<KernelConfig>(release, path);
  return [config](std::string_view name) { return config->Get(name); };
}

}  // namespace

frontend::PPConfig MachineConfig(const Options& options, const sema::TargetKernel& kernel) {
  frontend::PPConfig config;
  struct utsname u;
  uname(&u);
  config.kernel_vr = kernel.release.empty() ? u.release : kernel.release;
  config.kernel_v = config.kernel_vr.substr(0, config.kernel_vr.find('-'));
  config.arch = NormalizeArch(options.arch.empty() ? u.machine : options.arch);
  config.runtime = "bpf";
  config.systemtap_v = options.compatible;
  config.privilege = "stapdev";
  config.guru_mode = options.guru;
  config.args = options.args;
  config.kernel_config = KernelConfigLookup(config.kernel_vr, kernel.config_path);
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
