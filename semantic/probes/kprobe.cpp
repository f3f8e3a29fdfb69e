// kprobe.function("name")[.return]: kernel functions by name, without debug info and
// without $vars (as in stap); the functions come from the kernel function index.
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
            "kprobe.module(string).function(string).return"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    spec.family = Family::Kprobe;
    spec.point = PointSpelling(parts);
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
};

}  // namespace

const ProbeFamily& KprobeFamily() {
  static const Kprobe family;
  return family;
}

}  // namespace btap::sema
