// The kernel's types as C for embedded C (a `vmlinux.h`, as `bpftool btf dump format c`
// writes it, every struct and union CO-RE relocatable), made from the kernel's BTF once
// and cached under ~/.cache/btap/headers, named by a hash of the BTF.
#pragma once

#include <string>

struct btf;

namespace btap::codegen {

// The header for `btf`; false with *error when it can be neither read nor made. A cache
// that cannot be used (no home, a folder others may write) only costs the caching.
bool KernelTypesHeader(const struct btf* btf, std::string* header, std::string* error);

}  // namespace btap::codegen
