// The kernel's BTF, parsed once (see kernel_btf.h).
#include "semantic/machine/kernel_btf.h"

#include <bpf/btf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace btap::sema {

SharedBtf ParseKernelBtf(const std::string& path, std::string* error) {
  std::string file = path.empty() ? "/sys/kernel/btf/vmlinux" : path;
  // Checking first keeps libbpf from printing its own warning for a missing file.
  if (access(file.c_str(), R_OK) != 0) {
    *error = "cannot read kernel BTF `" + file + "`: " + std::strerror(errno);
    return nullptr;
  }
  struct btf* btf = btf__parse(file.c_str(), nullptr);
  if (!btf) {
    *error = "cannot parse kernel BTF `" + file + "`: " + std::strerror(errno);
    return nullptr;
  }
  return SharedBtf(btf, btf__free);
}

}  // namespace btap::sema
