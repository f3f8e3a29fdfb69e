// Lowering a kernel function's target variables: parameters and $return from the kprobe's
// pt_regs, then `->member` and `[i]` through kernel memory, each member a CO-RE
// relocation (core_access.h), each read a fault-checked kernel read with stap's message.
#include <bpf/btf.h>

#include "codegen/core_access.h"
#include "codegen/lowering.h"
#include "semantic/machine/header_types.h"
#include "semantic/suggest.h"
#include "semantic/target_vars.h"

namespace btap::codegen::lowering {

Value Lowering::KernelRead(Value address, uint32_t size, bool is_signed, ast::TargetBase* t,
                           std::string_view name) {
  if (constant_layout_) {
    Unsupported(t->range, "reading kernel memory in a probe btap runs in user space",
                " (begin, end, error); addresses and sizes such as `&@cast(0, \"T\")->m` can be");
    return nullptr;
  }
  Value rc;
  Value read = ReadCell(kProbeReadKernel, b_.CreateIntToPtr(address, ptr_), size, &rc);
  CheckFormat(
      b_.CreateICmpSGE(rc, b_.getInt64(0)),
      "read fault [man error::fault] at %p" + EscapePercent(Near("identifier", name, t->range)),
      {address});
  return Extend(read, size, is_signed);
}

// A bitfield as libbpf's BPF_CORE_READ_BITFIELD_PROBED reads it: its storage's bytes
// into the low end of a zeroed u64, shifted left then right (arithmetically when signed).
Value Lowering::KernelBitfield(const CoreAccess::BitfieldInfo& info, Value base, bool is_signed,
                               ast::TargetBase* t, std::string_view name) {
  if (!frame_->read_cell) frame_->read_cell = Alloca(i64_);
  Value cell = frame_->read_cell;
  b_.CreateStore(b_.getInt64(0), cell);
  Value address = b_.CreateAdd(base, info.byte_offset);
  Value rc = Helper(
      kProbeReadKernel, i64_,
      {cell, b_.CreateTrunc(info.byte_size, b_.getInt32Ty()), b_.CreateIntToPtr(address, ptr_)});
  Value raw = b_.CreateLoad(i64_, cell);
  CheckFormat(
      b_.CreateICmpSGE(rc, b_.getInt64(0)),
      "read fault [man error::fault] at %p" + EscapePercent(Near("identifier", name, t->range)),
      {address});
  Value shifted = b_.CreateShl(raw, info.left_shift);
  return is_signed ? b_.CreateAShr(shifted, info.right_shift)
                   : b_.CreateLShr(shifted, info.right_shift);
}

// Where a relocation's member is read, keyed as libbpf names the relocation (the outer
// struct, then the members of the path), for the runtime's message when a kernel lacks it.
void Lowering::NoteCoreSite(const struct btf* btf, const std::vector<CoreAccess::Step>& path,
                            SourceRange at) {
  if (path.empty() || !at.valid()) return;
  std::string spec = KernelTypeName(btf, path[0].record);
  for (const CoreAccess::Step& s : path) spec += "." + s.member.name;
  std::string where = Location(at);
  bool guarded = core_guards_ > 0;
  for (meta::CoreSite& site : meta_.core_sites) {
    if (site.spec != spec) continue;
    if (site.guarded && !guarded) site = {std::move(spec), std::move(where), false};
    return;  // the first place it is read (unguarded if any is)
  }
  meta_.core_sites.push_back({std::move(spec), std::move(where), guarded});
}

// The members `->a->b...` named from component `*i` on, through embedded structs, as one
// path (core_access.h): it ends at the first member that is no embedded struct, with `*i`
// on it. False, with `*i` on the component, when its struct has no such member.
bool Lowering::MemberPath(const struct btf* btf, uint32_t record, const ast::TargetBase* t,
                          size_t* i, std::vector<CoreAccess::Step>* path) {
  for (;;) {
    KernelMember m;
    if (!FindKernelMember(btf, record, t->components[*i].name, &m)) return false;
    path->push_back({record, m});
    const btf_type* inner = btf__type_by_id(btf, StripModifiers(btf, m.type));
    if (!inner || !btf_is_composite(inner) || *i + 1 >= t->components.size() ||
        t->components[*i + 1].kind != ast::TargetComponent::Kind::Member)
      return true;
    record = m.type;
    ++*i;
  }
}

Value Lowering::KernelTarget(ast::TargetSymbol* t) {
  const sema::Probe& probe = *frame_->probe;
  std::string_view name = t->name.substr(t->name[0] == '$' ? 1 : 0);
  const sema::TargetArg* arg = nullptr;
  for (const sema::TargetArg& a : probe.spec.args)
    if (a.name == name) arg = &a;
  if (!arg) {
    Unsupported(t->range, "target variable `" + std::string(t->name) + "` in this probe");
    return nullptr;
  }
  // A DWARF variable's value (or, for a struct in memory, its address) was built in pass 2.
  bool dwarf = arg->source == sema::TargetArg::Source::Dwarf;
  target_range_ = t->range;
  Value value = dwarf ? Expr(arg->value)
                      : Extend(PtRegsAt(static_cast<int>(arg->offset)), arg->size, arg->is_signed);
  target_range_ = SourceRange{};
  if (!value) return nullptr;
  if (dwarf && !arg->in_memory) value = Extend(value, arg->size, arg->is_signed);
  if (t->components.empty() && !t->addressof) return value;
  const struct btf* btf = arg->btf ? arg->btf : KernelBtf();
  if (!btf || !arg->btf_type) {
    Unsupported(t->range, "member access on `" + std::string(t->name) + "`",
                "; its type is not known from kernel BTF");
    return nullptr;
  }
  module_btf_ = arg->btf;
  Value chain = KernelChain(t, t->name, value, arg->btf_type, dwarf && arg->in_memory);
  module_btf_ = nullptr;
  return chain;
}

Value Lowering::ReadKernelMember(Value address, uint32_t type, std::string_view name) {
  const struct btf* btf = KernelBtf();
  KernelMember m;
  if (!FindKernelMember(btf, type, name, &m) || m.bitfield) return nullptr;
  int64_t size = btf__resolve_size(btf, m.type);
  if (size <= 0 || size > 8) return nullptr;
  CoreAccess core(b_, maps_.di(), maps_.file(), btf, maps_.core_indexes());
  Value at = core.MemberAddress(address, type, m);
  return Extend(ReadCell(kProbeReadKernel, at, static_cast<uint32_t>(size)),
                static_cast<uint32_t>(size), false);
}

Value Lowering::ParentPid() {
  const sema::KernelFacts& k = program_.kernel;
  // With kernel BTF: current->real_parent->tgid as CO-RE accesses, loaded directly
  // through the current task's BTF pointer (the verifier follows it, and the JIT reads
  // without a helper call: ~70 ns an event less than two bpf_probe_read_kernel calls).
  if (const struct btf* btf = k.btf ? k.btf() : nullptr) {
    int32_t task_type = btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT);
    KernelMember parent_member, tgid_member;
    if (task_type > 0 &&
        FindKernelMember(btf, static_cast<uint32_t>(task_type), "real_parent", &parent_member) &&
        FindKernelMember(btf, static_cast<uint32_t>(task_type), "tgid", &tgid_member) &&
        btf__resolve_size(btf, tgid_member.type) == 4) {
      uint32_t type = static_cast<uint32_t>(task_type);
      CoreAccess core(b_, maps_.di(), maps_.file(), btf, maps_.core_indexes());
      Value current = Helper(kCurrentTaskBtf, ptr_, {});
      Value parent = b_.CreateLoad(ptr_, core.MemberAddress(current, type, parent_member));
      Value tgid = b_.CreateLoad(b_.getInt32Ty(), core.MemberAddress(parent, type, tgid_member));
      return b_.CreateZExt(tgid, i64_);
    }
  }
  Value task = Helper(kCurrentTask, i64_, {});
  Value parent = StackTemp(8);
  b_.CreateStore(b_.getInt64(0), parent);
  Helper(kProbeReadKernel, i64_,
         {parent, b_.getInt32(8), b_.CreateAdd(task, b_.getInt64(k.task_real_parent))});
  Value tgid = StackTemp(8);
  b_.CreateStore(b_.getInt64(0), tgid);
  Helper(
      kProbeReadKernel, i64_,
      {tgid, b_.getInt32(4), b_.CreateAdd(b_.CreateLoad(i64_, parent), b_.getInt64(k.task_tgid))});
  return b_.CreateAnd(b_.CreateLoad(i64_, tgid), b_.getInt64(0xffffffff));
}

// @cast(p, "struct sock"[, "kernel[:M...]"]) in kernel-side probes: p is where such a struct
// lies; a module M's types come from its split BTF.
Value Lowering::KernelCast(ast::Cast* c) {
  if (!program_.kernel.btf || !program_.kernel.btf()) {
    Unsupported(c->range, "`@cast` to a kernel type", "; the kernel's BTF cannot be read");
    return nullptr;
  }
  // stap's "kernel<linux/fs.h>" compiles the headers in the kernel's build tree; btap has
  // the kernel's types from its BTF, so the headers only need to be well formed.
  for (size_t at = 0, end = 0; at <= c->module.size(); at = end + 1) {
    end = std::min(c->module.find(':', at), c->module.size());
    std::string_view part = c->module.substr(at, end - at);
    std::vector<std::string> headers;
    std::string why;
    if (part.find('<') != std::string_view::npos && !sema::HeaderList(part, &headers, &why)) {
      failed_ = true;
      diags_.Report(Diag::CodegenLimit, c->range, {why});
      return nullptr;
    }
  }
  const struct btf* btf = nullptr;
  uint32_t id = sema::KernelCastType(program_.kernel, c->module, c->type_name, &btf);
  if (!id) {
    failed_ = true;
    std::string where = "the kernel has no type `" + std::string(c->type_name) + "`";
    if (c->module.find('<') != std::string_view::npos)
      where += " (btap reads the types of `kernel<...>` headers from the kernel's BTF)";
    std::vector<std::string_view> modules = sema::KernelCastModules(c->module);
    std::string named;
    for (std::string_view m : modules)
      if (!m.empty() && m != "kernel")
        named += (named.empty() ? "`" : ", `") + std::string(m) + "`";
    if (!named.empty()) {
      where = "no type `" + std::string(c->type_name) + "` in the kernel or in module" +
              (named.find(',') == std::string::npos ? " " : "s ") + named;
      // A module with no BTF here is the likelier cause: say which.
      for (std::string_view m : modules)
        if (!m.empty() && m != "kernel" &&
            !(program_.kernel.module_btf && program_.kernel.module_btf(m)))
          where += "; module `" + std::string(m) + "` is not loaded (or has no BTF)";
    }
    diags_.Report(Diag::CodegenLimit, c->range, {where});
    return nullptr;
  }
  Value base = Expr(c->operand);
  if (!base) return nullptr;
  // A module's type is read through its split BTF (CO-RE against that module).
  const struct btf* outer = module_btf_;
  module_btf_ = btf == program_.kernel.btf() ? outer : btf;
  Value chain = KernelChain(c, "@cast", base, id, true);
  module_btf_ = outer;
  return chain;
}

// Applies `->member` and `[i]` to `value`, of BTF type `type` (or, with `is_address`, the
// address where a value of that type lies).
Value Lowering::KernelChain(ast::TargetBase* t, std::string_view name, Value value, uint32_t type,
                            bool is_address) {
  const struct btf* btf = KernelBtf();
  auto fail = [&](SourceRange at, const std::string& message) -> Value {
    failed_ = true;
    diags_.Report(Diag::CodegenLimit, at, {message});
    return nullptr;
  };
  CoreAccess core(b_, maps_.di(), maps_.file(), btf, maps_.core_indexes());
  for (size_t i = 0; i < t->components.size(); ++i) {
    const ast::TargetComponent& c = t->components[i];
    const btf_type* now = btf__type_by_id(btf, StripModifiers(btf, type));
    if (c.kind == ast::TargetComponent::Kind::PrettyPrint)
      return fail(c.range, "the `$`/`$$` suffixes on kernel values cannot be compiled yet");
    if (c.kind == ast::TargetComponent::Kind::Member) {
      uint32_t record = 0;
      if (now && btf_is_ptr(now)) {
        record = now->type;  // through a pointer
      } else if (now && btf_is_composite(now) && is_address) {
        record = type;  // an embedded struct: `->` names its member too, as in stap
      } else {
        return fail(c.range, "`->" + std::string(c.name) + "` on `" + std::string(name) +
                                 "`, whose type is " + KernelTypeName(btf, type) +
                                 ", not a pointer to a struct or union");
      }
      // libbpf finds a relocation's struct by name in the target kernel: an unnamed one
      // starts it through the typedef that names it (`typedef struct { ... } pte_t`); one
      // with no typedef either cannot.
      if (!constant_layout_) {
        if (KernelRootName(btf, record).empty())
          return fail(c.range, "`->" + std::string(c.name) + "` on " + KernelTypeName(btf, type) +
                                   ": members of an unnamed kernel struct cannot be read "
                                   "portably yet (no CO-RE relocation can start there)");
      }
      std::vector<CoreAccess::Step> path;
      if (!MemberPath(btf, record, t, &i, &path)) {
        const ast::TargetComponent& step = t->components[i];
        uint32_t in = path.empty() ? record : path.back().member.type;
        std::vector<std::string> names = KernelMemberNames(btf, in);
        // An unnamed struct is named by the member that holds it (`shared` of union
        // futex_key), with what it has: kernels drop and rename such members.
        std::string what = KernelTypeName(btf, in);
        const btf_type* inner = btf__type_by_id(btf, StripModifiers(btf, in));
        if (inner && inner->name_off == 0 && !path.empty())
          what = "`" + path.back().member.name + "` (" + what + " in " +
                 KernelTypeName(btf, path.back().record) + ")";
        std::string hint = sema::DidYouMean(sema::Similar(step.name, {names.begin(), names.end()}));
        if (hint.empty() && !names.empty() && names.size() <= 12) {
          hint = "; it has:";
          for (const std::string& n : names) hint += " " + n;
        }
        return fail(step.range, what + " has no member `" + std::string(step.name) + "`" + hint);
      }
      const KernelMember& m = path.back().member;
      if (m.bitfield && constant_layout_)
        return fail(t->components[i].range, "reading the bitfield `" + m.name +
                                                "` in a probe btap runs in user space cannot be "
                                                "compiled yet");
      if (m.bitfield) {  // a value of its own: the chain ends here
        if (i + 1 != t->components.size() || t->addressof)
          return fail(t->components[i].range, "the bitfield `" + m.name + "` of kernel " +
                                                  KernelTypeName(btf, path.back().record) +
                                                  " has no address");
        const btf_type* bt = btf__type_by_id(btf, StripModifiers(btf, m.type));
        bool is_signed = bt && btf_is_int(bt) && (btf_int_encoding(bt) & BTF_INT_SIGNED);
        NoteCoreSite(btf, path, t->components[i].range);
        return KernelBitfield(core.Bitfield(value, path), value, is_signed, t, name);
      }
      Value address;
      if (constant_layout_) {
        uint64_t offset = 0;
        for (const CoreAccess::Step& s : path) offset += s.member.bit_offset / 8;
        address = b_.CreateAdd(value, b_.getInt64(static_cast<int64_t>(offset)));
      } else {
        NoteCoreSite(btf, path, t->components[i].range);
        address = b_.CreatePtrToInt(core.MemberPath(value, path), i64_);
      }
      type = m.type;
      const btf_type* member = btf__type_by_id(btf, StripModifiers(btf, type));
      bool last = i + 1 == t->components.size();
      if (last && t->addressof) return address;  // &$p->member
      if (member && btf_is_composite(member) && last)
        return fail(t->components[i].range, "`" + m.name + "` is a " + KernelTypeName(btf, type) +
                                                ", not a value; name one of its members");
      if (member && (btf_is_composite(member) || btf_is_array(member))) {
        value = address;  // char arrays are their address, as in stap
        is_address = true;
        continue;
      }
      int64_t size = btf__resolve_size(btf, type);
      bool is_signed = member && btf_is_int(member) && (btf_int_encoding(member) & BTF_INT_SIGNED);
      value = KernelRead(address, size > 0 && size <= 8 ? static_cast<uint32_t>(size) : 8,
                         is_signed, t, name);
      if (!value) return nullptr;  // a read where none can be (user-side probes)
      is_address = false;
      continue;
    }
    // [i]: an element of an array member, or through a pointer.
    uint32_t element = 0;
    if (now && btf_is_array(now) && is_address)
      element = btf_array(now)->type;
    else if (now && btf_is_ptr(now))
      element = now->type;
    else if (now && btf_is_composite(now) && is_address && i == 0)
      element = type;  // @cast(p, "T")[i]: the i-th T from p (@cast_sizeof's [1])
    else
      return fail(c.range, "`[...]` on `" + std::string(name) + "`, whose type is " +
                               KernelTypeName(btf, type) + ", not an array or pointer");
    int64_t size = btf__resolve_size(btf, element);
    if (size <= 0) return fail(c.range, "`[...]` on an element of unknown size");
    Value index = Expr(c.index);
    if (!index) return nullptr;
    Value address = b_.CreateAdd(value, b_.CreateMul(index, b_.getInt64(size)));
    if (t->addressof && i + 1 == t->components.size()) return address;  // &$p[i]
    type = element;
    const btf_type* e = btf__type_by_id(btf, StripModifiers(btf, type));
    if (e && (btf_is_composite(e) || btf_is_array(e))) {
      value = address;
      is_address = true;
      continue;
    }
    bool is_signed = e && btf_is_int(e) && (btf_int_encoding(e) & BTF_INT_SIGNED);
    value = KernelRead(address, size <= 8 ? static_cast<uint32_t>(size) : 8, is_signed, t, name);
    if (!value) return nullptr;
    is_address = false;
  }
  if (t->addressof && t->components.empty() && is_address) return value;  // &@cast(p, "T")
  if (t->addressof && t->components.empty())
    return fail(t->range,
                "`&" + std::string(name) + "`: a parameter is in a register, not in memory");
  return value;
}

}  // namespace btap::codegen::lowering

namespace btap::codegen::lowering {

// Registers exist in function probes, whose context is the probed task's pt_regs, and
// in perf-event probes (timer.profile, perf.*), whose context starts with the pt_regs of
// the code the event interrupted, kernel or user (read by direct loads, which the
// verifier maps onto them).
Value Lowering::ProbeRegisters(ast::Call* c, Intrinsic which) {
  const sema::Probe* probe = frame_->probe;
  bool kernel = probe && sema::IsKernelFunction(probe->spec.family);
  bool user = UserProbe(probe);
  bool sampled = probe && (probe->spec.family == sema::Family::TimerProfile ||
                           probe->spec.family == sema::Family::Perf);
  if (sampled && frame_->ctx && !frame_->user_side) return SampledRegisters(c, which);
  if (probe && probe->spec.family == sema::Family::Syscall && frame_->ctx && !frame_->user_side &&
      which != Intrinsic::probe_addr)
    return SyscallRegisters(c, which);
  bool syscall = probe && probe->spec.family == sema::Family::Syscall;
  if (!frame_->ctx || (!kernel && !user) || frame_->user_side) {
    // A probe without the interrupted code's registers (begin, end, tracepoints, timers):
    // addr() and user_mode() are 0, as stap's are there. A syscall probe's address is
    // stap's kprobe's, which a tracepoint does not have: an error.
    if ((which == Intrinsic::probe_addr && !syscall) || which == Intrinsic::user_mode)
      return b_.getInt64(0);
    Unsupported(c->range, "`" + std::string(c->name) + "`",
                which == Intrinsic::probe_addr
                    ? " outside kernel.function, process.function, timer.profile and perf probes"
                    : " outside kernel.function, process.function, syscall, timer.profile and "
                      "perf probes");
    return nullptr;
  }
  if (which == Intrinsic::user_mode) return b_.getInt64(user ? 1 : 0);
  constexpr int kIp = 128;
  if (which == Intrinsic::probe_addr) {
    // A kprobe's own function address (the ip there is past the breakpoint); at returns
    // and in uprobes, the ip: the return address, the probed instruction.
    if (kernel && !probe->spec.is_return) return Helper(kGetFuncIp, i64_, {frame_->ctx});
    return PtRegsAt(kIp);
  }
  return RegisterOrArgument(
      c, which, [&](int offset) { return PtRegsAt(offset); }, sema::kArgRegisterOffsets);
}

// register(): the pt_regs slot the call names, through `reg`; the Nth argument
// (int_arg() and the like): the register `args` gives for it, 0 for any other N.
Value Lowering::RegisterOrArgument(ast::Call* c, Intrinsic which,
                                   const std::function<Value(int)>& reg, const uint32_t* args) {
  if (which == Intrinsic::probe_register) {
    auto* n = ast::As<ast::NumberLit>(c->args[0]);
    if (!n || n->value < 0 || n->value > 160 || n->value % 8) {
      Unsupported(c->range, "a register other than a pt_regs slot");
      return nullptr;
    }
    return reg(static_cast<int>(n->value));
  }
  Value n = Arg(c, 0);
  if (!n) return nullptr;
  Value out = b_.getInt64(0);
  for (int i = 0; i < 6; ++i)
    out = b_.CreateSelect(b_.CreateICmpEQ(n, b_.getInt64(i + 1)), reg(static_cast<int>(args[i])),
                          out);
  return out;
}

Value Lowering::SampledRegisters(ast::Call* c, Intrinsic which) {
  constexpr int kIp = 128, kCs = 136;
  auto reg = [&](int offset) { return RawArg(static_cast<uint32_t>(offset) / 8); };
  if (which == Intrinsic::user_mode)
    return Bool(b_.CreateICmpEQ(b_.CreateAnd(reg(kCs), b_.getInt64(3)), b_.getInt64(3)));
  if (which == Intrinsic::probe_addr) return reg(kIp);
  return RegisterOrArgument(c, which, reg, sema::kArgRegisterOffsets);
}

// uaddr(): the user-space instruction pointer of the current task. A uprobe's, or a
// sample's that interrupted user code, is its own; elsewhere in the kernel it is where
// the task entered the kernel, from the pt_regs the kernel saved then (0 for a kernel
// thread, which never did), as stap's. The runtime's own probes (begin, end, error)
// interrupt no user code: 0, stap's "cannot be found".
Value Lowering::UserAddress(ast::Call*) {
  const sema::Probe* probe = frame_->probe;
  if (!frame_->ctx || frame_->user_side || !probe) return b_.getInt64(0);
  constexpr int kIp = 128, kCs = 136;
  if (UserProbe(probe)) return PtRegsAt(kIp);
  Value task = Helper(kCurrentTaskBtf, ptr_, {});
  Value regs = Helper(kTaskPtRegs, ptr_, {task});
  Value saved =
      ReadCell(kProbeReadKernel, b_.CreateConstGEP1_64(b_.getInt8Ty(), regs, kIp), 8, nullptr);
  if (probe->spec.family != sema::Family::TimerProfile && probe->spec.family != sema::Family::Perf)
    return saved;
  Value cs = RawArg(kCs / 8);
  Value user = b_.CreateICmpEQ(b_.CreateAnd(cs, b_.getInt64(3)), b_.getInt64(3));
  return b_.CreateSelect(user, RawArg(kIp / 8), saved);
}

// In syscall probes (stap's nd_syscall ones read int_arg(1) and the like): the user
// registers the kernel saved at the call, the arguments in the syscall ABI's order (rdi
// rsi rdx r10 r8 r9). The call runs in the kernel: user_mode() is 0.
Value Lowering::SyscallRegisters(ast::Call* c, Intrinsic which) {
  if (which == Intrinsic::user_mode) return b_.getInt64(0);
  static constexpr uint32_t kSyscallArgs[] = {112, 104, 96, 56, 72, 64};
  return RegisterOrArgument(
      c, which,
      [&](int offset) {
        sema::TargetArg saved{"", "long"};
        saved.source = sema::TargetArg::Source::Register;
        saved.offset = static_cast<uint32_t>(offset);
        return SyscallVar(saved);
      },
      kSyscallArgs);
}

// The kernel function's (or BTF raw tracepoint's) argument a target symbol names, with a
// `->member` chain: what `@defined` can decide where the object loads.
const sema::TargetArg* Lowering::KernelChainArg(ast::Expr* e) const {
  auto* t = ast::As<ast::TargetSymbol>(e);
  const sema::Probe* probe = frame_ ? frame_->probe : nullptr;
  if (!t || !probe) return nullptr;
  bool kernel = sema::IsKernelFunction(probe->spec.family) || sema::HasSlotArgs(probe->spec);
  bool member = false;
  for (const ast::TargetComponent& c : t->components)
    member |= c.kind == ast::TargetComponent::Kind::Member;
  if (!kernel || !member) return nullptr;
  std::string_view name = t->name.substr(t->name[0] == '$' ? 1 : 0);
  for (const sema::TargetArg& a : probe->spec.args)
    if (a.name == name && a.btf_type) return &a;
  return nullptr;
}

// The struct a kernel value `e` points to, when its type is known: a kernel $var's (with
// its member chain, `&$cstate->current_fh`) or @cast's (`&@cast(a, "T", "kernel:M")->fh`);
// 0 otherwise. `btf` is the BTF the type is in (a module's, or vmlinux's).
uint32_t Lowering::TypedRecord(ast::Expr* e, const struct btf** btf) const {
  const struct btf* vmlinux = program_.kernel.btf ? program_.kernel.btf() : nullptr;
  ast::TargetBase* target = nullptr;
  if (ast::Is<ast::TargetSymbol>(e) || ast::Is<ast::Cast>(e))
    target = static_cast<ast::TargetBase*>(e);
  if (!target || !vmlinux) return 0;
  uint32_t type = 0;
  *btf = vmlinux;
  if (auto* t = ast::As<ast::TargetSymbol>(e)) {
    const sema::Probe* probe = frame_ ? frame_->probe : nullptr;
    std::string_view name = t->name.substr(t->name[0] == '$' ? 1 : 0);
    if (!probe || !(sema::IsKernelFunction(probe->spec.family) || sema::HasSlotArgs(probe->spec)))
      return 0;
    for (const sema::TargetArg& a : probe->spec.args)
      if (a.name == name && a.btf_type) {
        type = a.btf_type;
        if (a.btf) *btf = a.btf;
      }
  } else if (auto* c = ast::As<ast::Cast>(e)) {
    type = sema::KernelCastType(program_.kernel, c->module, c->type_name, btf);
    // `@cast(p, "T")` is a T where p points: as a pointer to T.
    if (type && c->components.empty()) return target->addressof ? 0 : StripModifiers(*btf, type);
  }
  if (!type) return 0;
  if (!target->components.empty()) type = sema::KernelChainType(*btf, type, target->components);
  const btf_type* t = type ? btf__type_by_id(*btf, StripModifiers(*btf, type)) : nullptr;
  if (t && target->addressof) return btf_is_composite(t) ? StripModifiers(*btf, type) : 0;
  if (!t || !btf_is_ptr(t)) return 0;
  uint32_t pointee = StripModifiers(*btf, t->type);
  const btf_type* record = btf__type_by_id(*btf, pointee);
  return record && btf_is_composite(record) ? pointee : 0;
}

Value Lowering::AutocastLocal(ast::Autocast* a) {
  auto* local = ast::As<ast::Symbol>(a->operand);
  const sema::Probe* probe = frame_->probe;
  if (!local || !local->var || local->var->kind != sema::VarKind::Local || !probe) return nullptr;
  // Every assignment the probe makes to the local: one typed value, the same type each time.
  const struct btf* btf = nullptr;
  uint32_t record = 0;
  bool typed = true, any = false;
  ast::WalkTree(probe->body, [&](ast::Node* n) {
    auto* assign = ast::As<ast::Assign>(n);
    auto* to = assign ? ast::As<ast::Symbol>(assign->lhs) : nullptr;
    if (!to || to->var != local->var) return;
    const struct btf* in = nullptr;
    uint32_t r = assign->op == Tok::Assign ? TypedRecord(assign->rhs, &in) : 0;
    if (!r || (any && (r != record || in != btf))) typed = false;
    record = r;
    btf = in;
    any = true;
  });
  if (!any || !typed) return nullptr;
  Value value = Expr(a->operand);
  if (!value) return nullptr;
  const struct btf* outer = module_btf_;
  module_btf_ = btf == program_.kernel.btf() ? outer : btf;
  Value chain = KernelChain(a, local->name, value, record, true);
  module_btf_ = outer;
  return chain;
}

// Whether `t` names what a kernel probe has ($$parms, its arguments): a branch that names
// anything else (`$rq` of old kernels' sched_switch) compiles nowhere here.
bool Lowering::KnownKernelTarget(const ast::TargetSymbol* t) const {
  const sema::Probe* probe = frame_ ? frame_->probe : nullptr;
  if (!probe || t->lowered || t->name.starts_with("$$")) return true;
  bool kernel = sema::IsKernelFunction(probe->spec.family) ||
                probe->spec.family == sema::Family::Tracepoint ||
                probe->spec.family == sema::Family::Lsm;
  if (!kernel) return true;
  std::string_view name = t->name.substr(t->name[0] == '$' ? 1 : 0);
  for (const sema::TargetArg& a : probe->spec.args)
    if (a.name == name) return true;
  return false;
}

// @defined of such a chain, at load: the AND of a field-existence relocation per member
// step (0 where the loading kernel lacks one). The chain exists in the compiling kernel.
Value Lowering::KernelChainExists(ast::TargetSymbol* t, const sema::TargetArg& arg) {
  module_btf_ = arg.btf;
  const struct btf* btf = KernelBtf();
  CoreAccess core(b_, maps_.di(), maps_.file(), btf, maps_.core_indexes());
  Value all = b_.getInt64(1);
  uint32_t type = arg.btf_type;
  bool is_address = false;
  for (size_t i = 0; i < t->components.size(); ++i) {
    const ast::TargetComponent& c = t->components[i];
    const btf_type* now = btf__type_by_id(btf, StripModifiers(btf, type));
    if (!now || c.kind == ast::TargetComponent::Kind::PrettyPrint) break;
    if (c.kind == ast::TargetComponent::Kind::Index) {
      type = btf_is_ptr(now) ? now->type : btf_is_array(now) ? btf_array(now)->type : 0;
      is_address = true;
      continue;
    }
    uint32_t record = btf_is_ptr(now) ? now->type : is_address ? type : 0;
    std::vector<CoreAccess::Step> path;
    if (!record || !MemberPath(btf, record, t, &i, &path)) {
      module_btf_ = nullptr;
      return b_.getInt64(0);  // not even in the compiling kernel
    }
    type = path.back().member.type;
    const btf_type* inner = btf__type_by_id(btf, StripModifiers(btf, type));
    is_address = inner && (btf_is_composite(inner) || btf_is_array(inner));
    all = b_.CreateAnd(all, core.Exists(path));
  }
  module_btf_ = nullptr;
  return all;
}

}  // namespace btap::codegen::lowering
