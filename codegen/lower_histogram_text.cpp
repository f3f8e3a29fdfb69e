// A kernel probe's sprint/sprintln of a histogram kept as a value (assigned, joined,
// compared, passed, stored, printed with a width): the handler merges every CPU's copy of
// the statistics value into scratch (btap_stats_merge_all) and bpflib/histogram.c draws
// the table into the string, as the runtime's drawing does for user-side probes and
// kernel-probe prints (one description: common/hist_format.h), cut at MAXSTRINGLEN - 1
// characters as stap's kernel runtime cuts it.
#include "codegen/lowering.h"

namespace btap::codegen::lowering {

Value Lowering::HistogramText(ast::HistOp* h, Value dst, bool line) {
  Value key = nullptr;
  const GlobalInfo* g = KernelHistogramGlobal(
      h, "the text of a histogram",
      "; the kernel draws at most that many rows: keep it in begin, end, error or "
      "task-free timer probes",
      &key);
  if (!g) return nullptr;
  const stats::Shape& shape = g->shape;
  if (++histogram_texts_ > kMaxHistogramTexts) {
    failed_ = true;
    if (reported_.insert({h->range.file, h->range.begin}).second)
      diags_.Report(Diag::CodegenLimit, h->range,
                    {"this probe draws more than " + std::to_string(kMaxHistogramTexts) +
                     " histogram tables in the kernel (sprint of a histogram kept as a value or "
                     "printed with a width), more than the kernel's verifier can walk; draw "
                     "fewer in one probe, print them with print or a plain `%s`, or make them "
                     "in an end probe"});
    return nullptr;
  }
  // Room for the largest histogram's buckets, which the library reads masked.
  Value value = ScratchAt(TempBytes(8 * (stats::kBuckets + kKernelHistogramBuckets)));
  Value count =
      Library("btap_stats_merge_all", i64_,
              {g->map, key, value, b_.CreateLoad(i64_, cpus_), b_.getInt64(shape.Slots())});
  Check(b_.CreateICmpSGT(count, b_.getInt64(0)),
        "empty aggregate" +
            Near("operator", "@" + std::string(frontend::AtWordSpelling(h->op)), h->range));
  Value counts = b_.CreateConstGEP1_64(i64_, value, stats::kBuckets);
  Library("btap_hist_text", i64_,
          {dst, counts, b_.getInt64(static_cast<uint64_t>(shape.hist)),
           b_.getInt64(static_cast<uint64_t>(shape.start)),
           b_.getInt64(static_cast<uint64_t>(shape.stop)),
           b_.getInt64(static_cast<uint64_t>(shape.interval)), b_.getInt64(shape.Buckets()),
           b_.getInt64(line ? 1 : 0), ScratchAt(TempBytes(16 * 8)), b_.getInt64(slot_),
           b_.getInt64(limit_)});
  return dst;
}

}  // namespace btap::codegen::lowering
