// Histograms printed by kernel probes. The handler merges every CPU's copy of the
// statistics value whole (btap_stats_merge_all) into a buffer that holds the shape too,
// the printf record copies the buffer whole, and the runtime's `%{hist}s`
// (common/printf_format.h) prints the table, the text print() of the histogram writes in
// user-side probes. So print/println of a histogram, and print/println/printf `%s` of
// sprint/sprintln of one, work; the text kept as a value (assigned, joined, compared)
// is made in the kernel (lower_histogram_text.cpp). The
// histograms widen the largest record, and so every probe's record area: a print whose
// record passes kMaxHistogramPrintRecord with them is a located error there
// (HistogramRecordFits), and one Print refuses anyway takes no room (HistogramRecordBytes).
#include "codegen/lowering.h"

namespace btap::codegen::lowering {

namespace {

// The shape a histogram operator asks for; Hist::None when its bounds are not valid
// (ScanStatistics reports those).
stats::Shape ShapeOf(const ast::HistOp* h) {
  stats::Shape shape;
  if (h->op == ast::AtWord::HistLog) {
    shape.hist = stats::Hist::Log;
  } else if (h->params.size() == 3 && h->params[2] > 0 && h->params[1] > h->params[0] &&
             (h->params[1] - h->params[0]) / h->params[2] <= 1000) {
    shape.hist = stats::Hist::Linear;
    shape.start = h->params[0];
    shape.stop = h->params[1];
    shape.interval = h->params[2];
  }
  return shape;
}

}  // namespace

ast::HistOp* PrintedHistogram(ast::Expr* a, bool* line) {
  auto* c = ast::As<ast::Call>(a);
  if (!c || !IsPrintFamily(c) || (c->name != "sprint" && c->name != "sprintln") ||
      c->args.size() != 1 || !ast::Is<ast::HistOp>(c->args[0]))
    return nullptr;
  if (line) *line = c->name == "sprintln";
  return static_cast<ast::HistOp*>(c->args[0]);
}

uint32_t HistogramRecordBytes(const ast::Call* c) {
  // sprint and the others write no record; print/println of a histogram takes it alone
  // (Print refuses one among other arguments).
  if (c->name[0] == 's') return 0;
  bool alone = (c->name == "print" || c->name == "println") && c->args.size() == 1;
  uint32_t bytes = 0;
  for (ast::Expr* a : c->args) {
    auto* h = ast::As<ast::HistOp>(a);
    if (h && !alone) return 0;
    if (!h) h = PrintedHistogram(a, nullptr);
    if (!h) continue;
    stats::Shape shape = ShapeOf(h);
    if (shape.hist == stats::Hist::None || shape.Buckets() > kKernelHistogramBuckets) return 0;
    bytes += 8 + 8 * (4 + shape.Slots());  // the length, the padding, the shape and the value
  }
  return bytes;
}

// Whether a kernel probe's print (Print) keeps its record within
// kMaxHistogramPrintRecord with its histograms; a located error when not.
bool Lowering::HistogramRecordFits(ast::Call* c) {
  uint32_t size = PrintRecordBytes(c, true);
  if (!HistogramRecordBytes(c) || size <= kMaxHistogramPrintRecord) return true;
  failed_ = true;
  if (reported_.insert({c->range.file, c->range.begin}).second)
    diags_.Report(Diag::CodegenLimit, c->range,
                  {"this print's record, with its histograms, takes " + std::to_string(size) +
                   " bytes, more than the " + std::to_string(kMaxHistogramPrintRecord) +
                   " a kernel-side print may write (" + std::to_string(HistogramRecordBytes(c)) +
                   " of them the histograms'); print the histograms in separate statements, "
                   "use fewer buckets, or a smaller MAXSTRINGLEN for the strings"});
  return false;
}

// The buffer `%{hist}s` prints: its length, 4 bytes of padding, the shape as four longs
// and the merged value. The record copies it whole (fixed_values_).
const GlobalInfo* Lowering::KernelHistogramGlobal(ast::HistOp* h, const std::string& what,
                                                  const std::string& hint, Value* key) {
  const GlobalInfo* g = nullptr;
  if (!StatsPlace(h->operand, &g, key)) {
    Unsupported(h->range, "this aggregate");
    return nullptr;
  }
  if (g->shape.Buckets() > kKernelHistogramBuckets) {
    Unsupported(h->range,
                what + " of more than " + std::to_string(kKernelHistogramBuckets) +
                    " buckets in a kernel-side probe",
                hint);
    return nullptr;
  }
  return g;
}

Value Lowering::KernelHistogram(ast::HistOp* h) {
  Value key = nullptr;
  const GlobalInfo* g = KernelHistogramGlobal(
      h, "printing a histogram", "; print it in begin, end, error or task-free timer probes", &key);
  if (!g) return nullptr;
  const stats::Shape& shape = g->shape;
  uint32_t bytes = 4 + 8 * (4 + shape.Slots());
  Value buf = ScratchAt(TempBytes(4 + bytes));
  b_.CreateStore(b_.getInt32(bytes), buf);
  Value words = b_.CreateConstGEP1_64(b_.getInt8Ty(), buf, 8);
  int64_t head[4] = {static_cast<int64_t>(shape.hist), shape.start, shape.stop, shape.interval};
  for (uint32_t i = 0; i < 4; ++i)
    b_.CreateStore(b_.getInt64(static_cast<uint64_t>(head[i])),
                   b_.CreateConstGEP1_64(i64_, words, i));
  Value value = b_.CreateConstGEP1_64(i64_, words, 4);
  Value count =
      Library("btap_stats_merge_all", i64_,
              {g->map, key, value, b_.CreateLoad(i64_, cpus_), b_.getInt64(shape.Slots())});
  Check(b_.CreateICmpSGT(count, b_.getInt64(0)),
        "empty aggregate" +
            Near("operator", "@" + std::string(frontend::AtWordSpelling(h->op)), h->range));
  fixed_values_[buf] = bytes;
  return buf;
}

// The directives that print the histograms among a kernel probe's print arguments (the
// indexes in `tables`, sprintln's in `lines`) become `%{hist}s` in a group; one with a
// width, precision or flag prints the text made in the kernel instead (HistogramText).
// False after a located error.
bool Lowering::HistogramDirectives(ast::Call* c, std::string* format,
                                   const std::vector<size_t>& tables,
                                   const std::vector<bool>& lines, std::span<ast::Expr*> rest,
                                   std::vector<Value>& args) {
  std::vector<FormatDirective> directives;
  std::string error;
  size_t offset = 0;
  if (!ParseFormat(*format, directives, &error, &offset, /*internal=*/true)) return true;
  std::vector<std::pair<size_t, size_t>> edits;  // a directive's offset and length
  std::vector<bool> edit_lines;
  size_t next = 0;
  for (const FormatDirective& d : directives) {
    if (d.literal || d.group != FormatDirective::Group::None) continue;
    if (d.rendering == FormatDirective::Rendering::Task) continue;
    next += (d.width == -2) + (d.precision == -2);
    size_t i = next++;
    auto it = std::find(tables.begin(), tables.end(), i);
    if (it == tables.end()) continue;
    if (d.conversion != 's' || d.flag || d.width != -1 || d.precision != -1 ||
        d.rendering != FormatDirective::Rendering::AsIs || d.symbolic != Symbolic::None) {
      // A width, flag or other conversion: the text made in the kernel, a string as any.
      bool line = false;
      ast::HistOp* h = PrintedHistogram(rest[i], &line);
      args[i] = HistogramText(h, StringSlot(), line);
      if (!args[i]) return false;
      continue;
    }
    edits.push_back({static_cast<size_t>(d.text.data() - format->data()), d.text.size()});
    edit_lines.push_back(lines[static_cast<size_t>(it - tables.begin())]);
  }
  // From the end, so that the earlier offsets stay valid. A group: the string sprint
  // makes is cut to MAXSTRINGLEN - 1 bytes, as any other.
  for (size_t k = edits.size(); k-- > 0;)
    format->replace(edits[k].first, edits[k].second,
                    edit_lines[k] ? "%{(}%{hist}s\n%{)}s" : "%{(}%{hist}s%{)}s");
  return true;
}

}  // namespace btap::codegen::lowering
