// kernel.trace("system:name"): kernel tracepoints, resolved now from tracefs and BTF.
// A pattern expands to every matching event; each gets its typed arguments as $vars.
#include "semantic/probe_family.h"
#include "semantic/tracepoints.h"

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
    for (const Tracepoint* tp : catalog.Match(pattern)) {
      ProbeSpec spec;
      spec.family = Family::Tracepoint;
      spec.target = tp->Spelling();
      spec.point = "kernel.trace(" + Quote(spec.target) + ")";
      spec.has_target_vars = true;
      if (!ctx.target_variables) {
        out.push_back(std::move(spec));
        continue;
      }
      if (const std::vector<TracepointArg>* args = catalog.Args(*tp))
        for (const TracepointArg& a : *args) spec.args.push_back({a.name, a.c_type});
      out.push_back(std::move(spec));
    }
  }
};

}  // namespace

const ProbeFamily& TracepointFamily() {
  static const TracepointProbes family;
  return family;
}

}  // namespace btap::sema
