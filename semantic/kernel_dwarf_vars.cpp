// Pass 2b for kernel probes with DWARF: each variable that DWARF locates at the probe's
// address (TargetArg::Source::Dwarf) gets its value as an expression over the probe's
// registers and kernel memory, from its location expression (the evaluator that user
// probes use), and a BTF type found by name, so that `->member` chains are CO-RE reads as
// for BTF parameters. A plain kernel.function probe opens DWARF only when its body names a
// `$var` that BTF does not have.
#include <bpf/btf.h>
#include <dwarf.h>

#include <algorithm>
#include <set>

#include "common/object_meta.h"
#include "frontend/ast_walk.h"
#include "semantic/elab.h"
#include "semantic/machine/kernel_dwarf.h"
#include "semantic/probes/kernel_dwarf_probes.h"
#include "semantic/target_vars.h"

namespace btap::sema {
namespace {

struct Builder {
  Arena& arena;
  bool relocated = false;  // a value at a link-time address: the runtime adds the slide
  // A module's: the sections ("MODULE SECTION") that LoadBias values 1, 2, ... stand for.
  std::vector<std::string> sections;
  template <typename T>
  T* Node() {
    T* n = arena.New<T>();
    n->kind = T::kKind;
    n->type = Type::Long;
    return n;
  }
  ast::Expr* Num(int64_t v) {
    auto* n = Node<ast::NumberLit>();
    n->value = v;
    return n;
  }
  ast::Expr* Load(ast::Expr* address, int size, bool is_signed) {
    auto* d = Node<ast::Deref>();
    d->size = size;
    d->is_signed = is_signed;
    d->address = address;
    d->depth = address->depth + 1;
    return d;
  }
  // A register as the function was entered with it, saved at the entry under the call's
  // frame address (CFA), which the call frame information gives here as a register plus an
  // offset.
  ast::Expr* EntryRegister(const LocExpr& l, std::string* why) {
    using Op = LocExpr::Op;
    const LocExpr& cfa = l.kids[0];
    const LocExpr* reg = &cfa;
    int64_t offset = 0;
    if (cfa.op == Op::Add && cfa.kids.size() == 2 && cfa.kids[1].op == Op::Const) {
      reg = &cfa.kids[0];
      offset = cfa.kids[1].value;
    }
    if (reg->op != Op::Reg) {
      *why =
          "its value is what a register held at the function's entry (DW_OP_entry_value), "
          "and its frame's address here is not a register plus an offset";
      return nullptr;
    }
    auto* r = Node<ast::Register>();
    r->regno = l.value;
    r->entry_function = static_cast<uint64_t>(l.kids[1].value);
    r->entry_cfa_reg = reg->value;
    r->entry_cfa_offset = offset;
    return r;
  }
  // A LocExpr over the kernel's registers and memory; null (with `why`) for what the
  // kernel cannot give (a load bias: kernel addresses move with KASLR).
  ast::Expr* From(const LocExpr& l, std::string* why) {
    using Op = LocExpr::Op;
    if (l.op == Op::EntryReg) return EntryRegister(l, why);
    std::vector<ast::Expr*> kids;
    for (const LocExpr& k : l.kids) {
      kids.push_back(From(k, why));
      if (!kids.back()) return nullptr;
    }
    switch (l.op) {
      case Op::Const:
        return Num(l.value);
      case Op::Reg: {
        auto* r = Node<ast::Register>();
        r->regno = l.value;
        return r;
      }
      case Op::LoadBias: {
        // How far the running kernel moved from its link-time addresses (KASLR), or where
        // a module's section was loaded.
        auto* r = Node<ast::Register>();
        r->load_bias = true;
        if (l.value > 0 && static_cast<size_t>(l.value) <= sections.size())
          r->module_section = arena.Copy(std::string_view(sections[l.value - 1]));
        else
          relocated = true;
        return r;
      }
      case Op::Deref:
        return Load(kids[0], l.size, false);
      case Op::Neg:
      case Op::Not: {
        auto* u = Node<ast::Unary>();
        u->op = l.op == Op::Neg ? ast::Tok::Minus : ast::Tok::Tilde;
        u->operand = kids[0];
        u->depth = kids[0]->depth + 1;
        return u;
      }
      default:
        break;
    }
    static const std::pair<Op, ast::Tok> kBinary[] = {
        {Op::Add, ast::Tok::Plus},  {Op::Sub, ast::Tok::Minus},   {Op::Mul, ast::Tok::Star},
        {Op::Div, ast::Tok::Slash}, {Op::Mod, ast::Tok::Percent}, {Op::And, ast::Tok::Amp},
        {Op::Or, ast::Tok::Pipe},   {Op::Xor, ast::Tok::Caret},   {Op::Shl, ast::Tok::Shl},
        {Op::Shr, ast::Tok::UShr},  {Op::Shra, ast::Tok::Shr}};
    for (auto [op, tok] : kBinary)
      if (op == l.op) {
        auto* b = Node<ast::Binary>();
        b->op = tok;
        b->lhs = kids[0];
        b->rhs = kids[1];
        b->depth = std::max(kids[0]->depth, kids[1]->depth) + 1;
        return b;
      }
    *why = "its location expression has an operation btap cannot compute";
    return nullptr;
  }
};

// The kernel BTF type that names the same C type as DWARF's `type` (0 when BTF has none):
// named types by name and kind, pointers as BTF's pointer to the pointee's type.
uint32_t BtfTypeFor(const struct btf* btf, Dwarf_Die* type, int depth = 0) {
  if (!btf || depth > 8) return 0;
  auto named = [&](int kind) -> uint32_t {
    const char* n = dwarf_diename(type);
    int id = n ? btf__find_by_name_kind(btf, n, kind) : -1;
    return id > 0 ? static_cast<uint32_t>(id) : 0;
  };
  Dwarf_Die under;
  switch (dwarf_tag(type)) {
    case DW_TAG_typedef:
      return named(BTF_KIND_TYPEDEF);
    case DW_TAG_structure_type:
      return named(BTF_KIND_STRUCT);
    case DW_TAG_union_type:
      return named(BTF_KIND_UNION);
    case DW_TAG_enumeration_type:
      return named(BTF_KIND_ENUM);
    case DW_TAG_base_type:
      return named(BTF_KIND_INT);
    case DW_TAG_const_type:
    case DW_TAG_volatile_type:
      return TypeOf(type, &under) ? BtfTypeFor(btf, &under, depth + 1) : 0;
    case DW_TAG_pointer_type: {
      uint32_t to = TypeOf(type, &under) ? BtfTypeFor(btf, &under, depth + 1) : 0;
      if (!to) return 0;
      uint32_t n = btf__type_cnt(btf);
      for (uint32_t id = 1; id < n; ++id) {
        const btf_type* t = btf__type_by_id(btf, id);
        if (btf_is_ptr(t) && t->type == to) return id;
      }
      return 0;
    }
    default:
      return 0;
  }
}

bool IsSigned(Dwarf_Die* type) {
  Dwarf_Die t;
  if (!PeelType(type, &t)) return false;
  if (dwarf_tag(&t) == DW_TAG_enumeration_type) return true;
  Dwarf_Attribute a;
  Dwarf_Word enc = 0;
  if (dwarf_tag(&t) != DW_TAG_base_type ||
      dwarf_formudata(dwarf_attr(&t, DW_AT_encoding, &a), &enc) != 0)
    return false;
  return enc == DW_ATE_signed || enc == DW_ATE_signed_char;
}

// Gives `arg` its value at `at` in `f`; false with `why` when it cannot be read there.
// $return of a function BTF does not describe: rax, typed by DWARF.
void PlaceReturn(Elab& e, DebugInfo& d, const DebugFunction& f, TargetArg& arg) {
  Dwarf_Die die, type, peeled;
  if (!d.Die(f.die, &die) || !TypeOf(&die, &type)) return;
  if (PeelType(&type, &peeled) &&
      (dwarf_tag(&peeled) == DW_TAG_structure_type || dwarf_tag(&peeled) == DW_TAG_union_type))
    return;  // a struct returned in registers or memory: not one value
  int64_t size = TypeSize(&type);
  arg.size = size > 0 && size <= 8 ? static_cast<uint32_t>(size) : 8;
  arg.is_signed = IsSigned(&type);
  arg.btf_type = BtfTypeFor(e.machine.kernel_btf().get(), &type);
  Builder b{e.arena, false, {}};
  auto* rax = b.Node<ast::Register>();
  rax->regno = 0;  // DWARF's rax
  arg.value = rax;
}

constexpr const char* kPerCpu =
    "it is a per-CPU variable (each CPU has its own copy), which btap does not read yet";

// A module's fixed addresses (DW_OP_addr: load bias + libdwfl's address) as offsets in the
// module's sections, each section's base a LoadBias numbered in `b.sections`; false with
// `why` for an address in no section.
bool ModuleSections(DebugInfo& d, const std::string& module, LocExpr& l, Builder& b,
                    std::string* why) {
  using Op = LocExpr::Op;
  if (l.op == Op::Add && l.kids.size() == 2 && l.kids[0].op == Op::LoadBias &&
      l.kids[1].op == Op::Const) {
    std::string section;
    uint64_t offset = 0;
    if (!d.SectionOffset(static_cast<uint64_t>(l.kids[1].value), &section, &offset)) {
      *why = "its address is in no section of the module";
      return false;
    }
    if (section == ".data..percpu") {
      *why = kPerCpu;
      return false;
    }
    b.sections.push_back(module + " " + section);
    l.kids[0].value = static_cast<int64_t>(b.sections.size());
    l.kids[1].value = static_cast<int64_t>(offset);
    return true;
  }
  if (l.op == Op::LoadBias) {
    *why = "its location needs where the module was loaded, in a form btap does not follow";
    return false;
  }
  for (LocExpr& k : l.kids)
    if (!ModuleSections(d, module, k, b, why)) return false;
  return true;
}

bool Place(Elab& e, DebugInfo& d, const DebugFunction& f, uint64_t at, Dwarf_Die var,
           TargetArg& arg, std::string* why, const std::string& module = "") {
  Dwarf_Die type, peeled;
  bool typed = TypeOf(&var, &type);
  Location loc = d.Locate(f, &var, at);
  // A variable DWARF only declares (`jiffies`, which the linker script places; a module's
  // extern of the kernel's): its address is vmlinux's symbol table's.
  bool vmlinux_symbol = false;
  if (const char* name = dwarf_diename(&var);
      loc.kind == Location::Kind::Unavailable && name && dwarf_hasattr(&var, DW_AT_declaration))
    if (std::optional<uint64_t> address = e.machine.kernel_dwarf().LinkAddress(name)) {
      loc.kind = Location::Kind::Memory;
      loc.expr = LocExpr::Binary(LocExpr::Op::Add, LocExpr{LocExpr::Op::LoadBias, 0, 8, {}},
                                 LocExpr::Constant(static_cast<int64_t>(*address)));
      vmlinux_symbol = true;
    }
  // A per-CPU variable's "address" is its offset in each CPU's copy of the per-CPU area.
  if (module.empty() && (loc.kind == Location::Kind::Memory) && loc.expr.op == LocExpr::Op::Add &&
      loc.expr.kids.size() == 2 && loc.expr.kids[0].op == LocExpr::Op::LoadBias &&
      loc.expr.kids[1].op == LocExpr::Op::Const) {
    KernelDwarf& kd = e.machine.kernel_dwarf();
    std::optional<uint64_t> lo = kd.LinkAddress("__per_cpu_start");
    std::optional<uint64_t> hi = kd.LinkAddress("__per_cpu_end");
    auto at_address = static_cast<uint64_t>(loc.expr.kids[1].value);
    if (lo && hi && at_address >= *lo && at_address < *hi) {
      *why = kPerCpu;
      return false;
    }
  }
  Builder b{e.arena, false, {}};
  if (!module.empty() && !vmlinux_symbol && loc.kind != Location::Kind::Unavailable &&
      loc.kind != Location::Kind::Pieces && !ModuleSections(d, module, loc.expr, b, why))
    return false;
  // A fixed address (a global or static variable) moves with the kernel: the runtime
  // finds how far from the anchor's address in /proc/kallsyms.
  struct Relocate {
    Elab& e;
    Builder& b;
    std::string* why;
    bool Done(bool placed) {
      if (!placed || !b.relocated || e.program.kernel.dwarf_anchor) return placed;
      std::optional<uint64_t> anchor = e.machine.kernel_dwarf().LinkAddress(meta::kKernelAnchor);
      if (!anchor) {
        *why = std::string("it is at a fixed address, and the vmlinux has no `") +
               meta::kKernelAnchor + "` to tell how far the running kernel moved";
        return false;
      }
      e.program.kernel.dwarf_anchor = *anchor;
      return true;
    }
  } relocate{e, b, why};
  int64_t size = typed ? TypeSize(&type) : 8;
  bool composite =
      typed && PeelType(&type, &peeled) &&
      (dwarf_tag(&peeled) == DW_TAG_structure_type || dwarf_tag(&peeled) == DW_TAG_union_type ||
       dwarf_tag(&peeled) == DW_TAG_array_type);
  arg.size = size > 0 && size <= 8 ? static_cast<uint32_t>(size) : 8;
  arg.is_signed = typed && IsSigned(&type);
  arg.btf_type = typed ? BtfTypeFor(e.machine.kernel_btf().get(), &type) : 0;
  switch (loc.kind) {
    case Location::Kind::Register:
    case Location::Kind::Value:
      if (composite) {
        *why = "it is a struct held in registers";
        return false;
      }
      arg.value = b.From(loc.expr, why);
      return relocate.Done(arg.value != nullptr);
    case Location::Kind::Memory:
      arg.value = b.From(loc.expr, why);
      if (!arg.value) return false;
      arg.in_memory = composite;
      if (!composite) arg.value = b.Load(arg.value, static_cast<int>(arg.size), arg.is_signed);
      return relocate.Done(true);
    case Location::Kind::Pieces:
      *why = "it is split over several places";
      return false;
    case Location::Kind::Unavailable:
      *why = loc.why.empty() ? "it is optimized out here" : loc.why;
      return false;
  }
  return false;
}

// Calls f(AtVar*) for each @var of the probe's body and condition.
template <typename F>
void ForEachAtVar(Probe& p, F&& f) {
  for (ast::Node* root : {static_cast<ast::Node*>(p.body), static_cast<ast::Node*>(p.condition)})
    ast::WalkTree(root, [&](ast::Node* n) {
      if (auto* v = ast::As<ast::AtVar>(n)) f(v);
    });
}

// Says why an @var of the probe cannot be placed.
void AtVarError(Elab& e, Probe& p, ast::AtVar* v, const std::string& why) {
  e.diags.Report(Diag::TargetVariableError, v->range,
                 {"@var(\"" + std::string(v->target_name) + "\")", p.spec.point, why});
}

// The module whose variable an @var names ("" for the kernel's): its own argument, else
// the probe's module.
std::string AtVarModule(const ast::AtVar* v, const std::string& probe_module) {
  std::string m = !v->has_module          ? probe_module
                  : v->module == "kernel" ? ""
                                          : std::string(v->module);
  std::replace(m.begin(), m.end(), '-', '_');
  return m;
}

// @var("name@file.c") and @var("name"[, "module"]) as arguments of their own ("@name" and
// ",module" when one is named): `name` in the unit of `f` (the probed function, of
// `probe_module` or of the kernel), or where no function runs (a tracepoint, a timer) or
// another module's is named, in the one unit that defines it.
void PlaceAtVars(Elab& e, Probe& p, const std::string& probe_module, const DebugFunction* f,
                 uint64_t at, const std::vector<DebugVariable>& vars, std::set<std::string>& have) {
  ProbeSpec& spec = p.spec;
  auto error = [&](ast::AtVar* v, const std::string& why) { AtVarError(e, p, v, why); };
  Dwarf_Die type;
  ForEachAtVar(p, [&](ast::AtVar* v) {
    std::string key = AtVarKey(*v);
    if (!have.insert(key).second) return;
    std::string module = AtVarModule(v, probe_module);
    KernelDwarf& kd = module.empty() ? e.machine.kernel_dwarf() : e.machine.module_dwarf(module);
    DebugInfo* d = kd.dwarf();
    if (!d)
      return error(v, "it needs the " + std::string(module.empty() ? "kernel's" : "module's") +
                          " DWARF: " + kd.error());
    const DebugFunction* in = module == probe_module ? f : nullptr;
    std::string whose = module.empty() ? "the kernel" : "module `" + module + "`";
    std::string_view name = v->target_name, cu;
    if (size_t at_sign = name.find('@'); at_sign != std::string_view::npos) {
      cu = name.substr(at_sign + 1);
      name = name.substr(0, at_sign);
    }
    if (name.empty()) return error(v, "it names no variable");
    std::optional<Dwarf_Die> die;
    if (!cu.empty()) {
      die = d->Global(name, cu);
    } else if (in) {
      for (const DebugVariable& g : vars)
        if (g.global && g.name == name) die = g.die;
    } else {
      std::vector<Dwarf_Die> all = d->Globals(name, "");
      if (all.size() > 1) {
        std::string units;
        for (size_t i = 0; i < all.size() && i < 4; ++i) {
          Dwarf_Die unit;
          const char* file =
              dwarf_diecu(&all[i], &unit, nullptr, nullptr) ? dwarf_diename(&unit) : nullptr;
          units += std::string(i ? ", " : "") + (file ? file : "?");
        }
        if (all.size() > 4) units += ", ...";
        return error(v, whose + " has " + std::to_string(all.size()) + " variables named `" +
                            std::string(name) + "` (in " + units + "); name the file, as @var(\"" +
                            std::string(name) + "@FILE\")");
      }
      if (!all.empty()) die = all.front();
    }
    if (!die)
      return error(v, (module.empty() ? "the kernel's DWARF" : "the DWARF of " + whose) +
                          " has no global variable `" + std::string(name) + "`" +
                          (!cu.empty() ? " in a unit matching `" + std::string(cu) + "`"
                           : in        ? " in the unit of `" + in->name + "`"
                                       : std::string()));
    TargetArg a;
    a.name = key;
    a.c_type = TypeOf(&*die, &type) ? TypeName(&type) : "void";
    a.source = TargetArg::Source::Dwarf;
    std::string why;
    static const DebugFunction kNoFunction;
    if (!Place(e, *d, in ? *in : kNoFunction, at, *die, a, &why, module)) return error(v, why);
    spec.args.push_back(std::move(a));
  });
}

}  // namespace

void KernelDwarfTargets(Elab& e, Probe& p) {
  ProbeSpec& spec = p.spec;
  bool dwarf_args = false;
  std::set<std::string> known;
  for (const TargetArg& a : spec.args) {
    known.insert(a.name);
    dwarf_args |= a.source == TargetArg::Source::Dwarf;
  }
  // The $names the body reads that BTF does not give.
  std::vector<std::pair<std::string, SourceRange>> wanted;
  for (ast::Node* root : {static_cast<ast::Node*>(p.body), static_cast<ast::Node*>(p.condition)})
    ast::WalkTree(root, [&](ast::Node* n) {
      auto* t = ast::As<ast::TargetSymbol>(n);
      if (!t || t->name.size() < 2 || t->name[1] == '$') return;
      std::string name(t->name.substr(1));
      if (!known.count(name) && (name != "return" || !spec.is_return)) {
        known.insert(name);
        wanted.push_back({name, t->range});
      }
    });
  bool at_vars = false;
  ForEachAtVar(p, [&](ast::AtVar*) { at_vars = true; });
  if (!dwarf_args && wanted.empty() && !at_vars) return;
  // Where an @var cannot be placed, it says why (for $names, resolve_symbols does).
  auto no_at_vars = [&](const std::string& why) {
    ForEachAtVar(p, [&](ast::AtVar* v) { AtVarError(e, p, v, why); });
  };
  // A module's function (`MODULE:NAME`): the module's DWARF describes it.
  size_t colon = spec.target.find(':');
  std::string module = colon == std::string::npos ? "" : spec.target.substr(0, colon);
  KernelDwarf& kd = module.empty() ? e.machine.kernel_dwarf() : e.machine.module_dwarf(module);
  DebugInfo* d = kd.dwarf();
  if (!d)
    return no_at_vars("it needs the " + std::string(module.empty() ? "kernel's" : "module's") +
                      " DWARF: " + kd.error());
  std::optional<DebugFunction> f;
  uint64_t at = spec.address;
  if (spec.die) {
    f = kd.ByDie(spec.die);
  } else if (std::vector<DebugFunction> fs = kd.Named(spec.function); fs.size() == 1) {
    f = fs[0];
    at = f->entry;  // a kprobe on a function's name fires at its first instruction
  }
  if (!f) {
    // Several copies, each with its own locations (resolve_symbols reports $names) and
    // unit: an @var that names no file or module is in one of those units.
    std::set<std::string> have;
    for (const TargetArg& a : spec.args) have.insert(a.name);
    ForEachAtVar(p, [&](ast::AtVar* v) {
      if (v->has_module || v->target_name.find('@') != std::string_view::npos) return;
      if (have.insert(AtVarKey(*v)).second)
        AtVarError(e, p, v,
                   "`" + spec.function +
                       "` has several copies, each with its own unit; name "
                       "the file, as @var(\"" +
                       std::string(v->target_name) + "@FILE\")");
    });
    if (spec.build_id.empty()) {
      std::string why;
      spec.build_id = e.machine.kernel_build_id(&why);
    }
    return PlaceAtVars(e, p, module, nullptr, 0, {}, have);
  }
  // Register and stack locations are this build's: btaprun checks the kernel's build id.
  if (spec.build_id.empty()) {
    std::string why;
    spec.build_id = e.machine.kernel_build_id(&why);
  }
  if (spec.is_return) {
    // DWARF's parameters where the function starts (LowerTargets reads them as @entry
    // values), $return in rax; @var anywhere (a fixed address is the same at any place).
    std::vector<DebugVariable> vars = d->Variables(*f, f->entry, true);
    for (TargetArg& a : spec.args) {
      if (a.source != TargetArg::Source::Dwarf || a.value) continue;
      std::string why;
      if (a.name == "return") {
        PlaceReturn(e, *d, *f, a);
        continue;
      }
      for (const DebugVariable& v : vars)
        if (v.parameter && v.name == a.name) {
          Place(e, *d, *f, f->entry, v.die, a, &why, module);
          break;
        }
    }
    std::erase_if(spec.args, [](const TargetArg& a) {
      return a.source == TargetArg::Source::Dwarf && !a.value;
    });
    std::set<std::string> have;
    for (const TargetArg& a : spec.args) have.insert(a.name);
    PlaceAtVars(e, p, module, &*f, f->entry, vars, have);
    return;
  }
  if (!wanted.empty())
    AddDwarfVariables(kd, *f, at, true, spec);  // a name out of reach is reported below
  // A name that is no local nor parameter: a variable of the function's unit (stap's
  // `$jiffies`-style globals).
  std::vector<DebugVariable> vars = d->Variables(*f, at, true);
  std::set<std::string> have;
  for (const TargetArg& a : spec.args) have.insert(a.name);
  Dwarf_Die type;
  for (auto& [name, range] : wanted)
    for (DebugVariable& v : vars)
      if (v.global && v.name == name && have.insert(name).second) {
        TargetArg a;
        a.name = name;
        a.c_type = TypeOf(&v.die, &type) ? TypeName(&type) : "void";
        a.source = TargetArg::Source::Dwarf;
        spec.args.push_back(std::move(a));
      }
  PlaceAtVars(e, p, module, &*f, at, vars, have);
  for (TargetArg& a : spec.args) {
    if (a.source != TargetArg::Source::Dwarf || a.value) continue;
    for (const DebugVariable& v : vars) {
      if (v.name != a.name) continue;
      std::string why;
      if (!Place(e, *d, *f, at, v.die, a, &why, module)) {
        for (auto& [name, range] : wanted)
          if (name == a.name)
            e.diags.Report(Diag::TargetVariableError, range, {"$" + a.name, spec.point, why});
      }
      break;
    }
  }
  // What could not be placed is not a variable of this probe.
  std::erase_if(spec.args, [](const TargetArg& a) {
    return a.source == TargetArg::Source::Dwarf && !a.value;
  });
}

void KernelAtVars(Elab& e, Probe& p) {
  bool any = false;
  ForEachAtVar(p, [&](ast::AtVar*) { any = true; });
  if (!any) return;
  switch (p.spec.family) {
    case Family::Begin:
    case Family::End:
    case Family::Error:
      ForEachAtVar(p, [&](ast::AtVar* v) {
        AtVarError(e, p, v,
                   "this probe runs in btap's user space, which cannot read kernel memory");
      });
      return;
    default:
      break;
  }
  // Addresses from DWARF are this build's: btaprun checks the kernel's build id.
  if (p.spec.build_id.empty()) {
    std::string why;
    p.spec.build_id = e.machine.kernel_build_id(&why);
  }
  std::set<std::string> have;
  for (const TargetArg& a : p.spec.args) have.insert(a.name);
  PlaceAtVars(e, p, "", nullptr, 0, {}, have);
}

}  // namespace btap::sema
