// The global pragmas of embedded C (semantic/embedded_pragmas.h): what they name, and
// which global a name binds to.
#include "semantic/embedded_pragmas.h"

#include <gtest/gtest.h>

namespace btap::sema {
namespace {

TEST(EmbeddedPragmas, ReadsThenWritesWithOffsets) {
  std::string_view code =
      "/* pragma:write:total */ x; /* pragma:read:count_2 */ /* pragma:read: */ pragma:read:b";
  std::vector<GlobalPragma> p = GlobalPragmas(code);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].name, "count_2");
  EXPECT_FALSE(p[0].write);
  EXPECT_EQ(code.substr(p[0].offset, 7), "pragma:");
  EXPECT_EQ(p[1].name, "b");
  EXPECT_EQ(p[2].name, "total");
  EXPECT_TRUE(p[2].write);
  EXPECT_EQ(p[2].offset, 3u);
  EXPECT_TRUE(GlobalPragmas("no pragmas here").empty());
}

TEST(EmbeddedPragmas, TheScriptsGlobalBeforeATapsets) {
  Variable library{.name = "hits", .from_tapset = true}, script{.name = "hits"},
      other{.name = "misses"};
  EXPECT_EQ(PragmaGlobal({&library, &script, &other}, "hits"), &script);
  EXPECT_EQ(PragmaGlobal({&script, &library}, "hits"), &script);
  EXPECT_EQ(PragmaGlobal({&library}, "hits"), &library);
  EXPECT_EQ(PragmaGlobal({&other}, "hits"), nullptr);
}

}  // namespace
}  // namespace btap::sema
