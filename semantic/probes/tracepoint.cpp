// kernel.trace("system:name"): kernel tracepoints, resolved now from tracefs and BTF.
// A pattern expands to every matching event; each gets its typed arguments as $vars.
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
      }
      out.push_back(std::move(spec));
    }
  }

 private:
  // Names the nearest events: `sys:name` patterns against full spellings, bare names
  // against event names.
  static void ReportNoMatch(const std::string& pattern, const PointPart& where,
                            const TracepointCatalog& catalog, ResolveContext& ctx) {
    if (ctx.optional || ctx.listing || catalog.all().empty()) return;
    bool qualified = pattern.find(':') != std::string::npos;
    std::vector<std::string> spellings;
    for (const Tracepoint& tp : catalog.all())
      spellings.push_back(qualified ? tp.Spelling() : tp.name);
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
