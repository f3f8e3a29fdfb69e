// What each statistics variable keeps (ScanStatistics): the one histogram its uses ask
// for, and the slots of its value that some reader needs, which `<<<` then updates alone.
#include "codegen/lowering.h"
#include "frontend/ast_walk.h"

namespace btap::codegen::lowering {

namespace {

// The aggregate an @op names; @count for none (a sorted foreach without an @op).
stats::Op OpOf(ast::AtWord word) {
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

}  // namespace

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
        slots_read_[v] |= stats::SlotsRead(OpOf(s->op));
      return;
    }
    auto* f = ast::As<ast::Foreach>(n);
    auto* array = f ? ast::As<ast::Symbol>(f->array) : nullptr;
    if (array && array->var && f->sort_direction != 0 && f->sort_column == 0)
      slots_read_[array->var] |= stats::SlotsRead(OpOf(f->sort_aggregate));
  };
  for (const sema::Probe* p : program_.probes) {
    ast::WalkTree(p->body, visit);
    ast::WalkTree(p->condition, visit);
  }
  for (const sema::Function* f : program_.functions)
    if (f->decl && f->decl->body) ast::WalkTree(f->decl->body, visit);
}

}  // namespace btap::codegen::lowering
