// Lowering calls of recursive script functions (semantic/recursion.cpp marks those on a
// cycle of calls). Only probes that the runtime's interpreter runs reach them: each is a
// BPF function of its own, placed in the calling probe's section (the interpreter runs
// one section) and called with a BPF-to-BPF call, so each call has its own frame, whose
// stack holds its locals and string temporaries. MAXNESTING bounds the depth, as in stap.
#include "codegen/lowering.h"

namespace btap::codegen::lowering {
namespace {

// The interpreter's frame is 8 KiB (runtime/interpreter.h): a recursive function's
// temporaries and locals must leave room for its spills and call blocks.
constexpr uint32_t kRecursiveFrameBytes = 6144;

}  // namespace

// A function's call: its arguments are the probe's context, its scratch space (records
// are built there and written out at once), a block on the caller's stack (the result,
// then each argument: a long, or the address of a string, which the callee copies), and
// the depth of calls so far, and where an error's message goes when a caller's `try`
// catches it (or null). It returns 0; 1 when the probe must end (an error reported,
// `next`); 2 when an error's message went to the caller's `try`.
Value Lowering::RecursiveCall(ast::Call* c) {
  const sema::Function* f = c->callee;
  if (!frame_->user_side) {
    // A begin/end/error probe or timer that semantic checks let through, placed in the
    // kernel (it reads kernel memory or the interrupted task).
    failed_ = true;
    const sema::Probe* p = frame_->probe     ? frame_->probe
                           : frame_->handler ? frame_->handler->probe
                                             : nullptr;
    if (reported_.insert({c->name_range.file, c->name_range.begin}).second)
      diags_.Report(Diag::RecursiveCall, c->name_range,
                    {std::string(f->name), !p                  ? "?"
                                           : p->origin.empty() ? p->spec.point
                                                               : p->origin});
    return f->ret == Type::String ? StringSlot() : b_.getInt64(0);
  }
  std::vector<Value> args;
  for (ast::Expr* a : c->args) args.push_back(Expr(a));
  llvm::Function* fn = RecursiveFunction(f);
  if (!fn) return f->ret == Type::String ? StringSlot() : b_.getInt64(0);
  Locate(c->name_range);
  // stap checks on the callee's entry, so its error names the function's declaration.
  if (frame_->depth)
    Check(b_.CreateICmpULT(frame_->depth, b_.getInt64(options_.max_nesting)),
          "MAXNESTING exceeded" + Near("identifier", f->name, f->decl->name_range));
  uint32_t result = f->ret == Type::String ? slot_ : 8;
  llvm::AllocaInst* io =
      Alloca(llvm::ArrayType::get(b_.getInt8Ty(), result + 8 * f->params.size()));
  io->setAlignment(llvm::Align(8));
  frame_->call_bytes += result + 8 * static_cast<uint32_t>(f->params.size());
  for (size_t i = 0; i < f->params.size() && i < args.size(); ++i) {
    if (!args[i]) continue;
    Value at = b_.CreateConstGEP1_64(b_.getInt8Ty(), io, result + 8 * i);
    if (f->params[i]->type == Type::String && args[i]->getType() == i64_)
      args[i] = Literal("");  // (a type error reported before codegen)
    b_.CreateStore(args[i], at);
  }
  // Inside a `try` (here, or around a call that led here), an error in the call goes to
  // that `try`'s handler.
  Value catch_to = nullptr;
  if (!frame_->handlers.empty()) {
    catch_to = frame_->handlers.back().message;
    if (!catch_to) catch_to = StringSlot();
  } else if (frame_->catch_message) {
    catch_to = frame_->catch_message;
  }
  Value ctx = frame_->ctx ? frame_->ctx : llvm::ConstantPointerNull::get(ptr_);
  Value depth = frame_->depth ? frame_->depth : b_.getInt64(0);
  Value status = b_.CreateCall(fn, {ctx, frame_->scratch, io, depth,
                                    catch_to ? catch_to : llvm::ConstantPointerNull::get(ptr_)});
  auto* returned = llvm::BasicBlock::Create(context_, "returned", frame_->fn);
  auto* failed = llvm::BasicBlock::Create(context_, "call_failed", frame_->fn);
  b_.CreateCondBr(b_.CreateICmpEQ(status, b_.getInt64(0)), returned, failed);
  b_.SetInsertPoint(failed);
  if (catch_to) {
    auto* caught = llvm::BasicBlock::Create(context_, "caught", frame_->fn);
    b_.CreateCondBr(b_.CreateICmpEQ(status, b_.getInt64(2)), caught, frame_->exit);
    b_.SetInsertPoint(caught);
    if (!frame_->handlers.empty())
      b_.CreateBr(frame_->handlers.back().handler);
    else
      b_.CreateRet(b_.getInt64(2));  // to this call's own caller, whose `try` catches it
  } else {
    b_.CreateBr(frame_->exit);
  }
  b_.SetInsertPoint(returned);
  if (f->ret == Type::String) return io;
  return b_.CreateLoad(i64_, io);
}

// The function for `f` in the calling probe's section: made (and its body lowered) on
// its first call there.
llvm::Function* Lowering::RecursiveFunction(const sema::Function* f) {
  std::string section = frame_->fn->getSection().str();
  auto [it, fresh] = recursive_functions_.try_emplace({section, f}, nullptr);
  if (!fresh) return it->second;
  auto* type = llvm::FunctionType::get(i64_, {ptr_, ptr_, ptr_, i64_, ptr_}, false);
  std::string program = section.substr(section.find('/') + 1);
  // Local, so that its calls are resolved within the section, without relocations
  // (libbpf takes calls only into .text; seal.h's HideUserSideFunctions hides it from
  // libbpf, which would take it for a program of its own).
  auto* fn = llvm::Function::Create(type, llvm::GlobalValue::InternalLinkage,
                                    UniqueName(program + "_" + std::string(f->name)), module_);
  fn->setSection(section);
  fn->addFnAttr(llvm::Attribute::NoInline);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  it->second = fn;
  DefineRecursive(f, fn);
  return fn;
}

void Lowering::DefineRecursive(const sema::Function* f, llvm::Function* fn) {
  llvm::IRBuilderBase::InsertPointGuard guard(b_);
  Frame* outer = frame_;
  Frame frame;
  frame.probe = outer->probe;
  frame.user_side = true;
  frame.ctx = fn->getArg(0);
  frame.scratch = fn->getArg(1);
  // The probe's last match (matched(), ngroups()): its calls read and set the probe's, as
  // inlined functions do (stap's is per context).
  frame.last_match = outer->last_match;
  frame.regex_work = outer->regex_work;
  frame_ = &frame;
  SourceRange at = f->decl->range;
  unsigned line = sm_.file(at.file).Locate(at.begin).line;
  b_.SetCurrentDebugLocation(maps_.Describe(*fn, line, FileFor(at.file)));
  BeginFunctionFrame(frame, fn, b_.getInt64(1));
  // This call's temporaries (strings, keys): on its own stack, sized once the body is
  // lowered. Records still go to the probe's scratch space.
  frame.temps = b_.CreateAlloca(llvm::ArrayType::get(b_.getInt8Ty(), 8), nullptr, "temps");
  frame.temps->setAlignment(llvm::Align(8));
  frame.depth = b_.CreateAdd(fn->getArg(3), b_.getInt64(1), "depth");
  frame.catch_message = fn->getArg(4);

  Scope scope;
  scope.function = f;
  scope.return_block = llvm::BasicBlock::Create(context_, "return", fn);
  Value io = fn->getArg(2);
  uint32_t result = f->ret == Type::String ? slot_ : 8;
  scope.result = io;
  if (f->ret == Type::String)
    b_.CreateStore(b_.getInt8(0), io);
  else
    b_.CreateStore(b_.getInt64(0), io);
  frame.scopes.push_back(&scope);
  for (size_t i = 0; i < f->params.size(); ++i) {
    const sema::Variable* param = f->params[i];
    DeclareLocal(scope, param);
    Value storage = scope.vars[param];
    if (!storage) continue;
    Value from = b_.CreateConstGEP1_64(b_.getInt8Ty(), io, result + 8 * i);
    if (param->type == Type::String)
      CopyString(storage, b_.CreateLoad(ptr_, from));
    else
      b_.CreateStore(b_.CreateLoad(i64_, from), storage);
  }
  for (const sema::Variable* v : f->locals) DeclareLocal(scope, v);
  Stmt(f->decl->body);
  b_.CreateBr(scope.return_block);
  b_.SetInsertPoint(scope.return_block);
  b_.CreateRet(b_.getInt64(0));
  for (llvm::BasicBlock& block : *fn)
    if (!block.getTerminator()) llvm::BranchInst::Create(frame.exit, &block);
  frame.temps->setAllocatedType(llvm::ArrayType::get(b_.getInt8Ty(), std::max(frame.max, 8u)));
  uint32_t locals = 8 * static_cast<uint32_t>(f->params.size() + f->locals.size());
  if (frame.max + frame.stack_temp_bytes + frame.call_bytes + locals > kRecursiveFrameBytes) {
    failed_ = true;
    diags_.Report(Diag::NotCompiledYet, f->decl->range,
                  {"the recursive function `" + std::string(f->name) + "`",
                   ": its strings and temporaries need more than the " +
                       std::to_string(kRecursiveFrameBytes) +
                       " bytes of stack a call has; make MAXSTRINGLEN smaller, or split it"});
  }
  frame_ = outer;
}

}  // namespace btap::codegen::lowering
