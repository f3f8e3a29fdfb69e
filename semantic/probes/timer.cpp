// Timer probes: timer.<unit>(N)[.randomize(M)] fire every N units on one CPU (perf or
// hrtimer based, chosen at run time); timer.profile fires on every CPU's tick.
#include <cstdint>

#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

struct Unit {
  std::string_view name;
  int64_t ns;  // 0: not a fixed length (hz, jiffies)
};
constexpr Unit kUnits[] = {
    {"s", 1000000000}, {"sec", 1000000000}, {"ms", 1000000}, {"msec", 1000000}, {"us", 1000},
    {"usec", 1000},    {"ns", 1},           {"nsec", 1},     {"hz", 0},         {"jiffies", 0}};

class Timer : public ProbeFamily {
 public:
  Family id() const override { return Family::Timer; }
  std::vector<std::string_view> Patterns() const override {
    return {"timer.hz(number)",
            "timer.jiffies(number)",
            "timer.jiffies(number).randomize(number)",
            "timer.ms(number)",
            "timer.ms(number).randomize(number)",
            "timer.msec(number)",
            "timer.msec(number).randomize(number)",
            "timer.ns(number)",
            "timer.ns(number).randomize(number)",
            "timer.nsec(number)",
            "timer.nsec(number).randomize(number)",
            "timer.s(number)",
            "timer.s(number).randomize(number)",
            "timer.sec(number)",
            "timer.sec(number).randomize(number)",
            "timer.us(number)",
            "timer.us(number).randomize(number)",
            "timer.usec(number)",
            "timer.usec(number).randomize(number)",
            "timer.profile",
            "timer.profile.tick"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    spec.point = PointSpelling(parts);
    if (parts[1].name == "profile") {
      spec.family = Family::TimerProfile;
      out.push_back(std::move(spec));
      return;
    }
    spec.family = Family::Timer;
    const PointPart& interval = parts[1];
    if (interval.arg == ArgKind::None) {  // listing a pattern
      out.push_back(std::move(spec));
      return;
    }
    int64_t unit = 0;
    for (const Unit& u : kUnits)
      if (u.name == interval.name) unit = u.ns;
    if (interval.number <= 0) {
      ctx.diags.Report(Diag::ProbeParameter, interval.range, {"timer interval must be positive"});
      return;
    }
    if (unit && interval.number > INT64_MAX / unit) {
      ctx.diags.Report(Diag::ProbeParameter, interval.range, {"timer interval is too long"});
      return;
    }
    if (interval.name == "hz") {
      if (interval.number > 1000000000) {
        ctx.diags.Report(Diag::ProbeParameter, interval.range,
                         {"timer frequency must be at most 1000000000 Hz"});
        return;
      }
      spec.period_ns = 1000000000 / interval.number;
    } else {
      // Jiffies: the runtime knows the kernel's HZ; the period is left to it.
      spec.period_ns = unit * interval.number;
      spec.numbers[0] = interval.number;
      if (interval.name == "jiffies") spec.numbers[2] = interval.number;
    }
    if (parts.size() == 3 && parts[2].arg == ArgKind::Number) {
      int64_t r = parts[2].number;
      if (r < 0 || r >= interval.number) {
        ctx.diags.Report(Diag::ProbeParameter, parts[2].range,
                         {"randomization must be at least 0 and less than the interval (" +
                          std::to_string(interval.number) + ")"});
        return;
      }
      spec.randomize_ns = unit ? unit * r : r;
    }
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& TimerFamily() {
  static const Timer family;
  return family;
}

}  // namespace btap::sema
