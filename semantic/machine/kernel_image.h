// The kernel a script is compiled for (`-r RELEASE` or `-r DIR`, as stap's -r): the running
// one, or another whose image is on disk. Another kernel's facts come from its image — a
// vmlinux ELF or a compressed bzImage — whose `.BTF` section is extracted once into btap's
// cache, and from its config file.
#pragma once

#include <string>
#include <vector>

namespace btap::sema {

struct TargetKernel {
  bool running = true;      // the running kernel: tracefs, kallsyms and its BTF apply
  std::string release;      // its `uname -r`
  std::string image;        // the file its BTF came from ("" for the running kernel)
  std::string btf_path;     // "" for the running kernel's /sys/kernel/btf/vmlinux
  std::string config_path;  // "" to look where stap looks (/boot/config-RELEASE)
  std::string modules_dir;  // its modules' .ko files ("" for the running kernel's loaded ones)
  std::string dir;          // `-r DIR`'s directory ("" for a release)
};

// Resolves `-r`'s value ("" for none). A value with a slash is a directory holding the kernel (a
// build tree, or an unpacked kernel package); otherwise it is a release, looked for in /boot,
// /lib/modules and /usr/lib/debug. False with `error` when the kernel or its BTF cannot be found.
bool FindTargetKernel(const std::string& r, TargetKernel* out, std::string* error);

// The places FindTargetKernel looks for RELEASE's image, in order (for messages and tests).
std::vector<std::string> KernelImageCandidates(const std::string& release);

// The `.BTF` section of a kernel image: a vmlinux ELF as it is, a bzImage decompressed
// (gzip, zstd, xz or lz4). Empty with `error` when it has none or cannot be read.
std::string ReadImageBtf(const std::string& image, std::string* error);

// The GNU build id of a kernel image (a vmlinux ELF, or a bzImage decompressed), "" with
// `error` when it has none or cannot be read.
std::string ImageBuildId(const std::string& image, std::string* error);

// The release a bzImage names in its header ("" when it is not one or says nothing).
std::string BzImageRelease(const std::string& image);

}  // namespace btap::sema
