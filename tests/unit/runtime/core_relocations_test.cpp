// The message for a CO-RE relocation a kernel cannot satisfy, from libbpf's log.
#include "runtime/core_relocations.h"

#include <gtest/gtest.h>

namespace btap::runtime {
namespace {

TEST(CoreRelocations, NamesTheMemberAndWhereTheScriptReadsIt) {
  meta::Meta m;
  m.core_sites = {{"struct task_struct.pid", "a.stp:1:5"},
                  {"struct task_struct.se.load", "a.stp:2:9"}};
  std::string log =
      "24: <invalid CO-RE relocation>\n"
      "failed to resolve CO-RE relocation <byte_off> [22] struct task_struct.se.load (0:0 @ "
      "offset 1192.2)\nprocessed 22 insns\n";
  EXPECT_EQ(ExplainCoreFailure(log, m),
            "this kernel's `struct task_struct` has no member `se.load`, read at a.stp:2:9");
  m.core_sites.clear();
  EXPECT_EQ(ExplainCoreFailure(log, m),
            "this kernel's `struct task_struct` has no member `se.load`");
  EXPECT_EQ(ExplainCoreFailure("R1 invalid mem access 'scalar'\n", m), "");
  EXPECT_EQ(ExplainCoreFailure("failed to resolve CO-RE relocation", m), "");
}

}  // namespace
}  // namespace btap::runtime
