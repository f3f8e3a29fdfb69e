// __syscall(N) and __syscall(N).return: the points the syscall tapset's aliases stand on.
// N is this kernel's number for the call (-1: every call). All of them share one program
// per direction on raw_syscalls:sys_enter/sys_exit that dispatches on the number, so
// `syscall.*` attaches two programs, not hundreds of tracepoints.
#include "semantic/machine/syscalls.h"
#include "semantic/probe_family.h"
#include "semantic/probes/syscall_args.h"

namespace btap::sema {
namespace {

class SyscallProbes : public ProbeFamily {
 public:
  Family id() const override { return Family::Syscall; }
  std::vector<std::string_view> Patterns() const override {
    return {"__syscall(number)", "__syscall(number).return"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    const SyscallTable& table = ctx.syscalls();
    int64_t nr = parts[0].number;
    const Syscall* call =
        nr >= 0 && nr <= table.max_nr() ? table.ByNumber(static_cast<int>(nr)) : nullptr;
    if (nr != -1 && !call) {
      ctx.diags.Report(
          Diag::ProbeParameter, parts[0].range,
          {table.error().empty()
               ? "this kernel has no system call number " + std::to_string(nr)
               : "syscall probes need this kernel's system-call numbers: " + table.error()});
      return;
    }
    ProbeSpec spec;
    spec.family = Family::Syscall;
    spec.is_return = parts.size() > 1;
    spec.numbers[0] = nr;
    if (call) spec.syscall = call->name;
    spec.point = PointSpelling(parts);
    spec.target = spec.is_return ? "raw_syscalls:sys_exit" : "raw_syscalls:sys_enter";
    spec.has_target_vars = true;
    AddSyscallNumberAndReturn(spec, "__nr", table);
    if (!spec.is_return && call) {
      for (const SyscallArg& a : call->args) {
        TargetArg arg{a.name, a.c_type};
        arg.source = TargetArg::Source::Register;
        arg.offset = a.reg_offset;
        arg.size = a.is_pointer ? 8 : a.size;
        arg.is_signed = a.is_signed;
        spec.args.push_back(arg);
      }
    }
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& SyscallFamily() {
  static const SyscallProbes family;
  return family;
}

}  // namespace btap::sema
