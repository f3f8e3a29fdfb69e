// begin, end and error probes, with an optional sequence number: they run in user space,
// sorted by that number (default 0), ties in script order.
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

class BeginEnd : public ProbeFamily {
 public:
  Family id() const override { return Family::Begin; }
  std::vector<std::string_view> Patterns() const override {
    return {"begin", "begin(number)", "end", "end(number)", "error", "error(number)"};
  }
  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext&,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    const PointPart& p = parts[0];
    spec.family = p.name == "begin" ? Family::Begin : p.name == "end" ? Family::End : Family::Error;
    spec.sequence = p.arg == ArgKind::Number ? p.number : 0;
    spec.point = PartSpelling(p);
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& BeginEndFamily() {
  static const BeginEnd family;
  return family;
}

}  // namespace btap::sema
