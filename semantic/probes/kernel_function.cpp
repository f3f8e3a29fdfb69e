// kernel.function("pattern")[.call|.return] and module("m").function("pattern"): matched
// and checked here; the functions and their $vars come from BTF or DWARF in a later pass.
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

class KernelFunction : public ProbeFamily {
 public:
  Family id() const override { return Family::KernelFunction; }
  std::vector<std::string_view> Patterns() const override {
    return {"kernel.function(string)",
            "kernel.function(string).call",
            "kernel.function(string).return",
            "kernel.function(string).inline",
            "module(string).function(string)",
            "module(string).function(string).call",
            "module(string).function(string).return"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    spec.family = Family::KernelFunction;
    spec.point = PointSpelling(parts);
    if (parts[0].name == "module") spec.target = parts[0].string;
    spec.function = parts[1].string;
    if (parts[1].arg == ArgKind::String && parts[1].string.empty()) {
      ctx.diags.Report(Diag::ProbeParameter, parts[1].range, {"empty function name"});
      return;
    }
    spec.is_return = parts.size() == 3 && parts[2].name == "return";
    spec.target_vars_later = true;
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& KernelFunctionFamily() {
  static const KernelFunction family;
  return family;
}

}  // namespace btap::sema
