// The system calls of the running kernel, for the syscall tapset: each call's number,
// name and arguments. Names and arguments come from the `syscalls:sys_enter_*` format
// files; numbers from the kernel's own syscall metadata, read once by a BPF iterator
// (see syscalls.cpp). Nothing here is a hand-written table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct btf;

namespace btap::sema {

class TracepointCatalog;

struct SyscallArg {
  std::string name;    // "filename"
  std::string c_type;  // "const char*"
  uint32_t size = 8;   // the C type's width: the register is truncated to it
  bool is_signed = false;
  bool is_pointer = false;
  uint32_t reg_offset = 0;  // where the x86-64 calling convention puts it in pt_regs
};

struct Syscall {
  std::string name;  // "openat"
  int nr = -1;
  std::vector<SyscallArg> args;
};

// Offsets in struct pt_regs that the dispatcher reads.
struct SyscallRegs {
  uint32_t orig_ax = 120;  // the number, on return
};

// Offsets in struct task_struct, from the kernel's BTF; -1 when unknown.
struct TaskOffsets {
  int64_t real_parent = -1, tgid = -1;
};
TaskOffsets LoadTaskOffsets();

// `btf` (a kernel's) has task_struct.thread_info.status as a 4-byte field, where x86-64
// keeps TS_COMPAT: a syscalls:* point runs on raw_syscalls only then (it skips compat
// calls by that flag, as the kernel's event does).
bool HasTaskCompatStatus(const struct btf* btf);

class SyscallTable {
 public:
  // Never fatal: an empty table with error() set when the kernel does not tell.
  // `running_btf`: the running kernel's BTF when the caller has it parsed already.
  static SyscallTable Load(const TracepointCatalog& catalog,
                           const struct btf* running_btf = nullptr);

  const std::vector<Syscall>& all() const { return all_; }  // sorted by name
  const Syscall* ByNumber(int nr) const;
  const Syscall* ByName(const std::string& name) const;
  const SyscallRegs& regs() const { return regs_; }
  int max_nr() const { return max_nr_; }
  const std::string& error() const { return error_; }

  // The syscall tapset written for this table: `syscall.NAME[.return]` (and so
  // `syscall.*`); and apart, since it fills a table of names at start, `syscall_any[.return]`
  // and `syscall_name()`.
  std::string Tapset() const;
  // The kernel's names of calls that Tapset() also writes under stap's name ("newstat"
  // for "stat", "pipe2" for the "pipe" alias that stands on both): wildcards leave them out.
  std::vector<std::string> RenamedByStap() const;
  std::string AnyTapset() const;

 private:
  std::vector<Syscall> all_;
  std::vector<int> by_nr_;  // index into all_, -1 when none
  SyscallRegs regs_;
  int max_nr_ = -1;
  std::string error_;
};

}  // namespace btap::sema
