// kernel.trace("system:name"): kernel tracepoints, resolved now from tracefs and BTF.
// A pattern expands to every matching event, and to the bare tracepoints (no event, BTF only)
// it names; each gets its typed arguments as $vars.
#include "semantic/machine/syscalls.h"
#include "semantic/machine/tracepoints.h"
#include "semantic/probe_family.h"
#include "semantic/suggest.h"

namespace btap::sema {
namespace {

class TracepointProbes : public ProbeFamily {
 public:
  Family id() const override { return Family::Tracepoint; }
  std::vector<std::string_view> Patterns() const override { return {"kernel.trace(string)"}; }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    std::string pattern = parts[1].arg == ArgKind::String ? parts[1].string : "*";
    const TracepointCatalog& catalog = ctx.tracepoints();
    std::vector<const Tracepoint*> matches = catalog.Match(pattern);
    if (matches.empty()) ReportNoMatch(pattern, parts[1], catalog, ctx);
    for (const Tracepoint* tp : matches) {
      ProbeSpec spec;
      spec.family = Family::Tracepoint;
      spec.target = tp->Spelling();
      spec.point = "kernel.trace(" + Quote(spec.target) + ")";
      spec.has_target_vars = true;
      if (!ctx.target_variables) {
        out.push_back(std::move(spec));
        continue;
      }
      ArgSource source = ArgSource::Btf;
      if (const std::vector<TracepointArg>* args = catalog.Args(*tp, &source)) {
        spec.args_from_format = source == ArgSource::Format;
        for (const TracepointArg& a : *args) {
          TargetArg arg{a.name, a.c_type};
          arg.index = static_cast<uint32_t>(spec.args.size());
          arg.offset = a.offset;
          arg.size = a.size ? a.size : 8;
          arg.is_signed = a.is_signed;
          arg.is_array = a.is_array;
          arg.is_dynamic = a.is_dynamic;
          arg.btf_type = a.btf_type;
          spec.args.push_back(std::move(arg));
        }
        if (source == ArgSource::Format && tp->system == "syscalls" && ctx.task_compat_status &&
            ctx.task_compat_status())
          RunOnRawSyscalls(*tp, pattern, ctx.syscalls(), spec);
      }
      out.push_back(std::move(spec));
    }
  }

 private:
  // A `syscalls:sys_enter_NAME` or `sys_exit_NAME` event becomes a body of the syscall
  // dispatch on raw_syscalls:sys_enter/sys_exit (as `syscall.*` is), not a tracepoint of
  // its own: detaching hundreds of classic tracepoints takes the kernel seconds (an RCU
  // grace period per event under its event_mutex), the two raw_syscalls links do not. Its
  // record fields are what the kernel's trace_syscalls.c fills them with: `__syscall_nr`
  // (an int) the number, each argument its whole register in the event's order, `ret`
  // the return value. Trailing `__data_loc` fields named `__ARG_val` (the user strings
  // that kernels after 6.18 copy into the record) are left as they are: a body that reads
  // one is refused (codegen's TargetVar). An event with any other field keeps its
  // tracepoint.
  // (The dispatched body skips compat calls, as the event does, by the task's TS_COMPAT:
  // only a kernel whose BTF has task_struct.thread_info.status gets here.)
  static void RunOnRawSyscalls(const Tracepoint& tp, const std::string& pattern,
                               const SyscallTable& table, ProbeSpec& spec) {
    constexpr std::string_view kEnter = "sys_enter_", kExit = "sys_exit_";
    bool exit = tp.name.starts_with(kExit);
    if (!exit && !tp.name.starts_with(kEnter)) return;
    const Syscall* call = table.error().empty()
                              ? table.ByName(tp.name.substr(exit ? kExit.size() : kEnter.size()))
                              : nullptr;
    if (!call || spec.args.empty()) return;
    const TargetArg& nr = spec.args[0];
    if (nr.name != "__syscall_nr" || nr.size != 4 || !nr.is_signed) return;
    size_t fields = exit ? 1 : call->args.size();
    if (spec.args.size() < 1 + fields) return;
    for (size_t i = 1 + fields; i < spec.args.size(); ++i) {
      const TargetArg& a = spec.args[i];
      if (!a.is_dynamic || !a.name.starts_with("__") || !a.name.ends_with("_val")) return;
    }
    for (size_t i = 1; i <= fields; ++i) {
      const TargetArg& a = spec.args[i];
      if (a.size != 8 || a.is_array || a.is_dynamic) return;
      if (exit ? a.name != "ret" || !a.is_signed : a.name != call->args[i - 1].name) return;
    }
    spec.args[0].source = TargetArg::Source::SyscallNr;
    spec.args[0].offset = table.regs().orig_ax;
    for (size_t i = 1; i <= fields; ++i) {
      TargetArg& a = spec.args[i];
      a.source = exit ? TargetArg::Source::Return : TargetArg::Source::Register;
      a.offset = exit ? 0 : call->args[i - 1].reg_offset;
    }
    spec.raw_syscall = exit ? 2 : 1;
    spec.numbers[0] = call->nr;
    // A point named without a wildcard must exist where the object loads (NamedSyscall).
    if (pattern.find_first_of("*?[") == std::string::npos) spec.syscall = call->name;
  }

  // Names the nearest events: `sys:name` patterns against full spellings, bare names
  // against event names and bare tracepoints.
  static void ReportNoMatch(const std::string& pattern, const PointPart& where,
                            const TracepointCatalog& catalog, ResolveContext& ctx) {
    if (ctx.optional || ctx.listing || catalog.all().empty()) return;
    bool qualified = pattern.find(':') != std::string::npos;
    std::vector<std::string> spellings;
    for (const Tracepoint& tp : catalog.all())
      spellings.push_back(qualified ? tp.Spelling() : tp.name);
    for (const Tracepoint& tp : catalog.bare()) spellings.push_back(tp.name);
    std::vector<std::string_view> names(spellings.begin(), spellings.end());
    ctx.diags.Report(
        Diag::ProbeParameter, where.range,
        {"no tracepoint matches `" + pattern + "`" + DidYouMean(Similar(pattern, names))});
  }
};

}  // namespace

const ProbeFamily& TracepointFamily() {
  static const TracepointProbes family;
  return family;
}

}  // namespace btap::sema
