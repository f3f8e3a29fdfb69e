// The syscall tapset's programs: every syscall probe's body dispatched on the call's
// number from one program per direction on raw_syscalls (see lowering.h).
#include <bpf/btf.h>

#include <cassert>
#include <iterator>

#include "codegen/core_access.h"
#include "codegen/lowering.h"
#include "codegen/merge_bodies.h"
#include "semantic/machine/syscalls.h"
#include "semantic/machine/syscalls_i386.h"

namespace btap::codegen::lowering {
// The programs on raw_syscalls:sys_enter (or sys_exit) for every syscall probe: a switch
// on the number (LLVM makes it a binary search) calls the bodies for that call, and the
// bodies for every call run too, each in script order. A few bodies are inlined. Many
// (`syscall.*` has one per call) become subprograms, since one program's jumps reach at
// most 32K instructions; and as a program may have 256 subprograms, they are spread over
// programs of kBodiesPerProgram, attached in order.
void Lowering::EmitSyscallDispatch(bool is_return, const std::vector<SyscallBody>& given) {
  // Bodies for numbers that compute the same share one function (the first), and the
  // switch one case for them: a probe on many syscalls:* points whose body does not
  // depend on the point (`kernel.trace("syscalls:sys_enter_*") { c[execname()]++ }`) is
  // one body, not a copy per call that LLVM optimises and selects again (360 of them were
  // ~0.5 s of CPU). Compared within a structural hash, against a few of its functions.
  constexpr size_t kComparedPerHash = 8;
  std::vector<SyscallBody> bodies = given;
  llvm::GlobalNumberState globals;
  std::map<uint64_t, std::vector<llvm::Function*>> by_hash;
  std::map<llvm::Function*, llvm::Function*> shared;
  for (SyscallBody& body : bodies) {
    if (body.nr < 0) continue;
    auto known = shared.find(body.fn);
    if (known == shared.end()) {
      std::vector<llvm::Function*>& alike =
          by_hash[llvm::FunctionComparator::functionHash(*body.fn)];
      auto same = std::find_if(alike.begin(), alike.end(),
                               [&](llvm::Function* f) { return SameBody(*f, *body.fn, globals); });
      llvm::Function* to = same == alike.end() ? body.fn : *same;
      if (to == body.fn && alike.size() < kComparedPerHash) alike.push_back(body.fn);
      known = shared.emplace(body.fn, to).first;
    }
    body.fn = known->second;
  }
  constexpr size_t kBodiesPerProgram = 48;
  constexpr uint64_t kWeightPerProgram = 500000;  // of the verifier's 1M instructions
  constexpr uint64_t kInlineWeight = 100000;      // well inside 32K-instruction jumps
  // Bodies the same but for the constants they store (a name literal's words in a key,
  // a printf's format id: a generated probe per point) are one function taking them,
  // always called: inlined, each case would be a copy that LLVM optimises again. Heavy
  // bodies keep programs of their own (below) and stay apart.
  std::vector<llvm::Function*> order;
  std::set<llvm::Function*> ordered;
  for (const SyscallBody& body : bodies)
    if (body.nr >= 0 && ordered.insert(body.fn).second) order.push_back(body.fn);
  std::map<llvm::Function*, BodyCall> merged = MergeByStoredConstants(
      order, [](const llvm::Function& fn) { return VerifierWeight(fn) <= kInlineWeight; });
  std::set<llvm::Function*> called;
  for (SyscallBody& body : bodies) {
    if (body.nr < 0) continue;
    const BodyCall& call = merged.at(body.fn);
    body.fn = call.fn;
    body.args = call.args;
    if (!call.args.empty()) called.insert(call.fn);
  }
  std::set<llvm::Function*> distinct;
  for (const SyscallBody& body : bodies) distinct.insert(body.fn);
  uint64_t total = 0;  // by call site: a body may be called for several numbers
  for (const SyscallBody& body : bodies) total += VerifierWeight(*body.fn);
  // Small bodies stay inlined even when there are many: one program, no calls but those
  // of the merged bodies above.
  bool inline_bodies = total <= kInlineWeight;
  for (llvm::Function* fn : distinct)
    fn->addFnAttr(inline_bodies && !called.count(fn) ? llvm::Attribute::AlwaysInline
                                                     : llvm::Attribute::NoInline);
  // The programs in attach order; a heavy event body's chunk is marked.
  std::vector<std::pair<std::vector<SyscallBody>, bool>> programs;
  std::vector<SyscallBody> chunk;
  std::set<llvm::Function*> in_chunk;
  uint64_t weight = 0;
  // A syscalls:* event's heavy body keeps a program to itself, as its tracepoint gave it
  // (the guess above is rough, and such bodies were written for a whole program each).
  bool alone = false;
  for (size_t i = 0; i <= bodies.size(); ++i) {
    bool fresh = i < bodies.size() && !in_chunk.count(bodies[i].fn);
    uint64_t more = fresh ? VerifierWeight(*bodies[i].fn) : 0;
    // (A merged body is called with its constants: never a program of its own, even if
    // the row's loads took it past the limit.)
    bool heavy = fresh && bodies[i].event && more > kInlineWeight && bodies[i].args.empty();
    bool full = fresh && !inline_bodies && !chunk.empty() &&
                (in_chunk.size() == kBodiesPerProgram || weight + more > kWeightPerProgram ||
                 heavy || alone);
    if (i == bodies.size() || full) {
      // A heavy event body is the whole program, as its tracepoint's was (no call frame
      // on top of the dispatcher's).
      if (alone) {
        chunk[0].fn->removeFnAttr(llvm::Attribute::NoInline);
        chunk[0].fn->addFnAttr(llvm::Attribute::AlwaysInline);
      }
      programs.emplace_back(std::move(chunk), alone);
      chunk.clear();
      in_chunk.clear();
      weight = 0;
      alone = false;
      if (i == bodies.size()) break;
    }
    chunk.push_back(bodies[i]);
    in_chunk.insert(bodies[i].fn);
    weight += more;
    alone = alone || heavy;
  }
  // Consecutive heavy bodies' programs each ran for their own numbers only: one program
  // in their place reaches the ones for the call's number by tail call (lower_syscall_tail.cpp),
  // in the same order, so that a call runs two programs there, not one per body.
  int part = 0;
  size_t i = 0;
  // Programs i..end as one run; i moves past it.
  auto take_run = [&](size_t end) {
    std::vector<std::vector<SyscallBody>> run;
    for (; i < end; ++i) run.push_back(std::move(programs[i].first));
    return run;
  };
  while (i < programs.size()) {
    size_t end = i;
    std::map<int64_t, size_t> chain;  // programs of the run per number
    while (end < programs.size() && programs[end].second) {
      bool room = true;
      for (const SyscallBody& body : programs[end].first)
        room = room && chain[body.nr] < kMaxTailChain;
      if (!room) break;
      std::set<int64_t> numbers;
      for (const SyscallBody& body : programs[end].first) numbers.insert(body.nr);
      for (int64_t nr : numbers) ++chain[nr];
      ++end;
    }
    if (end - i >= 2) {
      EmitSyscallTailDispatch(is_return, take_run(end), part++);
      continue;
    }
    // Programs of many bodies (`syscall.*`): each ran for every call of the machine to find
    // its own numbers in its switch; a run whose programs share no number (a body for every
    // call shares all) is reached through one dispatcher instead.
    std::set<int64_t> taken;
    end = i;
    for (; end < programs.size() && !programs[end].second; ++end) {
      bool apart = true;
      for (const SyscallBody& body : programs[end].first)
        apart = apart && body.nr >= 0 && !taken.count(body.nr);
      if (!apart) break;
      for (const SyscallBody& body : programs[end].first) taken.insert(body.nr);
    }
    if (end - i >= 2) {
      EmitSyscallPartDispatch(is_return, take_run(end), part++);
      continue;
    }
    EmitSyscallProgram(is_return, programs[i].first, part++);
    ++i;
  }
}

// A system call the script names (`syscall.openat`, directly or through aliases), not
// one of a wildcard's matches nor an optional point's: the loading kernel must have it.
void Lowering::NoteNamedSyscall(const sema::Probe& p) {
  if (p.spec.syscall.empty() || p.may_be_absent) return;
  for (const meta::NamedSyscall& s : meta_.syscalls)
    if (s.name == p.spec.syscall) return;
  meta_.syscalls.push_back({p.spec.syscall, p.origin, Location(p.point_range)});
}

// A rough guess of the instructions the verifier walks for one body: its own, and for
// each runtime-library loop the rounds it checks (escaping: tens of thousands).
uint64_t Lowering::VerifierWeight(const llvm::Function& fn) {
  uint64_t weight = 0;
  for (const llvm::BasicBlock& block : fn)
    for (const llvm::Instruction& insn : block) {
      weight += 4;
      auto* call = llvm::dyn_cast<llvm::CallInst>(&insn);
      const llvm::Function* callee = call ? call->getCalledFunction() : nullptr;
      if (!callee) continue;
      llvm::StringRef name = callee->getName();
      // An argument vector is copied in one loop and escaped in another.
      weight += name.startswith("btap_user_arg") ? 120000
                : name.endswith("_loop")         ? 60000
                : name.startswith("btap_")       ? 4000
                                                 : 0;
    }
  return weight;
}

// A syscall program's metadata: says which points it runs: the script's point when its
// events are all there are (a load error names it), else what the program dispatches.
// (`-v` adds what it runs on.)
meta::Probe Lowering::SyscallProgramMeta(bool is_return, const std::vector<SyscallBody>& bodies,
                                         int part) {
  meta::Probe mp;
  mp.family = static_cast<uint8_t>(meta::ProbeKind::Tracepoint);
  mp.target = is_return ? "raw_syscalls:sys_exit" : "raw_syscalls:sys_enter";
  size_t events = 0;
  std::set<std::string> points;
  for (const SyscallBody& body : bodies) {
    events += body.event;
    if (body.event) points.insert(body.point);
  }
  std::string family = is_return ? "syscalls:sys_exit_*" : "syscalls:sys_enter_*";
  auto count = [](size_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  if (events == bodies.size() && points.size() == 1)
    mp.point = *points.begin() + (events == 1 ? "" : " (" + count(events, "event") + ")");
  else if (events == bodies.size())
    mp.point = family + " dispatch (" + count(events, "event") + ")";
  else
    mp.point = std::string(is_return ? "syscall return" : "syscall") + " dispatch (" +
               count(bodies.size(), "probe") +
               (events ? ", " + std::to_string(events) + " of them " + family + " events" : "") +
               ")";
  mp.program = std::string(is_return ? "syscall_exit" : "syscall_enter") +
               (part ? "_" + std::to_string(part + 1) : "");
  return mp;
}

// The call's number: sys_enter's second argument; sys_exit has none, it is the saved
// orig_ax (-1 when unreadable). In a dispatcher's entry block, or in a handler's frame
// (its slot among the frame's allocas).
Value Lowering::SyscallNumber(Value ctx, bool is_return) {
  if (!is_return) return b_.CreateLoad(i64_, b_.CreateConstGEP1_64(i64_, ctx, 1));
  Value regs = b_.CreateLoad(ptr_, ctx);
  Value tmp = frame_ ? Alloca(i64_) : b_.CreateAlloca(i64_);
  b_.CreateStore(b_.getInt64(-1), tmp);
  Helper(kProbeReadKernel, i64_,
         {tmp, b_.getInt32(8), b_.CreateConstGEP1_64(b_.getInt8Ty(), regs, syscall_orig_ax_)});
  return b_.CreateLoad(i64_, tmp);
}

void Lowering::EmitSyscallProgram(bool is_return, const std::vector<SyscallBody>& bodies,
                                  int part) {
  meta::Probe mp = SyscallProgramMeta(is_return, bodies, part);
  EmitSyscallSwitch(is_return, bodies, mp.program);
  meta_.probes.push_back(std::move(mp));
}

llvm::Function* Lowering::EmitSyscallSwitch(bool is_return, const std::vector<SyscallBody>& bodies,
                                            const std::string& name) {
  size_t events = 0;
  for (const SyscallBody& body : bodies) events += body.event;
  auto* type = llvm::FunctionType::get(b_.getInt32Ty(), {ptr_}, false);
  auto* fn = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, name, module_);
  fn->setSection(std::string("raw_tp/") + (is_return ? "sys_exit" : "sys_enter"));
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->getArg(0)->setName("ctx");
  // At its first body's probe when it runs syscalls:* points alone: an error in the
  // program (its stack) is reported there, as the point's own program's was. (A program
  // with syscall.* bodies too is reported as the dispatch.)
  const llvm::DISubprogram* first =
      events == bodies.size() ? bodies[0].fn->getSubprogram() : nullptr;
  b_.SetCurrentDebugLocation(first ? maps_.Describe(*fn, first->getLine(), first->getFile())
                                   : maps_.Describe(*fn, 1, nullptr));
  auto* entry = llvm::BasicBlock::Create(context_, "entry", fn);
  b_.SetInsertPoint(entry);
  Value ctx = fn->getArg(0);
  auto* none = llvm::BasicBlock::Create(context_, "none", fn);
  Value nr = DispatchNumber(ctx, is_return, bodies, none);
  // Consecutive numbered bodies share one switch; a body for every call stands alone.
  llvm::BasicBlock* current = b_.GetInsertBlock();
  for (size_t i = 0; i < bodies.size();) {
    b_.SetInsertPoint(current);
    if (bodies[i].nr < 0) {
      b_.CreateCall(bodies[i++].fn, {ctx});
      continue;
    }
    size_t end = i;
    while (end < bodies.size() && bodies[end].nr >= 0) ++end;
    auto* after = llvm::BasicBlock::Create(context_, "dispatched", fn);
    llvm::SwitchInst* dispatch = b_.CreateSwitch(nr, after);
    // The bodies per number in script order; numbers with the same calls (bodies shared
    // by EmitSyscallDispatch) share one case block.
    using Call = std::pair<llvm::Function*, std::vector<Value>>;
    std::vector<int64_t> numbers;
    std::map<int64_t, std::vector<Call>> calls;
    for (size_t j = i; j < end; ++j) {
      std::vector<Call>& to = calls[bodies[j].nr];
      if (to.empty()) numbers.push_back(bodies[j].nr);
      to.emplace_back(bodies[j].fn, bodies[j].args);
    }
    std::map<std::vector<Call>, llvm::BasicBlock*> blocks;
    for (int64_t number : numbers) {
      llvm::BasicBlock*& block = blocks[calls[number]];
      if (!block) {
        block = llvm::BasicBlock::Create(context_, "nr" + std::to_string(number), fn);
        b_.SetInsertPoint(block);
        for (const auto& [body, args] : calls[number]) {
          std::vector<Value> with = {ctx};
          with.insert(with.end(), args.begin(), args.end());
          b_.CreateCall(body, with);
        }
        b_.CreateBr(after);
      }
      dispatch->addCase(b_.getInt64(number), block);
    }
    current = after;
    i = end;
  }
  b_.SetInsertPoint(current);
  b_.CreateBr(none);
  b_.SetInsertPoint(none);
  b_.CreateRet(b_.getInt32(0));
  return fn;
}

// The kernel's syscalls:* events skip compat calls (int 0x80 and the ia32 entries:
// trace_get_syscall_nr() is -1 while in_ia32_syscall(), that is while the task's
// thread_info.status has TS_COMPAT); raw_syscalls, which a syscalls:* point's body runs
// on, sees them with their i386 numbers. (x32 calls carry __X32_SYSCALL_BIT in their
// number, which no dispatch case matches, as it is past the kernel's NR_syscalls.) Read
// by CO-RE through the current task's BTF pointer, as ppid() is. Null where the kernel's
// BTF lacks the field: semantic then keeps a syscalls:* point on its classic tracepoint
// (HasTaskCompatStatus), and the syscall tapset's bodies go without the test.
Value Lowering::CompatSyscall() {
  constexpr uint64_t kTsCompat = 0x0002;  // arch/x86/include/asm/thread_info.h
  const struct btf* btf = program_.kernel.btf ? program_.kernel.btf() : nullptr;
  int32_t task_type = btf ? btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT) : -1;
  KernelMember info, status;
  bool found = task_type > 0 &&
               FindKernelMember(btf, static_cast<uint32_t>(task_type), "thread_info", &info) &&
               FindKernelMember(btf, info.type, "status", &status);
  if (!found) return nullptr;
  assert(btf__resolve_size(btf, status.type) == 4);
  CoreAccess core(b_, maps_.di(), maps_.file(), btf, maps_.core_indexes());
  // The task and its status do not change while a program runs: LLVM may share one test
  // between a dispatcher and the bodies inlined into it (each asks for it).
  auto* task = llvm::cast<llvm::CallInst>(Helper(kCurrentTaskBtf, ptr_, {}));
  task->setDoesNotAccessMemory();
  task->setDoesNotThrow();
  task->addFnAttr(llvm::Attribute::WillReturn);
  // One chain, one relocation: the load's own offset is thread_info.status's (two steps
  // took an add of thread_info's offset, 0, before it).
  Value at = core.MemberPath(
      task, {{static_cast<uint32_t>(task_type), info}, {StripModifiers(btf, info.type), status}});
  llvm::LoadInst* flags = b_.CreateLoad(b_.getInt32Ty(), at);
  flags->setMetadata(llvm::LLVMContext::MD_invariant_load, llvm::MDNode::get(context_, {}));
  return b_.CreateICmpNE(b_.CreateAnd(flags, b_.getInt32(kTsCompat)), b_.getInt32(0));
}

// i386's fork-family calls (arch/x86/entry/syscalls/syscall_32.tbl: fork, clone, vfork,
// clone3), which a compat call carries: a 32-bit process's children start there, and a
// 64-bit one's that forks through int 0x80.
constexpr int64_t kI386ForkSyscalls[] = {2, 120, 190, 435};

std::vector<int64_t> Lowering::ForkSyscalls() const {
  std::set<int64_t> numbers(program_.kernel.fork_syscalls.begin(),
                            program_.kernel.fork_syscalls.end());
  numbers.insert(std::begin(kI386ForkSyscalls), std::end(kI386ForkSyscalls));
  if (HasCompatStatus())
    for (int64_t nr : kI386ForkSyscalls) numbers.insert(kCompatKey + nr);
  return {numbers.begin(), numbers.end()};
}

bool Lowering::HasCompatStatus() const {
  if (!compat_status_)
    compat_status_ = program_.kernel.btf && sema::HasTaskCompatStatus(program_.kernel.btf());
  return *compat_status_;
}

// A syscall tapset body (`__syscall(N)`, entry or return) of a call that i386 has with the
// same meaning (syscalls_i386.cpp) runs for that call's compat calls too, as stap's tapset
// reports them under the call's name; not where compat calls cannot be told apart. (The
// caller leaves out a return body with @entry values: its entry program is dispatched by
// the native number only.)
std::vector<int64_t> Lowering::CompatBodyNumbers(const sema::Probe& p) const {
  if (p.spec.family != sema::Family::Syscall || p.spec.raw_syscall || p.spec.syscall.empty() ||
      p.spec.numbers[0] < 0 || !HasCompatStatus())
    return {};
  std::vector<int64_t> out = sema::I386Numbers(p.spec.syscall);
  for (int64_t& nr : out) nr += kCompatKey;
  return out;
}

// The number a dispatcher switches on: a compat call's is i386's plus kCompatKey when one
// of its bodies is for compat calls (so that it reaches only those), else the plain number.
// The compat test costs a helper call and a load: with `none`, and few numbers in the
// bodies, a call whose number (by either ABI) is none of theirs branches there first, so
// that the machine's other calls leave after a compare or two.
Value Lowering::DispatchNumber(Value ctx, bool is_return, const std::vector<SyscallBody>& bodies,
                               llvm::BasicBlock* none) {
  constexpr size_t kFewNumbers = 8;
  Value nr = SyscallNumber(ctx, is_return);
  bool keyed = std::any_of(bodies.begin(), bodies.end(),
                           [](const SyscallBody& body) { return body.nr >= kCompatKey; });
  if (!keyed) return nr;
  std::set<int64_t> numbers;
  for (const SyscallBody& body : bodies)
    numbers.insert(body.nr >= kCompatKey ? body.nr - kCompatKey : body.nr);
  if (none && !numbers.count(-1) && numbers.size() <= kFewNumbers) {
    auto* ours = llvm::BasicBlock::Create(context_, "ours", b_.GetInsertBlock()->getParent());
    llvm::SwitchInst* filter = b_.CreateSwitch(nr, none);
    for (int64_t number : numbers) filter->addCase(b_.getInt64(number), ours);
    b_.SetInsertPoint(ours);
  }
  Value compat = CompatSyscall();
  if (!compat) return nr;
  // A compat number out of i386's range (the kernel sign-extends eax: int 0x80 with -1000
  // is -1000 here) must reach no body: past the key it would be a native number.
  Value key = b_.CreateSelect(b_.CreateICmpULT(nr, b_.getInt64(kCompatKey)),
                              b_.CreateAdd(nr, b_.getInt64(kCompatKey)), b_.getInt64(-1));
  return b_.CreateSelect(compat, key, nr);
}

// Whether the call is a compat one, in a body that runs for both kinds: once per handler,
// in its entry block (a helper call and a load).
Value Lowering::CompatArgs() {
  if (!frame_->compat) {
    llvm::IRBuilderBase::InsertPoint here = b_.saveIP();
    b_.SetInsertPoint(frame_->alloca_point->getNextNode());
    frame_->compat = CompatSyscall();
    b_.restoreIP(here);
  }
  return frame_->compat;
}

// A process.begin body runs for both sets of numbers (ForkSyscalls), each of which holds
// other calls of the other kind (i386 57 is setpgid, which returns 0 as a fork's child
// does; x86-64's 2 is open): a native call counts on the machine's numbers, a compat one
// on i386's (clone3 is 435 in both). Where the compat status cannot be read, every call
// counts as native (32-bit processes' children are missed).
void Lowering::ForkCallFilter() {
  Value nr = SyscallNumber(frame_->ctx, true);
  auto one_of = [&](auto begin, auto end) {
    Value any = b_.getFalse();
    for (auto at = begin; at != end; ++at)
      any = b_.CreateOr(any, b_.CreateICmpEQ(nr, b_.getInt64(*at)));
    return any;
  };
  Value fork = one_of(program_.kernel.fork_syscalls.begin(), program_.kernel.fork_syscalls.end());
  if (Value compat = CompatSyscall())
    fork = b_.CreateSelect(
        compat, one_of(std::begin(kI386ForkSyscalls), std::end(kI386ForkSyscalls)), fork);
  Continue(fork, "fork");
}

}  // namespace btap::codegen::lowering
