// The kernel-side path of a run-time error (lower_stmt.cpp, Lowering::Fail), checked on
// the instructions that matter: the error that stops the session writes no record.
#include <gtest/gtest.h>

#include <regex>

#include "tests/unit/driver/run_btap.h"

namespace btap::driver {
namespace {

// With the default MAXERRORS of 0, a full array's error stores its record's format id
// (0) in the session's words and moves the state: no ring buffer
// output (helper 130), so the object has no output map, and no lost count.
TEST(ErrorPath, StoppingErrorLeavesItsHeaderNotARecord) {
  Ran r = RunBtap({"-p3", "--dump=bpf-asm", "-e", R"(global c
    probe kernel.trace("sched:sched_switch") { c[execname()]++ })"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("call 130"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("btap_output ll"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("__btap_lost ll"), std::string::npos) << r.out;
  // (Whatever registers the allocator picks.)
  for (const char* want : {R"(atomic_fetch_add\(\(u64 \*\)\(r\d+ \+ 16\))",
                           R"(\*\(u64 \*\)\(r\d+ \+ 8\) = r\d+)", R"(cmpxchg_64\(r\d+ \+ 0)"})
    EXPECT_TRUE(std::regex_search(r.out, std::regex(want))) << want << "\n" << r.out;
  // The header's low half is the Errors state (2), so its store and the state's exchange
  // share one register: `rN = 2` once, no second move (issue 18, program size).
  std::smatch stored;
  ASSERT_TRUE(std::regex_search(r.out, stored, std::regex(R"(\*\(u64 \*\)\(r\d+ \+ 8\) = (r\d+))")))
      << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("cmpxchg_64\\(r\\d+ \\+ 0, r0, " + stored[1].str() + "\\)")))
      << r.out;
  EXPECT_FALSE(std::regex_search(r.out, std::regex(R"(r\d+ = 3\n)"))) << r.out;
  // The errors before the one past MAXERRORS are records; so is one with arguments.
  Ran before = RunBtap({"-p3", "--dump=bpf-asm", "-D", "MAXERRORS=1", "-e", R"(global c
    probe kernel.trace("sched:sched_switch") { c[execname()]++ })"});
  ASSERT_EQ(before.status, 0) << before.err;
  EXPECT_NE(before.out.find("call 130"), std::string::npos) << before.out;
  Ran with_args = RunBtap({"-p3", "--dump=bpf-asm", "-e", R"(global c
    probe kernel.trace("sched:sched_switch") { error(sprintf("pid %d", pid())) })"});
  ASSERT_EQ(with_args.status, 0) << with_args.err;
  EXPECT_NE(with_args.out.find("call 130"), std::string::npos) << with_args.out;
}

// A store's result is tested on its low 32 bits: before Linux 6.4 the verifier calls the
// map's int-returning update function in place of bpf_map_update_elem, and r0's upper
// half is then zero, so a 64-bit test takes a full map's -E2BIG for success.
TEST(ErrorPath, FullArrayTestsTheUpdateResultIn32Bits) {
  Ran r = RunBtap({"-p3", "--dump=bpf-asm", "-e", R"(global a, n
    probe kernel.trace("sched:sched_switch") { a[n++] = 1 })"});
  ASSERT_EQ(r.status, 0) << r.err;
  size_t call = r.out.find("call 2\n");
  ASSERT_NE(call, std::string::npos) << r.out;
  size_t next = r.out.find('\n', call + 7);
  std::string test = r.out.substr(call + 7, next - call - 7);
  EXPECT_NE(test.find("if w0 s> -1"), std::string::npos) << test;
}

}  // namespace
}  // namespace btap::driver
