// bpf_snprintf for the runtime's interpreter: embedded C's STAP_ERROR formats its message
// with it, on the user side as in the kernel.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/interpreter.h"

namespace btap::runtime {

// long bpf_snprintf(char *str, u32 size, const char *fmt, u64 *data, u32 data_len): the
// kernel's conversions (d i u x X o c s p %, with l/ll/h/hh lengths, flags, width and
// precision); every address is checked with `memory`. Returns the untruncated length + 1.
uint64_t UserSnprintf(const Interpreter& memory, const uint64_t args[5], std::string* error);

}  // namespace btap::runtime
