// Sorted `foreach` in a kernel probe: the elements in stap's order, found one at a time.
// A bpf_loop runs one step per element (at most the map's max_entries); each step scans the
// map with bpf_for_each_map_elem for the first element strictly after the last one run, in
// the total order (sort field, then the whole key), and runs the body on a copy of it.
#include "codegen/lowering.h"

namespace btap::codegen::lowering {

namespace {

enum : int64_t { kGoOn = 0, kLeave = 2, kReturn = 3 };
constexpr uint32_t kMaxLoops = 1u << 23;  // bpf_loop's bound
enum { kPrev = 0, kBest = 1 };

}  // namespace

// What a walk sorts by and where it keeps, in its handler's scratch, the element last run
// (kPrev) and the best candidate of the scan under way (kBest).
struct Lowering::SortedWalk {
  const GlobalInfo* g = nullptr;
  enum class By { Long, String, Stats, Key } by = By::Long;
  uint32_t part = 0;  // By::Key: the key part
  bool descending = false;
  stats::Op op = stats::Op::Count;
  bool keep_value = false;  // the value is copied (sorted by, or bound)
  std::vector<meta::ValueType> keys;
  uint32_t flag_at = 0, count_at = 0, limit_at = 0, have_at[2] = {}, key_at[2] = {},
           value_at[2] = {}, rank_at[2] = {}, merged_at = 0;
};

// One side of a comparison: an element's key and value, and for statistics whether its
// aggregate exists and its value.
struct Lowering::SortSide {
  Value key = nullptr, value = nullptr, present = nullptr, rank = nullptr;
};

// <0, 0 or >0 as `a` comes before, with or after `b`: the sort field (descending when
// asked), then the key parts in order, ascending (runtime/user_side.cpp's order: signed
// longs, strings bytewise). Each comparison runs only when those before it tie.
Value Lowering::SortOrder(const SortedWalk& w, const SortSide& a, const SortSide& b) {
  auto sign = [&](Value less, Value more) {
    return b_.CreateSelect(less, b_.getInt64(-1), b_.CreateZExt(more, i64_));
  };
  auto longs = [&](Value x, Value y) {
    return sign(b_.CreateICmpSLT(x, y), b_.CreateICmpSGT(x, y));
  };
  auto strings = [&](Value x, Value y, uint32_t size) {
    Value d = Library("btap_strcmp", i64_, {x, y, b_.getInt64(size)});
    return sign(b_.CreateICmpSLT(d, b_.getInt64(0)), b_.CreateICmpSGT(d, b_.getInt64(0)));
  };
  const GlobalInfo& g = *w.g;
  auto part = [&](size_t k) {
    Value x = b_.CreateConstGEP1_64(b_.getInt8Ty(), a.key, g.key_offsets[k]);
    Value y = b_.CreateConstGEP1_64(b_.getInt8Ty(), b.key, g.key_offsets[k]);
    if (w.keys[k] == meta::ValueType::String) return strings(x, y, g.key_widths[k]);
    return longs(b_.CreateLoad(i64_, x), b_.CreateLoad(i64_, y));
  };
  Value c = nullptr;
  switch (w.by) {
    case SortedWalk::By::Long:
      c = longs(b_.CreateLoad(i64_, a.value), b_.CreateLoad(i64_, b.value));
      break;
    case SortedWalk::By::String:
      c = strings(a.value, b.value, limit_);
      break;
    case SortedWalk::By::Stats: {
      // An aggregate that does not exist (@min of no samples) comes before any that does.
      Value differ = b_.CreateICmpNE(a.present, b.present);
      c = b_.CreateSelect(differ, b_.CreateSelect(a.present, b_.getInt64(1), b_.getInt64(-1)),
                          longs(a.rank, b.rank));
      break;
    }
    case SortedWalk::By::Key:
      c = part(w.part);
      break;
  }
  if (w.descending) c = b_.CreateNeg(c);
  // The first comparison that differs decides (the sort part, tied, need not be redone).
  auto* decided = llvm::BasicBlock::Create(context_, "ordered", frame_->fn);
  auto* order = llvm::PHINode::Create(i64_, 0, "order", decided);
  for (size_t k = 0; k < w.keys.size() && k < g.key_offsets.size(); ++k) {
    if (w.by == SortedWalk::By::Key && k == w.part) continue;
    auto* tie = llvm::BasicBlock::Create(context_, "tie", frame_->fn);
    order->addIncoming(c, b_.GetInsertBlock());
    b_.CreateCondBr(b_.CreateICmpNE(c, b_.getInt64(0)), decided, tie);
    b_.SetInsertPoint(tie);
    c = part(k);
  }
  order->addIncoming(c, b_.GetInsertBlock());
  b_.CreateBr(decided);
  b_.SetInsertPoint(decided);
  return order;
}

// The stored element `which` (kPrev, kBest) as a comparison side.
Lowering::SortSide Lowering::StoredSide(const SortedWalk& w, int which) {
  SortSide s;
  s.key = ScratchAt(w.key_at[which]);
  if (w.keep_value) s.value = ScratchAt(w.value_at[which]);
  if (w.by == SortedWalk::By::Stats) {
    Value rank = ScratchAt(w.rank_at[which]);
    s.present = Truth(b_.CreateLoad(i64_, rank));
    s.rank = b_.CreateLoad(i64_, b_.CreateConstGEP1_64(b_.getInt8Ty(), rank, 8));
  }
  return s;
}

// Copies an element (`from`, whose key and value may be the map's) into stored slot `to`.
void Lowering::StoreSide(const SortedWalk& w, const SortSide& from, int to) {
  Helper(kProbeReadKernel, i64_, {ScratchAt(w.key_at[to]), b_.getInt32(w.g->key_size), from.key});
  if (w.keep_value) {
    Value value = ScratchAt(w.value_at[to]);
    if (w.g->value_size == 8)
      b_.CreateStore(b_.CreateLoad(i64_, from.value), value);
    else
      CopyString(value, from.value);
  }
  if (w.by == SortedWalk::By::Stats) {
    Value rank = ScratchAt(w.rank_at[to]);
    b_.CreateStore(Bool(from.present), rank);
    b_.CreateStore(from.rank, b_.CreateConstGEP1_64(b_.getInt8Ty(), rank, 8));
  }
  b_.CreateStore(b_.getInt64(1), ScratchAt(w.have_at[to]));
}

// A statistics element's aggregate, merged over the CPUs (stats::Aggregate's rules).
void Lowering::SortRank(const SortedWalk& w, SortSide* side) {
  const GlobalInfo& g = *w.g;
  Value merged = ScratchAt(w.merged_at);
  Library("btap_stats_merge", i64_,
          {g.map, side->key, merged, b_.CreateLoad(i64_, cpus_), b_.getInt64(-1),
           b_.getInt64(g.shape.Buckets())});
  Value n = b_.CreateLoad(i64_, Slot(merged, stats::kCount));
  Value sum = b_.CreateLoad(i64_, Slot(merged, stats::kSum));
  // Signed division by stap's rules (v3 divides unsigned only); 0 for a zero divisor.
  auto divide = [&](Value l, Value r) {
    Value zero = b_.CreateICmpEQ(r, b_.getInt64(0));
    Value ln = b_.CreateICmpSLT(l, b_.getInt64(0));
    Value rn = b_.CreateICmpSLT(r, b_.getInt64(0));
    Value la = b_.CreateSelect(ln, b_.CreateNeg(l), l);
    Value ra = b_.CreateSelect(rn, b_.CreateNeg(r), r);
    Value q = b_.CreateUDiv(la, b_.CreateSelect(zero, b_.getInt64(1), ra));
    q = b_.CreateSelect(b_.CreateXor(ln, rn), b_.CreateNeg(q), q);
    return b_.CreateSelect(zero, b_.getInt64(0), q);
  };
  Value rank = nullptr;
  Value present = b_.CreateICmpSGT(n, b_.getInt64(0));
  switch (w.op) {
    case stats::Op::Count:
      rank = n;
      present = b_.getTrue();
      break;
    case stats::Op::Sum:
      rank = sum;
      present = b_.getTrue();
      break;
    case stats::Op::Min:
      rank = b_.CreateLoad(i64_, Slot(merged, stats::kMin));
      break;
    case stats::Op::Max:
      rank = b_.CreateLoad(i64_, Slot(merged, stats::kMax));
      break;
    case stats::Op::Avg:
      rank = divide(sum, n);
      break;
    case stats::Op::Variance: {
      Value squares = b_.CreateLoad(i64_, Slot(merged, stats::kSumSquares));
      Value top = b_.CreateSub(b_.CreateMul(n, squares), b_.CreateMul(sum, sum));
      Value bottom = b_.CreateMul(n, b_.CreateSub(n, b_.getInt64(1)));
      rank =
          b_.CreateSelect(b_.CreateICmpSLT(n, b_.getInt64(2)), b_.getInt64(0), divide(top, bottom));
      break;
    }
  }
  side->present = present;
  side->rank = b_.CreateSelect(present, rank, b_.getInt64(0));
}

// The scan: a bpf_for_each_map_elem callback keeping in kBest the first element after
// kPrev (any, before the first step).
llvm::Function* Lowering::SortedScan(const SortedWalk& w, SourceRange at) {
  Frame frame;
  MapCallback c = BeginMapCallback("foreach_sorted_scan", at, frame);
  llvm::Function* fn = c.fn;
  frame.exit = c.stop;
  llvm::BasicBlock* skip = c.next;
  auto* after_prev = llvm::BasicBlock::Create(context_, "after_prev", fn);
  auto* check_best = llvm::BasicBlock::Create(context_, "check_best", fn);
  auto* before_best = llvm::BasicBlock::Create(context_, "before_best", fn);
  auto* take = llvm::BasicBlock::Create(context_, "take", fn);
  SortSide element;
  element.key = fn->getArg(1);
  element.value = fn->getArg(2);
  if (w.by == SortedWalk::By::Stats) SortRank(w, &element);
  b_.CreateCondBr(Truth(b_.CreateLoad(i64_, ScratchAt(w.have_at[kPrev]))), after_prev, check_best);
  b_.SetInsertPoint(after_prev);
  Value order = SortOrder(w, StoredSide(w, kPrev), element);
  b_.CreateCondBr(b_.CreateICmpSLT(order, b_.getInt64(0)), check_best, skip);
  b_.SetInsertPoint(check_best);
  b_.CreateCondBr(Truth(b_.CreateLoad(i64_, ScratchAt(w.have_at[kBest]))), before_best, take);
  b_.SetInsertPoint(before_best);
  order = SortOrder(w, element, StoredSide(w, kBest));
  b_.CreateCondBr(b_.CreateICmpSLT(order, b_.getInt64(0)), take, skip);
  b_.SetInsertPoint(take);
  StoreSide(w, element, kBest);
  b_.CreateBr(skip);
  EndMapCallback(c, frame);
  return fn;
}

void Lowering::KernelSortedForeach(ast::Foreach* f, const GlobalInfo& g) {
  // Pass 2 refuses writes to the array in the body (stap's rule), which would move the
  // elements this walk (it keeps no snapshot) has yet to visit.
  SortedWalk w;
  w.g = &g;
  w.descending = f->sort_direction < 0;
  w.op = AggregateOf(f->sort_aggregate);
  w.keys = meta_.globals[g.meta_index].keys;
  if (f->sort_column > 0 && size_t{f->sort_column} <= w.keys.size()) {
    w.by = SortedWalk::By::Key;
    w.part = f->sort_column - 1u;
  } else if (g.stats) {
    w.by = SortedWalk::By::Stats;
  } else {
    w.by = g.value_size == 8 ? SortedWalk::By::Long : SortedWalk::By::String;
  }
  w.keep_value = !g.stats && (w.by != SortedWalk::By::Key || f->value);

  Frame& parent = *frame_;
  Scope& outer = Top();
  w.flag_at = TempBytes(8);
  w.count_at = TempBytes(8);
  w.limit_at = TempBytes(8);
  for (int side : {kPrev, kBest}) {
    w.have_at[side] = TempBytes(8);
    w.key_at[side] = TempBytes(g.key_size);
    if (w.keep_value) w.value_at[side] = TempBytes(g.value_size);
    if (w.by == SortedWalk::By::Stats) w.rank_at[side] = TempBytes(16);
  }
  if (w.by == SortedWalk::By::Stats) w.merged_at = TempBytes(8 * (stats::kBuckets + 1));
  b_.CreateStore(b_.getInt64(kGoOn), ScratchAt(w.flag_at));
  b_.CreateStore(b_.getInt64(0), ScratchAt(w.count_at));
  b_.CreateStore(b_.getInt64(0), ScratchAt(w.have_at[kPrev]));
  b_.CreateStore(f->limit ? Expr(f->limit) : b_.getInt64(INT64_MAX), ScratchAt(w.limit_at));
  uint32_t want_at = f->has_slice ? SliceKey(f, g) : 0;

  // One step: a bpf_loop callback.
  Frame frame;
  MapCallback c = BeginMapCallback("foreach_sorted", f->range, frame, true);
  llvm::Function* fn = c.fn;
  llvm::BasicBlock *next_element = c.next, *stop = c.stop;
  Scope scope;
  ShareHandlerScope(parent, outer, frame, scope, w.flag_at, kReturn, kLeave);
  stop->moveAfter(next_element);  // as KernelForeach's
  Value count = b_.CreateLoad(i64_, ScratchAt(w.count_at));
  auto* within = llvm::BasicBlock::Create(context_, "within", fn);
  auto* found = llvm::BasicBlock::Create(context_, "found", fn);
  b_.CreateCondBr(b_.CreateICmpSLT(count, b_.CreateLoad(i64_, ScratchAt(w.limit_at))), within,
                  stop);
  b_.SetInsertPoint(within);
  b_.CreateStore(b_.getInt64(0), ScratchAt(w.have_at[kBest]));
  llvm::Function* scan = SortedScan(w, f->range);
  Helper(kForEachMapElem, i64_,
         {g.map, scan, llvm::ConstantPointerNull::get(ptr_), b_.getInt64(0)});
  b_.CreateCondBr(Truth(b_.CreateLoad(i64_, ScratchAt(w.have_at[kBest]))), found, stop);

  b_.SetInsertPoint(found);
  // Each element costs a scan of the whole array: MAXACTION bounds the elements one loop
  // visits, as it bounds a kernel `while` or `for`, so a large array is an error, not a
  // handler that holds its CPU for seconds.
  Value visited = b_.CreateAdd(count, b_.getInt64(1));
  Check(b_.CreateICmpULE(visited, b_.getInt64(options_.max_action)),
        "MAXACTION exceeded" + Near("keyword", "foreach", f->range));
  StoreSide(w, StoredSide(w, kBest), kPrev);
  b_.CreateStore(visited, ScratchAt(w.count_at));
  Value key = ScratchAt(w.key_at[kPrev]);
  if (f->has_slice) SkipUnsliced(f, g, key, want_at, next_element);  // counted by `limit`
  BindLoopKeys(f, g, key);
  if (f->value) {
    Place p;
    Value value = ScratchAt(w.value_at[kPrev]);
    if (PlaceOf(f->value, &p)) Store(p, p.is_string ? value : b_.CreateLoad(i64_, value));
  }
  scope.loops.push_back({next_element, stop});
  Stmt(f->body);
  b_.CreateBr(next_element);
  EndMapCallback(c, frame);

  uint32_t steps = std::min({std::max(g.max_entries, 1u), kMaxLoops, options_.max_action + 1});
  Helper(kLoop, i64_,
         {b_.getInt64(steps), fn, llvm::ConstantPointerNull::get(ptr_), b_.getInt64(0)});
  Value flag = b_.CreateLoad(i64_, ScratchAt(w.flag_at));
  auto* go_on = llvm::BasicBlock::Create(context_, "endforeach", parent.fn);
  llvm::SwitchInst* how = b_.CreateSwitch(flag, go_on);
  how->addCase(b_.getInt64(kLeave), parent.exit);
  if (outer.function) how->addCase(b_.getInt64(kReturn), outer.return_block);
  b_.SetInsertPoint(go_on);
}

}  // namespace btap::codegen::lowering
