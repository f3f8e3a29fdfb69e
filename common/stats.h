// Statistics (`<<<`): the value layout that kernel probes update per CPU, merging the
// per-CPU values, the aggregates stap defines, and histogram rendering by stap's rules.
// Codegen writes the layout; the runtime merges and prints.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace btap::stats {

// A statistics value is an array of 64-bit slots, one copy per CPU.
enum Slot : uint32_t { kCount, kSum, kMin, kMax, kSumSquares, kBuckets };

enum class Hist : uint8_t { None, Log, Linear };

// @hist_log: 128 buckets; bucket 64 holds 0, bucket 64 + k + 1 holds 2^k <= v < 2^(k+1),
// and negatives mirror below 64.
inline constexpr uint32_t kLogBuckets = 128;
inline constexpr uint32_t kLogZero = 64;

struct Shape {
  Hist hist = Hist::None;
  int64_t start = 0, stop = 0, interval = 1;  // @hist_linear
  // Buckets: log 128; linear: underflow, (stop - start) / interval + 1 labelled, overflow.
  uint32_t Buckets() const;
  uint32_t Slots() const { return kBuckets + Buckets(); }
};

// Adds one CPU's value into `total` (both Slots() long).
void Merge(std::span<int64_t> total, std::span<const int64_t> cpu);

// The aggregates; false (an `empty aggregate` error) when count is 0, except @count/@sum.
enum class Op : uint8_t { Count, Sum, Min, Max, Avg, Variance };
bool Aggregate(std::span<const int64_t> value, Op op, int64_t* out);

// Which slots `<<<` keeps up to date, a bit per Slot below kBuckets. As stap's translator
// does, a statistic updates only what its readers use: the count always (it tells an
// empty value), the others for the aggregates that read them; the rest stay 0. The
// histogram's buckets are kept when it has one.
constexpr uint8_t SlotBit(Slot s) { return static_cast<uint8_t>(1u << s); }
inline constexpr uint8_t kAllSlots = (1u << kBuckets) - 1;
// The slots `op` reads (@avg: count and sum; @variance: count, sum, sum of squares).
uint8_t SlotsRead(Op op);
// What a global printed at exit shows: @count, @min, @max, @sum and @avg.
inline constexpr uint8_t kExitSlots =
    SlotBit(kCount) | SlotBit(kSum) | SlotBit(kMin) | SlotBit(kMax);

// stap's histogram table (see ../shared/SEMANTICS.md), ending with a blank line.
std::string RenderHistogram(std::span<const int64_t> value, const Shape& shape);

}  // namespace btap::stats
