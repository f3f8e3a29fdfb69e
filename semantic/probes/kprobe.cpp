// kprobe.function("name")[.return]: kernel functions by name, without debug info and
// without $vars (as in stap); the functions come from the kernel function index.
// kprobe.statement(ADDR).absolute and kernel.statement(ADDR).absolute (guru mode): a
// kprobe at an address of the kernel the script is compiled for, which the object
// records with that kernel's build id (btaprun refuses any other kernel).
#include <cstdio>

#include "common/build_id.h"
#include "common/kallsyms.h"
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

class Kprobe : public ProbeFamily {
 public:
  Family id() const override { return Family::Kprobe; }
  std::vector<std::string_view> Patterns() const override {
    return {"kprobe.function(string)",
            "kprobe.function(string).call",
            "kprobe.function(string).return",
            "kprobe.function(string).return.maxactive(number)",
            "kprobe.module(string).function(string)",
            "kprobe.module(string).function(string).return",
            "kprobe.statement(number).absolute",
            "kernel.statement(number).absolute"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    spec.family = Family::Kprobe;
    spec.point = PointSpelling(parts);
    if (parts[1].name == "statement") return ResolveAbsolute(std::move(spec), parts, ctx, out);
    const PointPart& fn = parts[1].name == "module" ? parts[2] : parts[1];
    if (parts[1].name == "module") spec.target = parts[1].string;
    if (fn.arg == ArgKind::String && fn.string.empty()) {
      ctx.diags.Report(Diag::ProbeParameter, fn.range, {"empty function name"});
      return;
    }
    spec.function = fn.string;
    for (const PointPart& part : parts) spec.is_return |= part.name == "return";
    spec.target_vars_later = true;
    if (!ctx.kernel_functions) {
      if (!ctx.listing) out.push_back(std::move(spec));
      return;
    }
    // As in stap, kprobe probes have no $vars: registers and *_arg() read arguments.
    bool in_module = parts[1].name == "module";
    ExpandKernelFunctions(std::move(spec), fn, parts.subspan(in_module ? 3 : 2), "kprobe.function",
                          false, ctx, out, in_module ? &parts[1] : nullptr);
  }

 private:
  static void ResolveAbsolute(ProbeSpec spec, std::span<const PointPart> parts, ResolveContext& ctx,
                              std::vector<ProbeSpec>& out) {
    const PointPart& address = parts[1];
    spec.address = static_cast<uint64_t>(address.number);
    char hex[24];
    snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(spec.address));
    spec.target = hex;  // no kernel function's name starts with a digit
    if (ctx.listing) {  // a listing runs nothing
      out.push_back(std::move(spec));
      return;
    }
    if (!ctx.privileged) {
      ctx.diags.Report(Diag::NeedsGuruMode, address.range, {"an absolute statement probe"});
      return;
    }
    std::string error;
    spec.build_id = ctx.kernel_build_id ? ctx.kernel_build_id(&error) : "";
    if (spec.build_id.empty()) {
      ctx.diags.Report(Diag::ProbeParameter, address.range,
                       {"cannot tie `" + spec.point +
                        "` to its kernel: " + (error.empty() ? "no build id" : error)});
      return;
    }
    // The running kernel's code moves at every boot (KASLR): where it starts now, so
    // that btaprun can tell the address is of this boot.
    if (spec.build_id == RunningKernelBuildId())
      if (std::vector<uint64_t> text = KernelTextAddresses("_stext"); !text.empty())
        spec.numbers[2] = static_cast<int64_t>(text[0]);
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& KprobeFamily() {
  static const Kprobe family;
  return family;
}

}  // namespace btap::sema
