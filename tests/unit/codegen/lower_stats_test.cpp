// What `<<<` updates (codegen/lower_stats.cpp, Lowering::Accumulate): only the slots of a
// statistic that some reader needs, read from the kernel program's instructions
// (`--dump=bpf-asm`): the offsets stored to through the value's pointer.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "common/stats.h"
#include "tests/unit/driver/run_btap.h"

namespace btap::driver {
namespace {

constexpr int kSum = 8 * stats::kSum, kMin = 8 * stats::kMin, kMax = 8 * stats::kMax,
              kSquares = 8 * stats::kSumSquares;

// The offsets of the 8-byte stores through registers other than the frame pointer in the
// getppid handler of `global s; probe ... { s <<< tid() }` plus `rest`: the statistic's
// slots (count and bucket are both stored at offset 0, the bucket's address added first).
std::set<int> SlotStores(const std::string& rest) {
  Ran r = RunBtap(
      {"-p3", "--dump=bpf-asm", "-e",
       "global s; probe kernel.trace(\"syscalls:sys_enter_getppid\") { s <<< tid() } " + rest});
  EXPECT_EQ(r.status, 0) << r.err;
  size_t at = r.out.find("\nsyscall_enter:\n");
  EXPECT_NE(at, std::string::npos) << r.out;
  std::string program = r.out.substr(at, r.out.find(".size\tsyscall_enter", at) - at);
  std::set<int> offsets;
  static const std::regex store(R"(\*\(u64 \*\)\(r([0-9]) \+ ([0-9]+)\) = )");
  for (auto it = std::sregex_iterator(program.begin(), program.end(), store);
       it != std::sregex_iterator(); ++it)
    if ((*it)[1] != "10") offsets.insert(std::stoi((*it)[2]));
  EXPECT_FALSE(offsets.empty()) << program;
  return offsets;
}

TEST(LowerStats, HistogramAloneKeepsCountAndBucket) {
  EXPECT_EQ(SlotStores("probe end { print(@hist_log(s)) }"), (std::set<int>{0}));
  EXPECT_EQ(SlotStores("probe end { print(@hist_linear(s, 0, 100, 10)) }"), (std::set<int>{0}));
  EXPECT_EQ(SlotStores("probe end { print(@count(s)) }"), (std::set<int>{0}));
}

TEST(LowerStats, EachAggregateKeepsWhatItReads) {
  EXPECT_EQ(SlotStores("probe end { print(@min(s)) }"), (std::set<int>{0, kMin}));
  EXPECT_EQ(SlotStores("probe end { print(@max(s)) }"), (std::set<int>{0, kMax}));
  EXPECT_EQ(SlotStores("probe end { print(@sum(s)) }"), (std::set<int>{0, kSum}));
  EXPECT_EQ(SlotStores("probe end { print(@avg(s)) }"), (std::set<int>{0, kSum}));
  EXPECT_EQ(SlotStores("probe end { print(@variance(s)) }"), (std::set<int>{0, kSum, kSquares}));
  // Readers anywhere add up, in functions too.
  EXPECT_EQ(SlotStores("function f() { return @max(s) } probe end { print(@min(s), f()) }"),
            (std::set<int>{0, kMin, kMax}));
}

TEST(LowerStats, UnreadGlobalKeepsWhatTheExitPrintShows) {
  // Written, never read: printed at exit with @count, @min, @max, @sum and @avg.
  EXPECT_EQ(SlotStores(""), (std::set<int>{0, kSum, kMin, kMax}));
}

}  // namespace
}  // namespace btap::driver
