// The kernel's BTF, parsed once (see kernel_btf.h).
#include "semantic/machine/kernel_btf.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
  // Kernels since 6.16 map their BTF: one mapping instead of a read per 4 KiB page
  // (sysfs serves no more), ~1,300 system calls for vmlinux, ~18 ms here.
  struct btf* btf = nullptr;
  if (int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
      auto size = static_cast<size_t>(st.st_size);
      void* at = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      // Raw BTF (its magic first); an ELF image goes to btf__parse below.
      bool raw = at != MAP_FAILED && size >= 2 && static_cast<const uint8_t*>(at)[0] == 0x9f &&
                 static_cast<const uint8_t*>(at)[1] == 0xeb;
      if (raw) btf = btf__new(at, static_cast<__u32>(size));  // a copy
      if (at != MAP_FAILED) munmap(at, size);
    }
    close(fd);
  }
  if (!btf) btf = btf__parse(file.c_str(), nullptr);
  if (!btf) {
    *error = "cannot parse kernel BTF `" + file + "`: " + std::strerror(errno);
    return nullptr;
  }
  return SharedBtf(btf, btf__free);
}

}  // namespace btap::sema
