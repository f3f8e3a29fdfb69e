// i386's numbers for the system calls that btap's syscall tapset reports for compat
// (ia32) calls too, under the x86-64 call of the same meaning (stap's names): a
// hand-written table, so that an object does not depend on the compiling host's headers.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace btap::sema {

struct I386Call {
  int nr;              // i386's number (arch/x86/entry/syscalls/syscall_32.tbl)
  const char* kernel;  // the x86-64 call whose body it runs ("newstat" for stat64)
};

// Every call mapped, by i386 number. Calls left out (see docs/differences.md) keep being
// skipped for compat callers: their arguments do not read as the x86-64 call's do (64-bit
// values split over two registers, multiplexers, old structs that argstr decodes) or their
// return bodies read argument registers.
const std::vector<I386Call>& I386Calls();

// i386's numbers whose compat calls run the x86-64 call `kernel`'s body; empty if none.
std::vector<int64_t> I386Numbers(std::string_view kernel);

}  // namespace btap::sema
