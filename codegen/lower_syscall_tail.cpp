// Syscall bodies reached by tail call: a run of programs that each ran heavy syscalls:*
// bodies, or many syscall.* bodies, for their own numbers becomes one dispatcher on
// raw_syscalls and programs loaded but not attached, that the dispatcher reaches through a
// program array.
#include <cassert>

#include "codegen/lowering.h"

namespace btap::codegen::lowering {
// A raw_syscalls program at `at`'s line (a load error names its point), its builder in its
// entry block.
llvm::Function* Lowering::SyscallTailProgram(bool is_return, const std::string& name,
                                             const llvm::DISubprogram* at) {
  auto* type = llvm::FunctionType::get(b_.getInt32Ty(), {ptr_}, false);
  auto* fn = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, name, module_);
  fn->setSection(std::string("raw_tp/") + (is_return ? "sys_exit" : "sys_enter"));
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->getArg(0)->setName("ctx");
  b_.SetCurrentDebugLocation(at ? maps_.Describe(*fn, at->getLine(), at->getFile())
                                : maps_.Describe(*fn, 1, nullptr));
  b_.SetInsertPoint(llvm::BasicBlock::Create(context_, "entry", fn));
  return fn;
}

// The attached program of a run: it tail-calls slot `nr` of the run's program array
// (numbers past the run's reach none), and makes no other call.
Lowering::SyscallRun Lowering::EmitSyscallDispatcher(
    bool is_return, const std::vector<std::vector<SyscallBody>>& run, int part,
    uint32_t chain_slots, const llvm::DISubprogram* at) {
  std::vector<SyscallBody> all;
  int64_t span = 0;
  for (const std::vector<SyscallBody>& chunk : run)
    for (const SyscallBody& body : chunk) {
      assert(body.nr >= 0);
      span = std::max(span, body.nr + 1);
      all.push_back(body);
    }
  SyscallRun r{SyscallProgramMeta(is_return, all, part), "", nullptr, span};
  r.map_name = "btap_tail_" + r.mp.program;
  r.map =
      maps_.Define({r.map_name, kMapProgArray, static_cast<uint32_t>(span) + chain_slots, 4, 4});
  llvm::Function* dispatcher = SyscallTailProgram(is_return, r.mp.program, at);
  Value ctx = dispatcher->getArg(0);
  Value nr = DispatchNumber(ctx, is_return, all);
  auto* call = llvm::BasicBlock::Create(context_, "dispatch", dispatcher);
  auto* done = llvm::BasicBlock::Create(context_, "done", dispatcher);
  b_.CreateCondBr(b_.CreateICmpULT(nr, b_.getInt64(span)), call, done);
  b_.SetInsertPoint(call);
  Helper(kTailCall, i64_, {ctx, r.map, b_.CreateTrunc(nr, b_.getInt32Ty())});
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  b_.CreateRet(b_.getInt32(0));
  return r;
}

void Lowering::EmitSyscallTailDispatch(bool is_return,
                                       const std::vector<std::vector<SyscallBody>>& run, int part) {
  auto [mp, map_name, map, span] = EmitSyscallDispatcher(
      is_return, run, part, static_cast<uint32_t>(run.size()), run[0][0].fn->getSubprogram());
  auto tail_call = [&, map = map](Value ctx, Value slot) {
    Helper(kTailCall, i64_, {ctx, map, slot});
  };

  std::set<int64_t> reached;  // numbers whose first body program has its slot
  for (size_t k = 0; k < run.size(); ++k) {
    const std::vector<SyscallBody>& chunk = run[k];
    std::string name = mp.program + "_tail" + std::to_string(k);
    llvm::Function* fn = SyscallTailProgram(is_return, name, chunk[0].fn->getSubprogram());
    Value body_ctx = fn->getArg(0);
    // The next program of the run with a body for the same number, per number.
    std::map<int64_t, size_t> next;
    std::set<size_t> successors;
    for (const SyscallBody& body : chunk)
      for (size_t j = k + 1; j < run.size() && !next.count(body.nr); ++j)
        for (const SyscallBody& later : run[j])
          if (later.nr == body.nr) {
            next[body.nr] = j;
            successors.insert(j);
            break;
          }
    std::set<int64_t> numbers;
    for (const SyscallBody& body : chunk) numbers.insert(body.nr);
    bool one_way = successors.size() == 1 && next.size() == numbers.size();
    // (The number is read before the body, whose inlining splits this block: an alloca
    // after it would not be in the entry block.)
    Value body_nr = one_way || next.empty() ? Value{} : DispatchNumber(body_ctx, is_return, chunk);
    std::vector<Value> call_args = {body_ctx};  // (a heavy body is never merged: no more)
    call_args.insert(call_args.end(), chunk[0].args.begin(), chunk[0].args.end());
    b_.CreateCall(chunk[0].fn, call_args);
    if (one_way) {
      tail_call(body_ctx, b_.getInt32(static_cast<uint32_t>(span + *successors.begin())));
    } else if (!next.empty()) {
      auto* after = llvm::BasicBlock::Create(context_, "chained", fn);
      llvm::SwitchInst* chain = b_.CreateSwitch(body_nr, after);
      for (const auto& [number, j] : next) {
        auto* block = llvm::BasicBlock::Create(context_, "nr" + std::to_string(number), fn);
        chain->addCase(b_.getInt64(number), block);
        b_.SetInsertPoint(block);
        tail_call(body_ctx, b_.getInt32(static_cast<uint32_t>(span + j)));
        b_.CreateBr(after);
      }
      b_.SetInsertPoint(after);
    }
    b_.CreateRet(b_.getInt32(0));
    meta_.tail_slots.push_back({map_name, static_cast<uint32_t>(span + k), name, chunk[0].point});
    for (int64_t number : numbers)
      if (reached.insert(number).second)
        meta_.tail_slots.push_back({map_name, static_cast<uint32_t>(number), name, chunk[0].point});
  }
  meta_.probes.push_back(std::move(mp));
}

// Programs of many bodies each (`syscall.*` past one program's inlining weight, its bodies
// subprograms, 48 to a program) each ran for every system call, only to find in their
// switch whether the number is theirs. When no number is in two of them, one dispatcher
// takes the run's place in the attach order and tail-calls the program that holds the
// call's number (slot = the number), which runs as before: a call runs two programs there,
// not one per part. A part program makes BPF-to-BPF calls but no tail call, and the
// dispatcher the reverse, so neither mixes the two (which would limit the stack, and which
// the kernel refuses without the JIT).
void Lowering::EmitSyscallPartDispatch(bool is_return,
                                       const std::vector<std::vector<SyscallBody>>& run, int part) {
  auto [mp, map_name, map, span] = EmitSyscallDispatcher(is_return, run, part, 0, nullptr);
  for (size_t k = 0; k < run.size(); ++k) {
    std::string name = mp.program + "_part" + std::to_string(k);
    EmitSyscallSwitch(is_return, run[k], name);
    std::set<int64_t> numbers;
    for (const SyscallBody& body : run[k]) numbers.insert(body.nr);
    for (int64_t number : numbers)
      meta_.tail_slots.push_back({map_name, static_cast<uint32_t>(number), name, run[k][0].point});
  }
  meta_.probes.push_back(std::move(mp));
}

}  // namespace btap::codegen::lowering
