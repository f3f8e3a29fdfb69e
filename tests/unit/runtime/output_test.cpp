// Output records from the ring buffer to text: formats from the object's metadata,
// arguments checked against each format, malformed records reported, never trusted.
#include "runtime/output.h"

#include <gtest/gtest.h>

#include <random>

#include "common/output_record.h"

namespace btap::runtime {
namespace {

using record::Arg;

meta::Meta Formats(std::vector<std::string> formats) {
  meta::Meta m;
  m.formats = std::move(formats);
  return m;
}

std::string Text(const OutputFormatter& f, uint32_t id, std::vector<Arg> args) {
  std::vector<uint8_t> bytes = record::Encode(record::Kind::Printf, id, args);
  std::string out, error;
  EXPECT_TRUE(f.FormatRecord(bytes, out, &error)) << error;
  return out;
}

TEST(Output, FormatsRecords) {
  OutputFormatter f;
  std::string error;
  ASSERT_TRUE(f.Init(Formats({"%s has %d\n", "[%*s|%.*s]", "plain\n"}), &error)) << error;
  EXPECT_EQ(Text(f, 0, {{true, 0, "ls"}, {false, 3, {}}}), "ls has 3\n");
  EXPECT_EQ(Text(f, 1, {{false, 4, {}}, {true, 0, "ab"}, {false, 1, {}}, {true, 0, "xyz"}}),
            "[  ab|x]");
  EXPECT_EQ(Text(f, 2, {}), "plain\n");
  std::string long_string(5000, 'q');
  EXPECT_EQ(Text(f, 0, {{true, 0, long_string}, {false, -1, {}}}), long_string + " has -1\n");
}

TEST(Output, MalformedRecordsAreErrors) {
  OutputFormatter f;
  std::string error, out;
  ASSERT_TRUE(f.Init(Formats({"%s %d\n"}), &error));
  auto bad = [&](std::vector<uint8_t> bytes, std::string_view why) {
    out.clear();
    EXPECT_FALSE(f.FormatRecord(bytes, out, &error));
    EXPECT_NE(error.find(why), std::string::npos) << error;
  };
  std::vector<uint8_t> good =
      record::Encode(record::Kind::Printf, 0, std::vector<Arg>{{true, 0, "x"}, {false, 1, {}}});
  bad({1, 2, 3}, "shorter than its header");
  bad(record::Encode(record::Kind::Printf, 7, {}), "names format 7");
  auto wrong_kind = good;
  wrong_kind[0] = static_cast<uint8_t>(record::Kind::SwitchFile) + 1;
  bad(wrong_kind, "unknown output record kind");
  bad(std::vector<uint8_t>(good.begin(), good.end() - 8), "truncated number");
  auto huge = good;
  huge[8] = 0xff;
  bad(huge, "string longer than the record");
  auto extra = good;
  extra.insert(extra.end(), 8, 0);
  bad(extra, "bytes too many");
  // An argument-level fault names the script's format, so the printf can be found.
  bad(extra, "its format \"%s %d\\n\"");
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    auto bytes = good;
    bytes.resize(rng() % (good.size() + 9));
    for (auto& b : bytes)
      if (rng() % 8 == 0) b = static_cast<uint8_t>(rng());
    f.FormatRecord(bytes, out, &error);  // any outcome but a crash
  }
}

TEST(Output, InvalidFormatsInTheObjectAreRefused) {
  OutputFormatter f;
  std::string error;
  EXPECT_FALSE(f.Init(Formats({"ok\n", "%q"}), &error));
  EXPECT_NE(error.find("format 1"), std::string::npos) << error;
}

}  // namespace
}  // namespace btap::runtime
