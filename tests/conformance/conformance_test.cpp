// Conformance: every .stp and .stpm file of SystemTap's tapset library (Debian's
// systemtap-common, fetched by tests/fetch-tapsets.sh) parses with zero errors under the
// runtime and architecture it is written for, and survives print -> parse unchanged.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/tapset_corpus.h"

namespace btap {
namespace {

TEST(Conformance, TapsetLibraryParsesAndRoundTrips) {
  std::string root = corpus::DefaultRoot();
  ASSERT_TRUE(std::filesystem::is_directory(root))
      << "no tapset corpus at " << root << "; run tests/fetch-tapsets.sh (ctest does)";
  size_t reported = 0;
  corpus::Totals totals = corpus::ParseAll(
      corpus::Plan(root), /*check_round_trip=*/true, [&](const corpus::FileResult& r) {
        if (reported > 20) return;
        if (!r.diagnostics.empty()) {
          ADD_FAILURE() << r.diagnostics;
          ++reported;
        } else if (!r.round_trip_ok) {
          ADD_FAILURE() << r.path << ": " << r.round_trip_detail;
          ++reported;
        }
      });
  EXPECT_EQ(totals.failures, 0u);
  // Debian 12's systemtap-common 4.8: 586 .stp and 21 .stpm files, ~125k lines.
  EXPECT_GE(totals.files, 600u);
  EXPECT_GE(totals.lines, 120000u);
  std::printf("conformance: %zu files, %zu lines, %zu failures\n", totals.files, totals.lines,
              totals.failures);
}

}  // namespace
}  // namespace btap
