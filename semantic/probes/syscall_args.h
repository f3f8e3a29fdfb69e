// The `$vars` every body of the raw_syscalls dispatchers has (syscall.cpp's
// `syscall.NAME`/`syscalls:*` points, process_syscall.cpp's `process.syscall`): the call's
// number, read from pt_regs, and on return its result.
#pragma once

#include <string>
#include <utility>

#include "semantic/machine/syscalls.h"
#include "semantic/probe_family.h"

namespace btap::sema {

// The number under `name` and, for a return, `$return`.
inline void AddSyscallNumberAndReturn(ProbeSpec& spec, std::string name,
                                      const SyscallTable& table) {
  TargetArg number{std::move(name), "long"};
  number.source = TargetArg::Source::SyscallNr;
  number.offset = table.regs().orig_ax;
  number.is_signed = true;
  spec.args.push_back(number);
  if (!spec.is_return) return;
  TargetArg ret{"return", "long"};
  ret.source = TargetArg::Source::Return;
  ret.is_signed = true;
  spec.args.push_back(ret);
}

}  // namespace btap::sema
