// Statistics: merging, aggregates, histogram rendering (see stats.h).
#include "common/stats.h"

#include "common/hist_format.h"

#include <algorithm>

namespace btap::stats {

static_assert(kLogBuckets == BTAP_HIST_LOG_BUCKETS && kLogZero == BTAP_HIST_LOG_ZERO);
static_assert(static_cast<int>(Hist::Log) == BTAP_HIST_KIND_LOG &&
              static_cast<int>(Hist::Linear) == BTAP_HIST_KIND_LINEAR);

uint32_t Shape::Buckets() const {
  switch (hist) {
    case Hist::Log:
      return kLogBuckets;
    case Hist::Linear:
      return static_cast<uint32_t>((stop - start) / interval + 3);
    default:
      return 0;
  }
}

void Merge(std::span<int64_t> total, std::span<const int64_t> cpu) {
  if (total.size() < kBuckets || cpu.size() < total.size() || cpu[kCount] == 0) return;
  bool first = total[kCount] == 0;
  total[kCount] += cpu[kCount];
  total[kSum] += cpu[kSum];
  total[kMin] = first ? cpu[kMin] : std::min(total[kMin], cpu[kMin]);
  total[kMax] = first ? cpu[kMax] : std::max(total[kMax], cpu[kMax]);
  total[kSumSquares] += cpu[kSumSquares];
  for (size_t i = kBuckets; i < total.size(); ++i) total[i] += cpu[i];
}

namespace {

// Signed division truncating toward zero, as the language defines it.
int64_t Divide(int64_t a, int64_t b) { return b ? a / b : 0; }

}  // namespace

bool Aggregate(std::span<const int64_t> v, Op op, int64_t* out) {
  int64_t n = v[kCount];
  switch (op) {
    case Op::Count:
      *out = n;
      return true;
    case Op::Sum:
      *out = v[kSum];
      return true;
    default:
      break;
  }
  if (n == 0) return false;
  switch (op) {
    case Op::Min:
      *out = v[kMin];
      break;
    case Op::Max:
      *out = v[kMax];
      break;
    case Op::Avg:
      *out = Divide(v[kSum], n);
      break;
    default:
      // The sample variance, (n * sum(x^2) - sum(x)^2) / (n * (n - 1)); 0 for one sample.
      *out = n < 2 ? 0 : Divide(n * v[kSumSquares] - v[kSum] * v[kSum], n * (n - 1));
      break;
  }
  return true;
}

uint8_t SlotsRead(Op op) {
  switch (op) {
    case Op::Sum:
      return SlotBit(kCount) | SlotBit(kSum);
    case Op::Min:
      return SlotBit(kCount) | SlotBit(kMin);
    case Op::Max:
      return SlotBit(kCount) | SlotBit(kMax);
    case Op::Avg:
      return SlotBit(kCount) | SlotBit(kSum);
    case Op::Variance:
      return SlotBit(kCount) | SlotBit(kSum) | SlotBit(kSumSquares);
    default:
      return SlotBit(kCount);
  }
}

namespace {

std::string LogLabel(uint32_t bucket) {
  if (bucket == kLogZero) return "0";
  bool negative = bucket < kLogZero;
  uint32_t k = negative ? kLogZero - 1 - bucket : bucket - kLogZero - 1;
  uint64_t magnitude = uint64_t{1} << k;
  return (negative ? "-" : "") + std::to_string(magnitude);
}

std::string LinearLabel(uint32_t bucket, const Shape& s, uint32_t buckets) {
  if (bucket == 0) return "<" + std::to_string(s.start);
  // stap's overflow label: the last row's label plus one interval (`stop` when the
  // interval divides stop - start).
  if (bucket == buckets - 1)
    return ">" + std::to_string(s.start + static_cast<int64_t>(bucket - 2) * s.interval);
  return std::to_string(s.start + static_cast<int64_t>(bucket - 1) * s.interval);
}

std::string Pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

}  // namespace

std::string RenderHistogram(std::span<const int64_t> value, const Shape& shape) {
  uint32_t buckets = shape.Buckets();
  if (value.size() < kBuckets + size_t{buckets}) return "";
  std::span<const int64_t> counts = value.subspan(kBuckets, buckets);
  int first = -1, last = -1;
  int64_t max = 0;
  for (uint32_t i = 0; i < buckets; ++i) {
    if (!counts[i]) continue;
    if (first < 0) first = static_cast<int>(i);
    last = static_cast<int>(i);
    max = std::max(max, counts[i]);
  }
  if (first < 0) return "";
  // Two empty rows on each side; a log histogram of no negative value starts at 0.
  int lowest = shape.hist == Hist::Log && first >= static_cast<int>(kLogZero)
                   ? static_cast<int>(kLogZero)
                   : 0;
  int from = std::max(first - BTAP_HIST_MARGIN, lowest);
  int to = std::min(last + BTAP_HIST_MARGIN, static_cast<int>(buckets) - 1);
  // @hist_linear's `<start` and `>stop` rows are drawn only when they count something.
  if (shape.hist == Hist::Linear) {
    if (from == 0 && !counts[0]) ++from;
    if (to == static_cast<int>(buckets) - 1 && !counts[to]) --to;
  }
  auto label = [&](int i) {
    return shape.hist == Hist::Log ? LogLabel(i) : LinearLabel(i, shape, buckets);
  };
  // The value column's width as stap computes it: from the first and last rows' labels
  // for @hist_log; for @hist_linear from `start` and from start + interval * to (a value
  // one row past the last label), each with one more for a `<`/`>` row drawn.
  size_t width = BTAP_HIST_VALUE_WIDTH;
  if (shape.hist == Hist::Log) {
    width = std::max({width, label(from).size(), label(to).size()});
  } else {
    size_t under = from == 0, over = to == static_cast<int>(buckets) - 1;
    width = std::max({width, std::to_string(shape.start).size() + under,
                      std::to_string(shape.start + shape.interval * int64_t{to}).size() + over});
  }
  int64_t scale = max <= BTAP_HIST_WIDTH ? 1 : (max + BTAP_HIST_WIDTH - 1) / BTAP_HIST_WIDTH;
  size_t count_width = std::to_string(max).size();
  // A zero row is shown when a non-empty bucket is at most two rows away.
  auto near_data = [&](int i) {
    for (int j = std::max(from, i - BTAP_HIST_ELISION); j <= std::min(to, i + BTAP_HIST_ELISION);
         ++j)
      if (counts[j]) return true;
    return false;
  };
  std::string out = Pad("value", width) + " |" + std::string(BTAP_HIST_WIDTH, '-') + " count\n";
  bool elided = false;
  for (int i = from; i <= to; ++i) {
    if (!counts[i] && !near_data(i)) {
      if (!elided) out += std::string(width + 1, ' ') + "~\n";  // under the rows' `|`
      elided = true;
      continue;
    }
    elided = false;
    int64_t bar = std::clamp<int64_t>(counts[i] / scale, 0, BTAP_HIST_WIDTH);
    out += Pad(label(i), width) + " |" + std::string(bar, '@') +
           std::string(BTAP_HIST_WIDTH - bar, ' ') + " " +
           Pad(std::to_string(counts[i]), count_width) + "\n";
  }
  return out + "\n";
}

}  // namespace btap::stats
