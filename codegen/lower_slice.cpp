// Array slices: `*` standing for any value of some key parts. `[k, *] in a` is true when
// some element's key has the given parts; `delete a[k, *]` deletes those elements;
// `foreach ([x, y] in a[k, *])` visits only them. A kernel probe walks the map with
// bpf_for_each_map_elem (MatchingWalk); a user-side one asks the runtime to scan it
// (`in`) or walks foreach's snapshot of it (`delete`, `foreach`).
#include "codegen/lowering.h"
#include "common/user_helpers.h"

namespace btap::codegen::lowering {

// Whether the parts of `key` that `a` gives (not its `*` ones) are those of `want`: each
// field compared whole, strings being zero-padded.
Value Lowering::KeyMatches(std::span<ast::Expr*> indexes, const GlobalInfo& g, Value key,
                           Value want) {
  Value same = b_.getTrue();
  auto equal = [&](llvm::Type* type, uint32_t at) {
    auto load = [&](Value base) {
      return b_.CreateLoad(type, b_.CreateConstGEP1_64(b_.getInt8Ty(), base, at));
    };
    same = b_.CreateAnd(same, b_.CreateICmpEQ(load(key), load(want)));
  };
  for (size_t k = 0; k < indexes.size() && k < g.key_offsets.size(); ++k) {
    if (!indexes[k]) continue;
    uint32_t at = g.key_offsets[k], end = at + g.key_widths[k];
    for (; at + 8 <= end; at += 8) equal(i64_, at);
    for (; at < end; ++at) equal(b_.getInt8Ty(), at);
  }
  return same;
}

// The elements of `a`'s map whose keys have the parts `a` gives, evaluated before into
// the handler's scratch at `want_at`: `matched` runs on each one's key. In the kernel a
// bpf_for_each_map_elem callback (`name`), which finds the wanted parts at the same offset
// of its handler's scratch and, when `first`, stops at the first match; on the user side a
// walk of foreach's snapshot, which runs to its end (that frees the snapshot).
void Lowering::MatchingWalk(const ast::ArrayIndex* a, const GlobalInfo& g, uint32_t want_at,
                            const std::string& name, bool first,
                            const std::function<void(Value key)>& matched) {
  if (frame_->user_side) {
    Value key = ScratchAt(TempBytes(g.key_size));
    Value value = ScratchAt(TempBytes(g.value_size));
    Value iter =
        Helper(user_helper::kForeachBegin, i64_,
               {g.map, b_.getInt64(user_helper::ForeachHow(g.meta_index, 0, 0)), b_.getInt64(-1)});
    auto* head = llvm::BasicBlock::Create(context_, name + "_walk", frame_->fn);
    auto* each = llvm::BasicBlock::Create(context_, name + "_each", frame_->fn);
    auto* match = llvm::BasicBlock::Create(context_, name + "_match", frame_->fn);
    auto* done = llvm::BasicBlock::Create(context_, name + "_done", frame_->fn);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    b_.CreateCondBr(Truth(Helper(user_helper::kForeachNext, i64_, {iter, key, value})), each, done);
    b_.SetInsertPoint(each);
    b_.CreateCondBr(KeyMatches(a->indexes, g, key, ScratchAt(want_at)), match, head);
    b_.SetInsertPoint(match);
    matched(key);
    b_.CreateBr(head);
    b_.SetInsertPoint(done);
    return;
  }
  Frame frame;
  MapCallback c = BeginMapCallback(name, a->range, frame);
  llvm::Function* fn = c.fn;
  frame.exit = c.stop;
  auto* match = llvm::BasicBlock::Create(context_, "match", fn);
  b_.CreateCondBr(KeyMatches(a->indexes, g, fn->getArg(1), ScratchAt(want_at)), match, c.next);
  b_.SetInsertPoint(match);
  matched(fn->getArg(1));
  b_.CreateBr(first ? c.stop : c.next);
  EndMapCallback(c, frame);
  Helper(kForEachMapElem, i64_, {g.map, fn, llvm::ConstantPointerNull::get(ptr_), b_.getInt64(0)});
}

// [k, *] in a. The kernel stops at the first match; the runtime scans the elements, for
// at most 64 key parts (more, rare, walk the snapshot).
Value Lowering::SliceMember(const ast::ArrayIndex* a) {
  auto* s = ast::As<ast::Symbol>(a->base);
  auto it = s && s->var ? globals_.find(s->var) : globals_.end();
  if (it == globals_.end() || !it->second.map) {
    Unsupported(a->range, "this membership test");
    return nullptr;
  }
  const GlobalInfo& g = it->second;
  uint32_t want_at = TempBytes(g.key_size);
  if (frame_->user_side && a->indexes.size() <= 64) {
    if (!Key(a, g, ScratchAt(want_at))) return nullptr;
    uint64_t parts = 0;
    for (size_t k = 0; k < a->indexes.size(); ++k)
      if (a->indexes[k]) parts |= uint64_t{1} << k;
    return Helper(user_helper::kMapMatches, i64_,
                  {g.map, ScratchAt(want_at), b_.getInt64(static_cast<int64_t>(parts))});
  }
  uint32_t found_at = TempBytes(8);
  if (!Key(a, g, ScratchAt(want_at))) return nullptr;
  b_.CreateStore(b_.getInt64(0), ScratchAt(found_at));
  // The kernel's callback sets the flag in its handler's scratch.
  MatchingWalk(a, g, want_at, "slice_member", true,
               [&](Value) { b_.CreateStore(b_.getInt64(1), ScratchAt(found_at)); });
  return b_.CreateLoad(i64_, ScratchAt(found_at));
}

// delete a[k, *]: every element whose key has the given parts (the kernel's callback
// deletes them as btap_map_clear deletes all).
void Lowering::DeleteMatching(const ast::ArrayIndex* a, const GlobalInfo& g) {
  uint32_t want_at = TempBytes(g.key_size);
  if (!Key(a, g, ScratchAt(want_at))) return;
  MatchingWalk(a, g, want_at, "delete_matching", false, [&](Value key) {
    Helper(kMapDelete, i64_, {g.map, key});
  });
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
