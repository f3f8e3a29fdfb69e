// `never`: a probe that is elaborated and type-checked but never attached.
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

class Never : public ProbeFamily {
 public:
  Family id() const override { return Family::Never; }
  std::vector<std::string_view> Patterns() const override { return {"never"}; }
  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext&,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    spec.family = Family::Never;
    spec.point = "never";
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& NeverFamily() {
  static const Never family;
  return family;
}

}  // namespace btap::sema
