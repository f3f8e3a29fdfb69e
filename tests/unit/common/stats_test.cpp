// Statistics: merging per-CPU values, the aggregates, and the histogram table.
#include "common/stats.h"

#include <gtest/gtest.h>

namespace btap::stats {
namespace {

std::vector<int64_t> Sample(std::initializer_list<int64_t> values, const Shape& shape) {
  std::vector<int64_t> v(shape.Slots(), 0);
  for (int64_t x : values) {
    std::vector<int64_t> one(shape.Slots(), 0);
    one[kCount] = 1;
    one[kSum] = one[kMin] = one[kMax] = x;
    one[kSumSquares] = x * x;
    Merge(v, one);
  }
  return v;
}

TEST(Stats, MergeKeepsMinAndMaxOfCpusThatHaveData) {
  Shape shape;
  std::vector<int64_t> total(shape.Slots(), 0), empty(shape.Slots(), 0);
  std::vector<int64_t> a = {2, 10, 3, 7, 58}, b = {1, -4, -4, -4, 16};
  Merge(total, empty);
  Merge(total, a);
  Merge(total, empty);
  Merge(total, b);
  EXPECT_EQ(total, (std::vector<int64_t>{3, 6, -4, 7, 74}));
}

TEST(Stats, Aggregates) {
  Shape shape;
  std::vector<int64_t> v = Sample({1, 2, 2, 3, 3, 3, 100, 1000}, shape);
  int64_t out = 0;
  ASSERT_TRUE(Aggregate(v, Op::Count, &out));
  EXPECT_EQ(out, 8);
  ASSERT_TRUE(Aggregate(v, Op::Avg, &out));
  EXPECT_EQ(out, 139);  // integer division
  ASSERT_TRUE(Aggregate(v, Op::Variance, &out));
  EXPECT_EQ(out, 122130);
  std::vector<int64_t> none(shape.Slots(), 0);
  EXPECT_TRUE(Aggregate(none, Op::Count, &out));
  EXPECT_EQ(out, 0);
  EXPECT_FALSE(Aggregate(none, Op::Min, &out));  // empty aggregate
  EXPECT_FALSE(Aggregate(none, Op::Avg, &out));
  std::vector<int64_t> one = Sample({5}, shape);
  ASSERT_TRUE(Aggregate(one, Op::Variance, &out));
  EXPECT_EQ(out, 0);
}

TEST(Stats, SlotsReadByEachAggregate) {
  // What `<<<` must keep for each reader: the count always, then as stap's translator
  // decides (@avg: count and sum; @variance: and the sum of squares).
  auto bits = [](std::initializer_list<Slot> slots) {
    uint8_t b = 0;
    for (Slot s : slots) b |= SlotBit(s);
    return b;
  };
  EXPECT_EQ(SlotsRead(Op::Count), bits({kCount}));
  EXPECT_EQ(SlotsRead(Op::Sum), bits({kCount, kSum}));
  EXPECT_EQ(SlotsRead(Op::Min), bits({kCount, kMin}));
  EXPECT_EQ(SlotsRead(Op::Max), bits({kCount, kMax}));
  EXPECT_EQ(SlotsRead(Op::Avg), bits({kCount, kSum}));
  EXPECT_EQ(SlotsRead(Op::Variance), bits({kCount, kSum, kSumSquares}));
  EXPECT_EQ(kExitSlots, bits({kCount, kSum, kMin, kMax}));
  EXPECT_EQ(kAllSlots, bits({kCount, kSum, kMin, kMax, kSumSquares}));
}

TEST(Stats, LogHistogramOfNegatives) {
  Shape shape;
  shape.hist = Hist::Log;
  std::vector<int64_t> v = Sample({}, shape);
  v[kCount] = 2;
  v[kBuckets + kLogZero - 2] = 1;  // -2 <= x < -1 ... the bucket labelled -2
  v[kBuckets + kLogZero + 1] = 1;  // 1
  EXPECT_EQ(RenderHistogram(v, shape),
            "value |-------------------------------------------------- count\n"
            "   -8 |                                                   0\n"
            "   -4 |                                                   0\n"
            "   -2 |@                                                  1\n"
            "   -1 |                                                   0\n"
            "    0 |                                                   0\n"
            "    1 |@                                                  1\n"
            "    2 |                                                   0\n"
            "    4 |                                                   0\n"
            "\n");
}

}  // namespace
}  // namespace btap::stats
