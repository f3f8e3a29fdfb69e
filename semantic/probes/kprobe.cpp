// kprobe.function("name")[.return]: kernel functions by symbol name, without debug info;
// only $vars that the symbol's BTF prototype gives (resolved in a later pass).
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

class Kprobe : public ProbeFamily {
 public:
  Family id() const override { return Family::Kprobe; }
  std::vector<std::string_view> Patterns() const override {
    return {"kprobe.function(string)", "kprobe.function(string).call",
            "kprobe.function(string).return", "kprobe.module(string).function(string)",
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
    spec.is_return = parts.back().name == "return";
    spec.target_vars_later = true;
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& KprobeFamily() {
  static const Kprobe family;
  return family;
}

}  // namespace btap::sema
