// Syscall dispatch bodies that compute the same are one function, reached from one case
// of the switch (lower_syscall.cpp); bodies that differ (pn()) stay one per point.
#include <gtest/gtest.h>

#include "tests/unit/driver/run_btap.h"

namespace btap::driver {
namespace {

size_t Count(const std::string& text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SyscallBodies, IdenticalBodiesAreOne) {
  // bpf_map_update_elem (helper 2, "call 2\n") once per body: 30 or so get* points here.
  Ran shared =
      RunBtap({"-p3", "--dump=bpf-asm", "-e",
               R"(global c; probe kernel.trace("syscalls:sys_enter_get*") { c[execname()]++ })"});
  ASSERT_EQ(shared.status, 0) << shared.err;
  EXPECT_EQ(Count(shared.out, "call 2\n"), 1u) << shared.out;
  Ran apart = RunBtap({"-p3", "--dump=bpf-asm", "-e",
                       R"(global c; probe kernel.trace("syscalls:sys_enter_get*") { c[pn()]++ })"});
  ASSERT_EQ(apart.status, 0) << apart.err;
  EXPECT_GT(Count(apart.out, "call 2\n"), 10u) << apart.out;
}

}  // namespace
}  // namespace btap::driver
