// The kernel's types as C for embedded C (a `vmlinux.h`, as `bpftool btf dump format c`
// writes it, every struct and union CO-RE relocatable), made from the kernel's BTF once
// and cached under ~/.cache/btap/headers, named by a hash of the BTF.
#pragma once

#include <set>
#include <string>

struct btf;

namespace btap::codegen {

// The kernel's types for embedded C: precompiled (embedded_c.h's PrecompileHeader, the
// cached header next to it) when the cache can be used, else the header's text.
struct KernelTypes {
  std::string pch;   // a precompiled header's path, or
  std::string text;  // the header itself
};

// The types of `btf`; false with *error when they can be neither read nor made. A cache
// that cannot be used (no home, a folder others may write) only costs the caching.
bool KernelTypesHeader(const struct btf* btf, KernelTypes* out, std::string* error);

// The kernel's types that C whose identifiers are `words` can reach, as C: the structs and
// unions it names, and through them those reached by a member it names (or an anonymous
// one); every other member keeps its place as bytes of its size, and pointers point to a
// declaration only. Member names and order, sizes and offsets are the kernel's, so CO-RE
// accesses are the same as with the whole header, at a small part of Clang's work (the
// whole task_struct graph cost about 100 ms). False when the BTF cannot be rewritten.
bool KernelTypesFor(const struct btf* btf, const std::set<std::string>& words, std::string* text,
                    std::string* error);

}  // namespace btap::codegen
