// Array slices: `*` standing for any value of some key parts. `[k, *] in a` is true when
// some element's key has the given parts; `foreach ([x, y] in a[k, *])` visits only those
// elements. (`delete a[k, *]` is DeleteMatching, lower_stmt.cpp.) A kernel probe walks the
// map with bpf_for_each_map_elem; a user-side one walks foreach's snapshot of it.
#include "codegen/lowering.h"
#include "common/user_helpers.h"

namespace btap::codegen::lowering {

// [k, *] in a. The kernel stops at the first match; the user side walks the whole
// snapshot, which frees it.
Value Lowering::SliceMember(const ast::ArrayIndex* a) {
  auto* s = ast::As<ast::Symbol>(a->base);
  auto it = s && s->var ? globals_.find(s->var) : globals_.end();
  if (it == globals_.end() || !it->second.map) {
    Unsupported(a->range, "this membership test");
    return nullptr;
  }
  const GlobalInfo& g = it->second;
  uint32_t want_at = TempBytes(g.key_size), found_at = TempBytes(8);
  if (!Key(a, g, ScratchAt(want_at))) return nullptr;
  b_.CreateStore(b_.getInt64(0), ScratchAt(found_at));
  if (frame_->user_side) {
    Value key = ScratchAt(TempBytes(g.key_size));
    Value value = ScratchAt(TempBytes(g.value_size));
    Value iter =
        Helper(user_helper::kForeachBegin, i64_,
               {g.map, b_.getInt64(user_helper::ForeachHow(g.meta_index, 0, 0)), b_.getInt64(-1)});
    auto* head = llvm::BasicBlock::Create(context_, "member_walk", frame_->fn);
    auto* each = llvm::BasicBlock::Create(context_, "member_each", frame_->fn);
    auto* match = llvm::BasicBlock::Create(context_, "member_match", frame_->fn);
    auto* done = llvm::BasicBlock::Create(context_, "member_done", frame_->fn);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    b_.CreateCondBr(Truth(Helper(user_helper::kForeachNext, i64_, {iter, key, value})), each, done);
    b_.SetInsertPoint(each);
    b_.CreateCondBr(KeyMatches(a->indexes, g, key, ScratchAt(want_at)), match, head);
    b_.SetInsertPoint(match);
    b_.CreateStore(b_.getInt64(1), ScratchAt(found_at));
    b_.CreateBr(head);
    b_.SetInsertPoint(done);
    return b_.CreateLoad(i64_, ScratchAt(found_at));
  }
  // The callback sets the flag in its handler's scratch and stops at the first match.
  Frame frame;
  MapCallback c = BeginMapCallback("slice_member", a->range, frame);
  llvm::Function* fn = c.fn;
  frame.exit = llvm::BasicBlock::Create(context_, "stop", fn);
  auto* run = llvm::BasicBlock::Create(context_, "run", fn);
  auto* match = llvm::BasicBlock::Create(context_, "match", fn);
  auto* next_element = llvm::BasicBlock::Create(context_, "next", fn);
  b_.CreateCondBr(c.has_scratch, run, frame.exit);
  b_.SetInsertPoint(frame.exit);
  b_.CreateRet(b_.getInt64(1));
  b_.SetInsertPoint(next_element);
  b_.CreateRet(b_.getInt64(0));
  b_.SetInsertPoint(run);
  b_.CreateCondBr(KeyMatches(a->indexes, g, fn->getArg(1), ScratchAt(want_at)), match,
                  next_element);
  b_.SetInsertPoint(match);
  b_.CreateStore(b_.getInt64(1), ScratchAt(found_at));
  b_.CreateRet(b_.getInt64(1));
  EndMapCallback(c, frame);
  Helper(kForEachMapElem, i64_, {g.map, fn, llvm::ConstantPointerNull::get(ptr_), b_.getInt64(0)});
  return b_.CreateLoad(i64_, ScratchAt(found_at));
}

// The slice's given parts, evaluated once before the walk (after `limit`, as stap does),
// in the handler's scratch, where a kernel foreach's callback finds them too.
uint32_t Lowering::SliceKey(ast::Foreach* f, const GlobalInfo& g) {
  uint32_t want_at = TempBytes(g.key_size);
  KeyOf(f->slice, f->range, g, ScratchAt(want_at));
  return want_at;
}

// stap counts an element that the slice then skips against `limit`: `limit` cuts the
// (sorted) array first, and the slice filters what is left.
void Lowering::SkipUnsliced(ast::Foreach* f, const GlobalInfo& g, Value key, uint32_t want_at,
                            llvm::BasicBlock* skip) {
  auto* sliced = llvm::BasicBlock::Create(context_, "sliced", frame_->fn);
  b_.CreateCondBr(KeyMatches(f->slice, g, key, ScratchAt(want_at)), sliced, skip);
  b_.SetInsertPoint(sliced);
}

}  // namespace btap::codegen::lowering
