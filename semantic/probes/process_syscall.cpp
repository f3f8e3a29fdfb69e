// process.syscall, process("PATH").syscall, process(PID).syscall and their .return: every
// system call a process makes (stap's utrace points). Each is a body of the syscall
// dispatchers on raw_syscalls for every number, filtered by process (codegen's
// ProcessFilter); $syscall is the number, $arg1..$arg6 the arguments, .return's $return
// the result.
#include <cstdint>

#include "semantic/machine/syscalls.h"
#include "semantic/probe_family.h"
#include "semantic/probes/syscall_args.h"
#include "semantic/probes/user_probes.h"

namespace btap::sema {
namespace {

// pt_regs offsets of the x86-64 system-call argument registers: rdi rsi rdx r10 r8 r9.
constexpr uint32_t kSyscallArgOffsets[] = {112, 104, 96, 56, 72, 64};

class ProcessSyscallProbes : public ProbeFamily {
 public:
  Family id() const override { return Family::Syscall; }
  std::vector<std::string_view> Patterns() const override {
    return {"process.syscall",         "process.syscall.return",
            "process(string).syscall", "process(string).syscall.return",
            "process(number).syscall", "process(number).syscall.return"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    const PointPart& proc = parts[0];
    if (!ValidProcessPart(proc, ctx)) return;
    std::string path;
    if (proc.arg == ArgKind::String && (path = ResolveProcessPath(proc, ctx)).empty()) return;
    const SyscallTable& table = ctx.syscalls();
    ProbeSpec spec;
    spec.family = Family::Syscall;
    spec.point = PointSpelling(parts);
    spec.is_return = parts.back().name == "return";
    spec.numbers[0] = -1;  // every call
    spec.process_syscall = true;
    spec.process = proc.arg == ArgKind::String   ? path
                   : proc.arg == ArgKind::Number ? std::to_string(proc.number)
                                                 : "";
    spec.process_is_pid = proc.arg == ArgKind::Number;
    spec.target = spec.is_return ? "raw_syscalls:sys_exit" : "raw_syscalls:sys_enter";
    spec.has_target_vars = true;
    AddSyscallNumberAndReturn(spec, "syscall", table);
    if (!spec.is_return) {
      for (size_t i = 0; i < std::size(kSyscallArgOffsets); ++i) {
        TargetArg arg{"arg" + std::to_string(i + 1), "long"};
        arg.source = TargetArg::Source::Register;
        arg.offset = kSyscallArgOffsets[i];
        arg.is_signed = true;
        spec.args.push_back(arg);
      }
    }
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& ProcessSyscallFamily() {
  static const ProcessSyscallProbes family;
  return family;
}

}  // namespace btap::sema
