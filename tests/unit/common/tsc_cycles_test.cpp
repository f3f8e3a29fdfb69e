// get_cycles()'s arithmetic (common/output_record.h's TscCycles, which the generated code
// repeats): floor(ns * mult / 2^20) modulo 2^64 against a 128-bit reference, at the
// rates the runtime accepts and over the monotonic clock's whole range.
#include <gtest/gtest.h>

#include <random>

#include "common/output_record.h"

namespace btap::session {
namespace {

TEST(TscCycles, MatchesA128BitProduct) {
  std::mt19937_64 random(20261204);
  std::uniform_int_distribution<uint64_t> rate((1u << 20) / 20, 100ull << 20);
  for (int i = 0; i < 100000; ++i) {
    uint64_t ns = random() >> (random() % 64), mult = rate(random);
    auto expected = static_cast<uint64_t>((static_cast<unsigned __int128>(ns) * mult) >> 20);
    ASSERT_EQ(TscCycles(ns, mult), expected) << ns << " " << mult;
  }
  EXPECT_EQ(TscCycles(1000000000, 3ull << 20), 3000000000u);  // 3 GHz, one second
  EXPECT_EQ(TscCycles(0, 1234567), 0u);
}

}  // namespace
}  // namespace btap::session
