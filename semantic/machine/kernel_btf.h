// The kernel's BTF, parsed once per compile and shared by the facts that read it (the
// tracepoint catalog, the function index, the system-call table, embedded C's header):
// parsing vmlinux's takes tens of milliseconds.
#pragma once

#include <functional>
#include <memory>
#include <string>

struct btf;

namespace btap::sema {

// Read-only once parsed: readers keep views into its string section, which libbpf would
// move if the BTF were modified (btf__add_*, btf__find_str, dedup).
using SharedBtf = std::shared_ptr<struct btf>;

// Parses `path` ("" for the running kernel's /sys/kernel/btf/vmlinux); null, with `error`
// saying why, when it cannot be read.
SharedBtf ParseKernelBtf(const std::string& path, std::string* error);

// Where a fact's reader gets the kernel's BTF: a Machine's shared copy, or (when empty)
// ParseKernelBtf of the reader's own path.
using BtfSource = std::function<SharedBtf(std::string* error)>;

}  // namespace btap::sema
