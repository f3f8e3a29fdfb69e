// netfilter.hook("HOOK").pf("PF")[.priority("N")] (and .pf(...).hook(...)): stap's
// netfilter hooks, each a BPF netfilter program that the runtime links to the hook
// (Linux 6.4+). $hooknum, $skb, $in, $out and $okfn come from the hook's state; $verdict
// is the packet's fate, NF_ACCEPT unless the handler sets NF_DROP.
#include <bpf/btf.h>

#include <climits>
#include <cstdlib>

#include "semantic/machine/tracepoints.h"
#include "semantic/probe_family.h"
#include "semantic/suggest.h"

namespace btap::sema {
namespace {

struct Named {
  std::string_view name;
  int64_t value;
};

// The protocol families stap names (linux/netfilter.h's NFPROTO_*).
constexpr Named kFamilies[] = {
    {"NFPROTO_IPV4", 2}, {"NFPROTO_IPV6", 10}, {"NFPROTO_ARP", 3}, {"NFPROTO_BRIDGE", 7}};

// Each family's hooks. IPv6 takes the NF_INET_* names too: the kernel's IPv4 and IPv6
// hooks are one enum (stap knows only NF_IP6_* there).
constexpr Named kInetHooks[] = {{"NF_INET_PRE_ROUTING", 0},
                                {"NF_INET_LOCAL_IN", 1},
                                {"NF_INET_FORWARD", 2},
                                {"NF_INET_LOCAL_OUT", 3},
                                {"NF_INET_POST_ROUTING", 4}};
constexpr Named kIpHooks[] = {{"NF_IP_PRE_ROUTING", 0},
                              {"NF_IP_LOCAL_IN", 1},
                              {"NF_IP_FORWARD", 2},
                              {"NF_IP_LOCAL_OUT", 3},
                              {"NF_IP_POST_ROUTING", 4}};
constexpr Named kIp6Hooks[] = {{"NF_IP6_PRE_ROUTING", 0},
                               {"NF_IP6_LOCAL_IN", 1},
                               {"NF_IP6_FORWARD", 2},
                               {"NF_IP6_LOCAL_OUT", 3},
                               {"NF_IP6_POST_ROUTING", 4}};
constexpr Named kArpHooks[] = {{"NF_ARP_IN", 0}, {"NF_ARP_OUT", 1}, {"NF_ARP_FORWARD", 2}};
constexpr Named kBridgeHooks[] = {{"NF_BR_PRE_ROUTING", 0},
                                  {"NF_BR_LOCAL_IN", 1},
                                  {"NF_BR_FORWARD", 2},
                                  {"NF_BR_LOCAL_OUT", 3},
                                  {"NF_BR_POST_ROUTING", 4}};

// Named priorities (linux/netfilter_ipv4.h and _ipv6.h), after NF_IP_PRI_ / NF_IP6_PRI_.
constexpr Named kPriorities[] = {{"FIRST", INT_MIN},
                                 {"RAW_BEFORE_DEFRAG", -450},
                                 {"CONNTRACK_DEFRAG", -400},
                                 {"RAW", -300},
                                 {"SELINUX_FIRST", -225},
                                 {"CONNTRACK", -200},
                                 {"MANGLE", -150},
                                 {"NAT_DST", -100},
                                 {"FILTER", 0},
                                 {"SECURITY", 50},
                                 {"NAT_SRC", 100},
                                 {"SELINUX_LAST", 225},
                                 {"CONNTRACK_HELPER", 300},
                                 {"CONNTRACK_CONFIRM", INT_MAX},
                                 {"LAST", INT_MAX}};

std::vector<Named> HooksOf(int64_t pf) {
  auto all = [](std::initializer_list<std::span<const Named>> lists) {
    std::vector<Named> out;
    for (std::span<const Named> l : lists) out.insert(out.end(), l.begin(), l.end());
    return out;
  };
  switch (pf) {
    case 2:
      return all({kInetHooks, kIpHooks});
    case 10:
      return all({kIp6Hooks, kInetHooks});
    case 3:
      return all({kArpHooks});
    default:
      return all({kBridgeHooks});
  }
}

std::string NameList(std::span<const Named> names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i)
    s += std::string(i == 0                  ? ""
                     : i + 1 == names.size() ? " and "
                                             : ", ") +
         "`" + std::string(names[i].name) + "`";
  return s;
}

const Named* Find(std::span<const Named> names, std::string_view name) {
  for (const Named& n : names)
    if (n.name == name) return &n;
  return nullptr;
}

std::string Suggest(std::string_view name, std::span<const Named> names) {
  std::vector<std::string_view> views;
  for (const Named& n : names) views.push_back(n.name);
  return DidYouMean(Similar(name, views));
}

// A priority: a 32-bit number, or a name of the family's NF_IP_PRI_* / NF_IP6_PRI_*.
bool Priority(const PointPart& part, int64_t pf, ResolveContext& ctx, int64_t* out) {
  const std::string& text = part.string;
  std::string_view prefix = pf == 10 ? "NF_IP6_PRI_" : "NF_IP_PRI_";
  if (text.starts_with(prefix) && (pf == 2 || pf == 10)) {
    if (const Named* n = Find(kPriorities, std::string_view(text).substr(prefix.size()))) {
      *out = n->value;
      return true;
    }
  }
  char* end = nullptr;
  errno = 0;
  long long v = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    ctx.diags.Report(Diag::ProbeParameter, part.range,
                     {"netfilter priority `" + text + "` is neither a number nor a `" +
                      std::string(prefix) + "*` name"});
    return false;
  }
  if (v < INT_MIN || v > INT_MAX) {
    ctx.diags.Report(Diag::ProbeParameter, part.range,
                     {"netfilter priority " + text + " does not fit in a 32-bit int"});
    return false;
  }
  *out = v;
  return true;
}

// A pointer type to the struct `name` in `btf` (0 when it has none).
uint32_t PointerTo(const struct btf* btf, std::string_view name) {
  int32_t record = btf__find_by_name_kind(btf, std::string(name).c_str(), BTF_KIND_STRUCT);
  if (record <= 0) return 0;
  uint32_t n = btf__type_cnt(btf);
  for (uint32_t id = 1; id < n; ++id) {
    const btf_type* t = btf__type_by_id(btf, id);
    if (btf_is_ptr(t) && t->type == static_cast<uint32_t>(record)) return id;
  }
  return 0;
}

// $vars: the context's skb and the hook state's members, typed from the kernel's BTF (the
// compiling kernel's: one without BPF netfilter links has them too), and the verdict.
void AddVariables(ProbeSpec& spec, const struct btf* btf) {
  auto member_type = [&](std::string_view record, std::string_view member) -> uint32_t {
    if (!btf) return 0;
    int32_t id = btf__find_by_name_kind(btf, std::string(record).c_str(), BTF_KIND_STRUCT);
    const btf_type* t = id > 0 ? btf__type_by_id(btf, static_cast<uint32_t>(id)) : nullptr;
    if (!t) return 0;
    const btf_member* m = btf_members(t);
    for (uint16_t i = 0; i < btf_vlen(t); ++i, ++m)
      if (member == btf__name_by_offset(btf, m->name_off)) return m->type;
    return 0;
  };
  auto add = [&](std::string name, std::string c_type, uint32_t type) {
    TargetArg arg{std::move(name), type && btf ? BtfCType(btf, type) : std::move(c_type)};
    arg.index = static_cast<uint32_t>(spec.args.size());
    arg.btf_type = type;
    spec.args.push_back(std::move(arg));
  };
  add("hooknum", "unsigned int", 0);
  add("skb", "struct sk_buff*", btf ? PointerTo(btf, "sk_buff") : 0);
  add("in", "struct net_device*", member_type("nf_hook_state", "in"));
  add("out", "struct net_device*", member_type("nf_hook_state", "out"));
  add("okfn", "long", member_type("nf_hook_state", "okfn"));
  add("verdict", "unsigned int", 0);
}

class Netfilter : public ProbeFamily {
 public:
  Family id() const override { return Family::Netfilter; }
  std::vector<std::string_view> Patterns() const override {
    return {"netfilter.hook(string).pf(string)", "netfilter.pf(string).hook(string)",
            "netfilter.hook(string).pf(string).priority(string)",
            "netfilter.pf(string).hook(string).priority(string)"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    const PointPart* hook = nullptr;
    const PointPart* pf = nullptr;
    const PointPart* priority = nullptr;
    for (const PointPart& p : parts.subspan(1))
      (p.name == "hook" ? hook : p.name == "pf" ? pf : priority) = &p;
    const Named* family = Find(kFamilies, pf->string);
    if (!family) {
      ctx.diags.Report(Diag::ProbeParameter, pf->range,
                       {"unknown netfilter protocol family `" + pf->string + "`; btap knows " +
                        NameList(kFamilies) + Suggest(pf->string, kFamilies)});
      return;
    }
    std::vector<Named> hooks = HooksOf(family->value);
    const Named* number = Find(hooks, hook->string);
    if (!number) {
      ctx.diags.Report(Diag::ProbeParameter, hook->range,
                       {"`" + hook->string + "` is no hook of " + std::string(family->name) +
                        ", whose hooks are " + NameList(hooks) + Suggest(hook->string, hooks)});
      return;
    }
    // A listing names the ARP and bridge points as stap does (its aliases reach them);
    // only compiling one says that no BPF program attaches there.
    bool listed = ctx.listing || ctx.in_listed_alias;
    if (family->value != 2 && family->value != 10 && !listed) {
      // Linux's nf_bpf_link takes IPv4 and IPv6 hooks only (EAFNOSUPPORT otherwise): an
      // optional point (`netfilter.arp.in ?`) is not here, as a missing tracepoint is not.
      ctx.Skipped(pf->range,
                  "BPF netfilter programs attach to NFPROTO_IPV4 and NFPROTO_IPV6 "
                  "hooks only; the kernel refuses `" +
                      std::string(family->name) + "`");
      if (ctx.optional) return;
      ctx.diags.Report(Diag::ProbeParameter, pf->range,
                       {"BPF netfilter programs attach to NFPROTO_IPV4 and NFPROTO_IPV6 hooks "
                        "only; the kernel refuses `" +
                        std::string(family->name) + "`"});
      return;
    }
    int64_t prio = 0;  // stap's default: between the filter tables' and NAT's
    if (priority && !Priority(*priority, family->value, ctx, &prio)) return;
    if (prio == INT_MIN || prio == INT_MAX) {
      // The kernel keeps the first and last places (conntrack confirmation) for itself.
      ctx.diags.Report(Diag::ProbeParameter, priority->range,
                       {"BPF netfilter links refuse priority " + std::to_string(prio) +
                        " (NF_IP_PRI_FIRST and NF_IP_PRI_LAST are the kernel's own); take one "
                        "from -2147483647 to 2147483646"});
      return;
    }
    ProbeSpec spec;
    spec.family = Family::Netfilter;
    spec.point = PointSpelling(parts);
    spec.numbers[0] = family->value;
    spec.numbers[1] = number->value;
    spec.numbers[2] = prio;
    spec.target = priority ? priority->string : "";  // none: the runtime may move it
    spec.has_target_vars = true;
    if (ctx.target_variables) AddVariables(spec, ctx.kernel_btf ? ctx.kernel_btf() : nullptr);
    out.push_back(std::move(spec));
  }
};

}  // namespace

const ProbeFamily& NetfilterFamily() {
  static const Netfilter family;
  return family;
}

}  // namespace btap::sema
