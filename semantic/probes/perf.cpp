// perf.type(T).config(C): perf events (PERF_TYPE_* and their configs) sampled every
// N events (.sample, default 1000000) or at a frequency (.hz), system-wide or per process.
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

constexpr int64_t kPerfTypeMax = 5;  // PERF_TYPE_BREAKPOINT

class Perf : public ProbeFamily {
 public:
  Family id() const override { return Family::Perf; }
  std::vector<std::string_view> Patterns() const override {
    return {"perf.type(number).config(number)",
            "perf.type(number).config(number).sample(number)",
            "perf.type(number).config(number).hz(number)",
            "perf.type(number).config(number).process",
            "perf.type(number).config(number).process(string)",
            "perf.type(number).config(number).sample(number).process",
            "perf.type(number).config(number).sample(number).process(string)",
            "perf.type(number).config(number).counter(string)",
            "perf.type(number).config(number).process.counter(string)",
            "perf.type(number).config(number).process(string).counter(string)"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    spec.family = Family::Perf;
    spec.point = PointSpelling(parts);
    if (parts[1].arg == ArgKind::None) {  // listing a pattern
      out.push_back(std::move(spec));
      return;
    }
    if (parts[1].number < 0 || parts[1].number > kPerfTypeMax) {
      ctx.diags.Report(Diag::ProbeParameter, parts[1].range,
                       {"perf event type must be between 0 and 5 (PERF_TYPE_*)"});
      return;
    }
    if (parts[2].number < 0) {
      ctx.diags.Report(Diag::ProbeParameter, parts[2].range,
                       {"perf event config must not be negative"});
      return;
    }
    spec.numbers[0] = parts[1].number;
    spec.numbers[1] = parts[2].number;
    spec.numbers[2] = 1000000;
    for (const PointPart& p : parts.subspan(3)) {
      if ((p.name == "sample" || p.name == "hz") && p.number <= 0) {
        ctx.diags.Report(Diag::ProbeParameter, p.range, {"`" + p.name + "` must be positive"});
        return;
      }
      if (p.name == "sample") spec.numbers[2] = p.number;
      if (p.name == "hz") spec.numbers[2] = -p.number;  // negative: a frequency
      if (p.name == "process") spec.target = p.arg == ArgKind::String ? p.string : "*";
      if (p.name == "counter") spec.function = p.string;
    }
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& PerfFamily() {
  static const Perf family;
  return family;
}

}  // namespace btap::sema
