// Chains of BPF-to-BPF calls and their stack (see stack_chain.h), read from the object's
// sections, symbols and relocations as libbpf links them.
#include "codegen/stack_chain.h"

#include "codegen/seal.h"
#include "common/kernel_terms.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

namespace btap::codegen {
namespace {

struct Insn {
  uint8_t code;
  uint8_t regs;  // dst in the low nibble, src in the high
  int16_t off;
  int32_t imm;
};

struct Function {
  std::string name;
  uint16_t section = 0;
  uint64_t start = 0, size = 0;  // bytes in the section
  uint32_t depth = 0;
  std::vector<size_t> callees;  // indexes into the function list
};

constexpr uint8_t kCall = 0x85, kLoadImm64 = 0x18, kMovReg = 0xbf, kAddImm = 0x07;

// The deepest stack address a function reaches: r10-relative loads and stores, and
// pointers made as r10 plus a constant (what helpers are given). Control flow is not
// followed: a register keeps its r10 offset until something else is written to it.
uint32_t StackDepth(const std::vector<Insn>& insns) {
  int64_t deepest = 0;
  int64_t at[11];
  bool known[11] = {};
  for (const Insn& in : insns) {
    uint8_t dst = in.regs & 0xf, src = in.regs >> 4, cls = in.code & 7;
    if (dst > 10 || src > 10) continue;
    if (cls == 1 /* LDX */) {
      if (src == 10 || known[src]) deepest = std::min(deepest, (src == 10 ? 0 : at[src]) + in.off);
      known[dst] = false;
    } else if (cls == 2 || cls == 3 /* ST, STX */) {
      if (dst == 10 || known[dst]) deepest = std::min(deepest, (dst == 10 ? 0 : at[dst]) + in.off);
    } else if (in.code == kMovReg && src == 10) {
      known[dst] = true;
      at[dst] = 0;
    } else if (in.code == kAddImm && known[dst]) {
      at[dst] += in.imm;
      deepest = std::min(deepest, at[dst]);
    } else if (cls == 4 || cls == 7 /* ALU, ALU64 */ || in.code == kLoadImm64) {
      known[dst] = false;
    } else if (in.code == kCall) {
      for (int r = 0; r <= 5; ++r) known[r] = false;
    }
  }
  return static_cast<uint32_t>(-deepest);
}

// A frame's bytes in a chain under `rule`; 0 for one on a private stack of its own.
uint32_t Counted(uint32_t depth, const StackRule& rule, bool private_stacks) {
  uint32_t g = rule.granule;
  uint32_t rounded = (rule.empty_counts ? std::max<uint32_t>(depth, 1) : depth) + g - 1;
  rounded = rounded / g * g;
  return private_stacks && rule.private_from && rounded >= rule.private_from ? 0 : rounded;
}

// Program types whose frames may get a private stack (6.13's bpf_enable_priv_stack:
// kprobe, tracepoint, perf_event, raw tracepoint, and tracing's fentry/fexit), by section.
bool MayHavePrivateStacks(std::string_view section) {
  for (std::string_view p :
       {"kprobe", "kretprobe", "uprobe", "uretprobe", "tracepoint/", "tp/", "raw_tp/",
        "raw_tracepoint/", "perf_event", "fentry/", "fexit/", "ksyscall/", "kretsyscall/"})
    if (section.starts_with(p)) return true;
  return false;
}

}  // namespace

StackRule StackRuleFor(std::string_view release) {
  StackRule rule;
  rule.kernel = std::string(release.substr(0, release.find_first_not_of("0123456789.")));
  if (!rule.kernel.empty() && rule.kernel.back() == '.') rule.kernel.pop_back();
  bool known = !rule.kernel.empty() && rule.kernel.find('.') != std::string::npos;
  if (!known || CompareVersions(rule.kernel, "6.9") >= 0) {
    rule.granule = 16;
    rule.empty_counts = false;
  }
  if (!known || CompareVersions(rule.kernel, "6.13") >= 0) rule.private_from = 64;
  if (!known) rule.kernel.clear();
  return rule;
}

std::vector<StackChain> ChainsPastLimit(const std::vector<uint8_t>& object,
                                        const std::string& skip_prefix, const StackRule& rule,
                                        uint32_t limit) {
  std::vector<StackChain> out;
  Elf64_Ehdr eh;
  if (!Get(object, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_BPF)
    return out;
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  for (uint16_t i = 0; i < eh.e_shnum; ++i)
    if (!Get(object, eh.e_shoff + uint64_t{i} * sizeof(Elf64_Shdr), &sh[i])) return out;
  auto text = [&](const Elf64_Shdr& s, uint64_t at) -> std::string_view {
    if (s.sh_offset > object.size() || at >= s.sh_size || s.sh_offset + at >= object.size())
      return {};
    const char* p = reinterpret_cast<const char*>(object.data() + s.sh_offset + at);
    return {p, strnlen(p, object.size() - s.sh_offset - at)};
  };
  auto section_name = [&](uint16_t i) {
    return eh.e_shstrndx < sh.size() ? std::string(text(sh[eh.e_shstrndx], sh[i].sh_name)) : "";
  };
  // Symbols: functions, and every symbol's section and value (relocations name them).
  std::vector<Function> fns;
  std::vector<Elf64_Sym> syms;
  for (const Elf64_Shdr& s : sh) {
    if (s.sh_type != SHT_SYMTAB || s.sh_link >= sh.size()) continue;
    for (uint64_t at = 0; at + sizeof(Elf64_Sym) <= s.sh_size; at += sizeof(Elf64_Sym)) {
      Elf64_Sym sym;
      if (!Get(object, s.sh_offset + at, &sym)) return out;
      syms.push_back(sym);
      if (ELF64_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_shndx < sh.size() && sym.st_size)
        fns.push_back({std::string(text(sh[s.sh_link], sym.st_name)),
                       sym.st_shndx,
                       sym.st_value,
                       sym.st_size,
                       0,
                       {}});
    }
  }
  auto function_at = [&](uint16_t section, uint64_t at) -> int64_t {
    for (size_t i = 0; i < fns.size(); ++i)
      if (fns[i].section == section && at >= fns[i].start && at < fns[i].start + fns[i].size)
        return static_cast<int64_t>(i);
    return -1;
  };
  // Relocations by (section, offset): the symbol an instruction names.
  std::map<std::pair<uint16_t, uint64_t>, uint32_t> relocs;
  for (const Elf64_Shdr& s : sh) {
    if (s.sh_type != SHT_REL || s.sh_info >= sh.size()) continue;
    for (uint64_t at = 0; at + sizeof(Elf64_Rel) <= s.sh_size; at += sizeof(Elf64_Rel)) {
      Elf64_Rel r;
      if (!Get(object, s.sh_offset + at, &r)) return out;
      relocs[{static_cast<uint16_t>(s.sh_info), r.r_offset}] =
          static_cast<uint32_t>(ELF64_R_SYM(r.r_info));
    }
  }
  for (Function& f : fns) {
    std::vector<Insn> insns;
    const Elf64_Shdr& s = sh[f.section];
    for (uint64_t at = f.start; at + 8 <= f.start + f.size && at + 8 <= s.sh_size; at += 8) {
      Insn in;
      if (!Get(object, s.sh_offset + at, &in)) break;
      insns.push_back(in);
      // A call, or a function's address (a callback): where it leads, as libbpf links it.
      bool call = in.code == kCall && (in.regs >> 4) == 1;
      auto r = relocs.find({f.section, at});
      if (!call && !(in.code == kLoadImm64 && r != relocs.end())) continue;
      uint16_t section = f.section;
      uint64_t target = at + (static_cast<int64_t>(in.imm) + 1) * 8;
      if (r != relocs.end()) {
        if (r->second >= syms.size()) continue;
        const Elf64_Sym& sym = syms[r->second];
        if (sym.st_shndx >= sh.size() || !(sh[sym.st_shndx].sh_flags & SHF_EXECINSTR)) continue;
        section = sym.st_shndx;
        target = sym.st_value + (call ? (static_cast<int64_t>(in.imm) + 1) * 8 : in.imm);
      }
      int64_t callee = function_at(section, target);
      if (callee >= 0) f.callees.push_back(static_cast<size_t>(callee));
    }
    f.depth = StackDepth(insns);
  }
  for (Function& f : fns) {
    std::sort(f.callees.begin(), f.callees.end());
    f.callees.erase(std::unique(f.callees.begin(), f.callees.end()), f.callees.end());
  }
  // The deepest chain from each function, once per function and kind of program (the
  // verifier refuses recursion; a function met again on its own chain ends it): its own
  // frame, then its deepest callee's chain.
  struct Walk {
    std::vector<uint32_t> deepest;
    std::vector<int64_t> next;
    std::vector<uint8_t> state;  // 0 not yet, 1 on the chain, 2 done
  };
  Walk walks[2];  // programs without, and with, private stacks
  for (Walk& w : walks) {
    w.deepest.assign(fns.size(), 0);
    w.next.assign(fns.size(), -1);
    w.state.assign(fns.size(), 0);
  }
  auto walk = [&](auto&& self, Walk& w, bool private_stacks, size_t f,
                  uint32_t frames) -> uint32_t {
    if (w.state[f] == 2) return w.deepest[f];
    if (w.state[f] == 1 || frames >= 8) return 0;  // 8: the verifier's MAX_CALL_FRAMES
    w.state[f] = 1;
    uint32_t below = 0;
    for (size_t c : fns[f].callees) {
      uint32_t d = self(self, w, private_stacks, c, frames + 1);
      if (d > below) {
        below = d;
        w.next[f] = static_cast<int64_t>(c);
      }
    }
    w.state[f] = 2;
    return w.deepest[f] = Counted(fns[f].depth, rule, private_stacks) + below;
  };
  for (size_t p = 0; p < fns.size(); ++p) {
    std::string section = section_name(fns[p].section);
    if (section == ".text" || (!skip_prefix.empty() && section.starts_with(skip_prefix))) continue;
    bool private_stacks = MayHavePrivateStacks(section);
    Walk& w = walks[private_stacks];
    uint32_t best_total = walk(walk, w, private_stacks, p, 0);
    if (best_total <= limit) continue;
    StackChain c{fns[p].name, {}, {}, best_total};
    for (int64_t f = static_cast<int64_t>(p); f >= 0 && c.frames.size() < 8; f = w.next[f]) {
      c.frames.push_back(fns[f].name);
      c.depths.push_back(Counted(fns[f].depth, rule, private_stacks));
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace btap::codegen
