// The kernel's variables and facts that an object reads where it loads: @var values
// placed by pass 2, how far KASLR moved the kernel, where a module's sections were loaded,
// and CONFIG_ options; each fact a .data long that the runtime sets (meta::kKernelSlide,
// meta::kModuleSectionPrefix, meta::kKconfigPrefix).
#include "codegen/lowering.h"
#include "common/build_id.h"
#include "common/kernel_config.h"
#include "semantic/target_vars.h"

namespace btap::codegen::lowering {

// @var in a kernel-side probe: pass 2 placed it from DWARF as an argument of its own
// (kernel_dwarf_vars.cpp).
const sema::TargetArg* Lowering::KernelAtVar(ast::AtVar* v) {
  std::string key = sema::AtVarKey(*v);
  for (const sema::TargetArg& a : frame_->probe->spec.args)
    if (a.name == key && a.value) return &a;
  return nullptr;
}

Value Lowering::KernelDwarfGlobal(ast::AtVar* v, const sema::TargetArg& arg) {
  Value value = Expr(arg.value);
  if (!value) return nullptr;
  if (!arg.in_memory) value = Extend(value, arg.size, arg.is_signed);
  if (v->components.empty() && !v->addressof) return value;
  const struct btf* btf = KernelBtf();
  if (!btf || !arg.btf_type) {
    Unsupported(v->range, "member access on `@var(\"" + std::string(v->target_name) + "\")`",
                "; its type is not known from kernel BTF");
    return nullptr;
  }
  return KernelChain(v, v->target_name, value, arg.btf_type, arg.in_memory);
}

// How far the running kernel moved from its link-time addresses: meta::kKernelSlide starts
// at minus the anchor's link-time address, and the runtime adds its address now.
void Lowering::NeedKernelBuild() {
  if (meta_.kernel_build_id.empty() && frame_ && frame_->probe)
    meta_.kernel_build_id = frame_->probe->spec.build_id;
}

Value Lowering::KernelSlide() {
  NeedKernelBuild();
  if (!kernel_slide_) {
    kernel_slide_ = new llvm::GlobalVariable(
        module_, i64_, false, llvm::GlobalValue::ExternalLinkage,
        b_.getInt64(-static_cast<int64_t>(program_.kernel.dwarf_anchor)), meta::kKernelSlide);
    kernel_slide_->setSection(".data");
    kernel_slide_->setAlignment(llvm::Align(8));
  }
  return b_.CreateLoad(i64_, kernel_slide_);
}

// Where a module's section was loaded ("MODULE SECTION"): meta::kModuleSectionPrefix and
// the hex of that text, 0 until the runtime reads /sys/module/MODULE/sections/SECTION.
Value Lowering::ModuleSectionBase(std::string_view section) {
  NeedKernelBuild();
  llvm::GlobalVariable*& g = module_sections_[std::string(section)];
  if (!g) {
    std::string name = meta::kModuleSectionPrefix + HexBytes(section.data(), section.size());
    g = new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage,
                                 b_.getInt64(0), name);
    g->setSection(".data");
    g->setAlignment(llvm::Align(8));
  }
  return b_.CreateLoad(i64_, g);
}

std::string_view Lowering::ProbeType(const sema::ProbeSpec& spec) {
  using sema::Family;
  switch (spec.family) {
    case Family::Begin:
    case Family::End:
    case Family::Error:
    case Family::Never:
      return "begin_end";
    case Family::Timer:
      // stap runs timer.jiffies on the kernel's timer wheel, the unit timers (s, ms, us,
      // ns, hz) on high-resolution timers.
      return spec.point.starts_with("timer.jiffies") ? "timer" : "hrtimer";
    case Family::TimerProfile:
      return "profile_timer";
    case Family::Perf:
      return "perf_event";
    case Family::Tracepoint:
      return "kernel_tracepoint";
    case Family::Syscall:
      if (spec.process_syscall) return "utrace";  // stap's process(...).syscall
      // stap's syscall.NAME probes the kernel's sys_* functions; its syscall_any (number
      // -1 here) the raw_syscalls tracepoints.
      if (spec.numbers[0] < 0) return "kernel_tracepoint";
      return spec.is_return ? "kretprobe" : "kprobe";
    case Family::KernelFunction:
    case Family::Kprobe:
      return spec.is_return ? "kretprobe" : "kprobe";
    case Family::ProcessFunction:
    case Family::ProcessStatement:
    case Family::ProcessMark:
      return spec.is_return ? "uretprobe" : "uprobe";
    case Family::ProcessBegin:
    case Family::ProcessEnd:
      return "utrace";
    case Family::Netfilter:
      return "netfilter";
    case Family::Procfs:
      return "procfs";
    case Family::Lsm:
      return "lsm";
  }
  return "";
}

// A CONFIG_ option's value as a long (meta::kKconfigPrefix): the compiling kernel's until
// the runtime reads the loading kernel's.
llvm::GlobalVariable* Lowering::KconfigVar(const std::string& option) {
  llvm::GlobalVariable*& g = kconfig_[option];
  if (!g) {
    std::string text = program_.kernel.config ? program_.kernel.config(option) : "";
    g = new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage,
                                 b_.getInt64(KconfigNumber(text)), meta::kKconfigPrefix + option);
    g->setSection(".data");
    g->setAlignment(llvm::Align(8));
  }
  return g;
}

}  // namespace btap::codegen::lowering
