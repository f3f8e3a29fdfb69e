// Statistics in the kernel's copy: what each variable keeps (ScanStatistics: the one
// histogram its uses ask for, and the slots of its value that some reader needs) and
// `<<<` (Accumulate), which updates those alone.
#include "codegen/lowering.h"
#include "frontend/ast_walk.h"

namespace btap::codegen::lowering {

stats::Op Lowering::AggregateOf(ast::AtWord word) {
  switch (word) {
    case ast::AtWord::Sum:
      return stats::Op::Sum;
    case ast::AtWord::Min:
      return stats::Op::Min;
    case ast::AtWord::Max:
      return stats::Op::Max;
    case ast::AtWord::Avg:
      return stats::Op::Avg;
    case ast::AtWord::Variance:
      return stats::Op::Variance;
    default:
      return stats::Op::Count;
  }
}

// Readers, as stap's translator collects them: the aggregates (@count ... @variance), a
// foreach sorted by an array's values (by @count without an @op), and, in DefineGlobal, the
// exit print of a global the script never reads. A histogram needs its buckets alone. No
// other reader exists: a statistic is no value (it cannot be passed, printed or copied).
void Lowering::ScanStatistics() {
  auto histogram = [&](ast::HistOp* h) {
    const sema::Variable* v = AggregateVar(h->operand);
    if (!v) return;
    stats::Shape shape;
    if (h->op == ast::AtWord::HistLog) {
      shape.hist = stats::Hist::Log;
    } else {
      int64_t span = 0;
      if (h->params.size() != 3 || h->params[2] <= 0 || h->params[1] <= h->params[0] ||
          __builtin_sub_overflow(h->params[1], h->params[0], &span) || span / h->params[2] > 1000) {
        Unsupported(h->range, "this histogram",
                    ": it needs start < stop, an interval > 0 and at most 1000 buckets");
        return;
      }
      shape.hist = stats::Hist::Linear;
      shape.start = h->params[0];
      shape.stop = h->params[1];
      shape.interval = h->params[2];
    }
    auto [it, added] = shapes_.emplace(v, shape);
    if (!added && (it->second.hist != shape.hist || it->second.start != shape.start ||
                   it->second.stop != shape.stop || it->second.interval != shape.interval))
      Unsupported(h->range, "a second kind of histogram of `" + std::string(v->name) + "`",
                  "; a statistics variable keeps one histogram");
  };
  auto visit = [&](ast::Node* n) {
    if (auto* h = ast::As<ast::HistOp>(n)) return histogram(h);
    if (auto* s = ast::As<ast::StatOp>(n)) {
      if (const sema::Variable* v = AggregateVar(s->operand))
        slots_read_[v] |= stats::SlotsRead(AggregateOf(s->op));
      return;
    }
    auto* f = ast::As<ast::Foreach>(n);
    auto* array = f ? ast::As<ast::Symbol>(f->array) : nullptr;
    if (array && array->var && f->sort_direction != 0 && f->sort_column == 0)
      slots_read_[array->var] |= stats::SlotsRead(AggregateOf(f->sort_aggregate));
  };
  for (const sema::Probe* p : program_.probes) {
    ast::WalkTree(p->body, visit);
    ast::WalkTree(p->condition, visit);
  }
  for (const sema::Function* f : program_.functions)
    if (f->decl && f->decl->body) ast::WalkTree(f->decl->body, visit);
}

// The statistics variable or element an aggregate names: its map and key.
bool Lowering::StatsPlace(ast::Expr* operand, const GlobalInfo** info, Value* key) {
  const sema::Variable* v = AggregateVar(operand);
  auto it = v ? globals_.find(v) : globals_.end();
  if (it == globals_.end() || !it->second.stats || !it->second.map) return false;
  *info = &it->second;
  if (auto* a = ast::As<ast::ArrayIndex>(operand)) {
    *key = Key(a, it->second);
    return *key != nullptr;
  }
  Value zero = StackTemp(4);
  b_.CreateStore(b_.getInt32(0), zero);
  *key = zero;
  return true;
}

Value Lowering::Slot(Value value, uint32_t slot) {
  return b_.CreateConstGEP1_64(i64_, value, slot);
}

// x <<< v: this CPU's copy of the value is updated (no other CPU writes it).
void Lowering::Accumulate(ast::Assign* a) {
  const GlobalInfo* g = nullptr;
  Value key = nullptr;
  if (!StatsPlace(a->lhs, &g, &key)) {
    Unsupported(a->range, "this `<<<`");
    return;
  }
  Value v = Expr(a->rhs);
  Value value = Helper(kMapLookup, ptr_, {g->map, key});
  if (ast::Is<ast::ArrayIndex>(a->lhs)) {
    // A new element starts from zeros.
    auto* create = llvm::BasicBlock::Create(context_, "new", frame_->fn);
    auto* have = llvm::BasicBlock::Create(context_, "have", frame_->fn);
    auto* entry_end = b_.GetInsertBlock();
    b_.CreateCondBr(b_.CreateIsNull(value), create, have);
    b_.SetInsertPoint(create);
    Helper(kMapUpdate, i64_, {g->map, key, Zeros(), b_.getInt64(kNoExist)});
    Value created = Helper(kMapLookup, ptr_, {g->map, key});
    Check(b_.CreateIsNotNull(created),
          "Array overflow, check MAXMAPENTRIES" +
              Near("identifier", ArrayName(ast::As<ast::ArrayIndex>(a->lhs)), a->lhs->range));
    auto* create_end = b_.GetInsertBlock();
    b_.CreateBr(have);
    b_.SetInsertPoint(have);
    auto* phi = b_.CreatePHI(ptr_, 2);
    phi->addIncoming(value, entry_end);
    phi->addIncoming(created, create_end);
    value = phi;
  } else {
    Continue(b_.CreateIsNotNull(value), "stats");
  }
  // Only the slots some reader needs (ScanStatistics): a statistic read by its histogram
  // alone updates its count and one bucket.
  auto kept = [&](stats::Slot slot) { return (g->kept & stats::SlotBit(slot)) != 0; };
  Value count = b_.CreateLoad(i64_, Slot(value, stats::kCount));
  b_.CreateStore(b_.CreateAdd(count, b_.getInt64(1)), Slot(value, stats::kCount));
  if (kept(stats::kSum))
    b_.CreateStore(b_.CreateAdd(b_.CreateLoad(i64_, Slot(value, stats::kSum)), v),
                   Slot(value, stats::kSum));
  if (kept(stats::kSumSquares))
    b_.CreateStore(
        b_.CreateAdd(b_.CreateLoad(i64_, Slot(value, stats::kSumSquares)), b_.CreateMul(v, v)),
        Slot(value, stats::kSumSquares));
  Value first = b_.CreateICmpEQ(count, b_.getInt64(0));
  if (kept(stats::kMin)) {
    Value min = b_.CreateLoad(i64_, Slot(value, stats::kMin));
    b_.CreateStore(b_.CreateSelect(b_.CreateOr(first, b_.CreateICmpSLT(v, min)), v, min),
                   Slot(value, stats::kMin));
  }
  if (kept(stats::kMax)) {
    Value max = b_.CreateLoad(i64_, Slot(value, stats::kMax));
    b_.CreateStore(b_.CreateSelect(b_.CreateOr(first, b_.CreateICmpSGT(v, max)), v, max),
                   Slot(value, stats::kMax));
  }
  if (g->shape.hist == stats::Hist::None) return;
  Value bucket = Bucket(v, g->shape);
  Value at = b_.CreateGEP(i64_, value, b_.CreateAdd(bucket, b_.getInt64(stats::kBuckets)));
  b_.CreateStore(b_.CreateAdd(b_.CreateLoad(i64_, at), b_.getInt64(1)), at);
}

// The histogram bucket of v, bounded so that the verifier can see it.
Value Lowering::Bucket(Value v, const stats::Shape& shape) {
  if (shape.hist == stats::Hist::Log) {
    Value negative = b_.CreateICmpSLT(v, b_.getInt64(0));
    Value magnitude = b_.CreateSelect(negative, b_.CreateNeg(v), v);
    // floor(log2(magnitude)) by halving (LLVM's BPF backend cannot lower ctlz).
    Value log2 = b_.getInt64(0);
    // The shifted value is the test too (not a compare with 2^shift), as hand-written C
    // does: one shift and one branch a step.
    for (int shift : {32, 16, 8, 4, 2, 1}) {
      Value shifted = b_.CreateLShr(magnitude, shift);
      Value high = b_.CreateICmpNE(shifted, b_.getInt64(0));
      magnitude = b_.CreateSelect(high, shifted, magnitude);
      log2 = b_.CreateSelect(high, b_.CreateAdd(log2, b_.getInt64(shift)), log2);
    }
    Value up = b_.CreateAdd(log2, b_.getInt64(stats::kLogZero + 1));
    Value down = b_.CreateSub(b_.getInt64(stats::kLogZero - 1), log2);
    Value index = b_.CreateSelect(negative, down, up);
    index =
        b_.CreateSelect(b_.CreateICmpEQ(v, b_.getInt64(0)), b_.getInt64(stats::kLogZero), index);
    return b_.CreateAnd(index, b_.getInt64(stats::kLogBuckets - 1));
  }
  uint32_t buckets = shape.Buckets();
  Value below = b_.CreateICmpSLT(v, b_.getInt64(shape.start));
  Value offset = b_.CreateSub(v, b_.getInt64(shape.start));
  Value index = b_.CreateAdd(b_.CreateUDiv(offset, b_.getInt64(shape.interval)), b_.getInt64(1));
  index = b_.CreateSelect(b_.CreateICmpUGT(index, b_.getInt64(buckets - 1)),
                          b_.getInt64(buckets - 1), index);
  index = b_.CreateSelect(below, b_.getInt64(0), index);
  // The verifier needs a bound it can see: a mask that changes nothing.
  return b_.CreateAnd(index, b_.getInt64(NextPow2(buckets) - 1));
}

Value Lowering::Zeros() {
  if (!zeros_) {
    zeros_ = new llvm::GlobalVariable(module_, llvm::ArrayType::get(b_.getInt8Ty(), 1), true,
                                      llvm::GlobalValue::InternalLinkage, nullptr, "zeros");
    zeros_->setSection(".rodata");
    zeros_->setAlignment(llvm::Align(8));
  }
  return zeros_;
}

}  // namespace btap::codegen::lowering
