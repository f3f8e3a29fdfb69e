// The session's namespaces for the ns_* functions (runtime/namespaces.h).
#include "runtime/namespaces.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <vector>

#include "common/object_meta.h"

namespace btap::runtime {
namespace {

TEST(Namespaces, IdMapExtents) {
  uint64_t row[meta::kNsFactColumns] = {};
  ParseIdMap("         0          0 4294967295\n", row);
  EXPECT_EQ(row[0], 1u);
  EXPECT_EQ(row[1], 0u);
  EXPECT_EQ(row[2], 0u);
  EXPECT_EQ(row[3], 4294967295u);
  ParseIdMap("0 100000 1000\n1000 1000 1\n1001 101001 64535\n", row);
  EXPECT_EQ(row[0], 3u);
  EXPECT_EQ(row[4], 1000u);
  EXPECT_EQ(row[5], 1000u);
  EXPECT_EQ(row[6], 1u);
  EXPECT_EQ(row[8], 101001u);
  ParseIdMap("", row);
  EXPECT_EQ(row[0], 0u);
  // At most five extents are kept (the row's columns).
  ParseIdMap("0 0 1\n1 1 1\n2 2 1\n3 3 1\n4 4 1\n5 5 1\n", row);
  EXPECT_EQ(row[0], 5u);
}

TEST(Namespaces, ThisProcesssNamespaces) {
  std::vector<uint64_t> facts(meta::kNsFactRows * meta::kNsFactColumns);
  FillNsFacts(facts.data());
  EXPECT_GE(facts[0], 1u);  // a uid map has an extent
  EXPECT_GE(facts[meta::kNsFactColumns], 1u);
  struct stat ns {};
  ASSERT_EQ(stat("/proc/self/ns/pid", &ns), 0);
  EXPECT_EQ(facts[2 * meta::kNsFactColumns], ns.st_ino);
}

}  // namespace
}  // namespace btap::runtime
