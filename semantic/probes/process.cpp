// process("path") probes: functions, statements, labels, PLT stubs and SDT marks of a user program
// (uprobes, with DWARF in a later pass), and process begin/end (task lifecycle).
#include <cstdint>

#include "semantic/machine/tracepoints.h"
#include "semantic/probe_family.h"
#include "semantic/probes/user_probes.h"

namespace btap::sema {
namespace {

// Functions, statements and SDT marks of a program (by path or PID) or of its libraries.
constexpr std::string_view kUserPoints[] = {
    "process(string).function(string)",
    "process(string).function(string).call",
    "process(string).function(string).return",
    "process(string).function(string).inline",
    "process(string).function(string).exported",
    "process(string).statement(string)",
    "process(string).statement(string).nearest",
    "process(string).mark(string)",
    "process(string).provider(string).mark(string)",
    "process(string).library(string).function(string)",
    "process(string).library(string).function(string).call",
    "process(string).library(string).function(string).return",
    "process(string).library(string).function(string).inline",
    "process(string).library(string).function(string).exported",
    "process(string).library(string).statement(string)",
    "process(string).library(string).mark(string)",
    "process(string).library(string).provider(string).mark(string)",
    "process(number).function(string)",
    "process(number).function(string).call",
    "process(number).function(string).return",
    "process(number).function(string).inline",
    "process(number).statement(string)",
    "process(number).mark(string)",
    "process(number).provider(string).mark(string)",
    "process(string).function(string).label(string)",
    "process(string).library(string).function(string).label(string)",
    "process(number).function(string).label(string)",
    // PLT stubs: `.plt` is `.plt("*")`; `process` alone is the target's program.
    "process(string).plt",
    "process(string).plt(string)",
    "process(string).plt.return",
    "process(string).plt(string).return",
    "process(string).library(string).plt",
    "process(string).library(string).plt(string)",
    "process(string).library(string).plt.return",
    "process(string).library(string).plt(string).return",
    "process(number).plt",
    "process(number).plt(string)",
    "process(number).plt.return",
    "process(number).plt(string).return",
    "process.plt",
    "process.plt(string)",
    "process.plt.return",
    "process.plt(string).return",
    "process.library(string).plt",
    "process.library(string).plt(string)",
    "process.library(string).plt.return",
    "process.library(string).plt(string).return",
};

class Process : public ProbeFamily {
 public:
  Family id() const override { return Family::ProcessFunction; }
  std::vector<std::string_view> Patterns() const override {
    std::vector<std::string_view> out;
    for (std::string_view p : kUserPoints) out.push_back(p);
    for (std::string_view p :
         {"process(string).begin", "process(string).end", "process(number).begin",
          "process(number).end", "process.begin", "process.end"})
      out.push_back(p);
    return out;
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    spec.point = PointSpelling(parts);
    const PointPart& proc = parts[0];
    if (!ValidProcessPart(proc, ctx)) return;
    spec.target = proc.arg == ArgKind::String   ? proc.string
                  : proc.arg == ArgKind::Number ? std::to_string(proc.number)
                                                : "";
    spec.process_is_pid = proc.arg == ArgKind::Number;
    const PointPart& what = parts.size() > 2 && parts[1].name == "provider" ? parts[2] : parts[1];
    if (what.name == "begin" || what.name == "end") {
      if (proc.arg == ArgKind::String && (spec.target = ResolveProcessPath(proc, ctx)).empty())
        return;
      spec.family = what.name == "begin" ? Family::ProcessBegin : Family::ProcessEnd;
      // Whether sched_process_exit tells that the last thread is leaving (`group_dead`,
      // added in 6.16 when the tracepoint moved before exit_mm): numbers[1] = 1. Older
      // ones fire .end when the thread group's leader exits.
      if (spec.family == Family::ProcessEnd && !ctx.listing) {
        const TracepointCatalog& catalog = ctx.tracepoints();
        for (const Tracepoint* tp : catalog.Match("sched:sched_process_exit"))
          if (const std::vector<TracepointArg>* args = catalog.Args(*tp))
            for (const TracepointArg& a : *args) spec.numbers[1] |= a.name == "group_dead";
      }
      out.push_back(std::move(spec));
      return;
    }
    for (const PointPart& p : parts.subspan(1))
      if (p.arg == ArgKind::String && p.string.empty()) {
        ctx.diags.Report(Diag::ProbeParameter, p.range, {"expected a non-empty pattern"});
        return;
      }
    ResolveUserProbe(parts, ctx, out);
  }
};

}  // namespace

const ProbeFamily& ProcessFamily() {
  static const Process family;
  return family;
}

}  // namespace btap::sema
