// perf.type(T).config(C): perf events (PERF_TYPE_* and their configs) sampled every
// N events (.sample, default 1000000) or at a frequency (.hz), system-wide or per process.
// kernel.data(ADDRESS or "SYMBOL").write/.rw: hardware watchpoints, perf breakpoint
// events on every CPU (see HwBreakpointTarget for how the probe carries them).
#include "common/kallsyms.h"
#include "common/object_meta.h"
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

constexpr int64_t kPerfTypeMax = 5;  // PERF_TYPE_BREAKPOINT

class Perf : public ProbeFamily {
 public:
  Family id() const override { return Family::Perf; }
  std::vector<std::string_view> Patterns() const override {
    return {"perf.type(number).config(number)", "perf.type(number).config(number).sample(number)",
            "perf.type(number).config(number).hz(number)",
            "perf.type(number).config(number).process",
            "perf.type(number).config(number).process(string)",
            "perf.type(number).config(number).sample(number).process",
            "perf.type(number).config(number).sample(number).process(string)",
            "perf.type(number).config(number).counter(string)",
            "perf.type(number).config(number).process.counter(string)",
            "perf.type(number).config(number).process(string).counter(string)",
            // stap's hardware breakpoints: no .read (x86 watches writes, or reads and
            // writes together), and .length only with an address.
            "kernel.data(number).write", "kernel.data(number).rw",
            "kernel.data(number).length(number).write", "kernel.data(number).length(number).rw",
            "kernel.data(string).write", "kernel.data(string).rw"};
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
    if (parts[0].name == "kernel") {
      ResolveData(parts, ctx, std::move(spec), out);
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

 private:
  // A watchpoint covers 1, 2, 4 or 8 bytes (x86-64's debug registers) at an address
  // aligned to its length; a length in between is rounded up, as stap does.
  static void ResolveData(std::span<const PointPart> parts, ResolveContext& ctx, ProbeSpec spec,
                          std::vector<ProbeSpec>& out) {
    const PointPart& where = parts[1];
    int64_t length = 1;
    if (parts[2].name == "length") {
      int64_t asked = parts[2].number;
      if (asked < 1 || asked > 8) {
        ctx.diags.Report(Diag::ProbeParameter, parts[2].range,
                         {"a watchpoint's length must be between 1 and 8 bytes"});
        return;
      }
      while (length < asked) length *= 2;
    }
    std::string symbol;
    if (where.arg == ArgKind::String) {
      symbol = where.string;
      // Checked where kallsyms shows addresses (as root) for the running kernel; the
      // runtime looks it up again where the object runs.
      if (symbol.empty() ||
          (!ctx.listing && ctx.running_kernel && KernelSymbolAddress("_stext") != 0 &&
           KernelSymbolAddress(symbol) == 0)) {
        ctx.diags.Report(Diag::ProbeParameter, where.range,
                         {"no kernel symbol " + Quote(symbol) +
                          " in /proc/kallsyms (it lists variables only with CONFIG_KALLSYMS_ALL)"});
        return;
      }
    } else if (static_cast<uint64_t>(where.number) % static_cast<uint64_t>(length) != 0) {
      ctx.diags.Report(Diag::ProbeParameter, where.range,
                       {"a watchpoint of " + std::to_string(length) +
                        " bytes needs an address aligned to " + std::to_string(length)});
      return;
    } else if (where.number == 0) {
      ctx.diags.Report(Diag::ProbeParameter, where.range, {"cannot watch address 0"});
      return;
    }
    spec.numbers[0] = kPerfTypeMax;  // PERF_TYPE_BREAKPOINT
    spec.numbers[1] = where.arg == ArgKind::String ? 0 : where.number;
    spec.numbers[2] = 1;  // every access
    bool rw = parts.back().name == "rw";
    spec.target = meta::HwBreakpointTarget(rw, static_cast<int>(length), symbol);
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& PerfFamily() {
  static const Perf family;
  return family;
}

}  // namespace btap::sema
