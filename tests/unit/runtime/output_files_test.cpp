// -S's parsing and the -o files' numbering, size checks and removal (runtime/output_files.h).
#include "runtime/output_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace btap::runtime {
namespace {

namespace fs = std::filesystem;

TEST(OutputFiles, ParsesSizeAndCount) {
  FileLimit limit;
  std::string error;
  ASSERT_TRUE(ParseFileLimit("2", &limit, &error)) << error;
  EXPECT_EQ(limit.bytes, 2u << 20);
  EXPECT_EQ(limit.count, 0);
  ASSERT_TRUE(ParseFileLimit("1,3", &limit, &error)) << error;
  EXPECT_EQ(limit.bytes, 1u << 20);
  EXPECT_EQ(limit.count, 3);
  for (const char* bad : {"0", "abc", "1,0", "1,", ",2", "-1", "+1", "1,x", "1 ", "1,2,3", "",
                          "99999999999999999999"}) {
    EXPECT_FALSE(ParseFileLimit(bad, &limit, &error)) << bad;
    EXPECT_NE(error.find("invalid -S `" + std::string(bad) + "`"), std::string::npos) << error;
  }
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(OutputFiles, NumbersFilesAndRemovesTheOldest) {
  fs::path dir = fs::path(testing::TempDir()) / ("output_files_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  OutputFiles files;
  std::string error;
  ASSERT_TRUE(files.Open((dir / "out").string(), FileLimit{1u << 20, 2}, &error)) << error;
  EXPECT_EQ(files.name(), (dir / "out.0").string());
  // An empty file takes any record; a full one sends the next record on.
  EXPECT_FALSE(files.Overflows(0, 2u << 20));
  files.stream() << "zero\n";
  files.Wrote(5);
  EXPECT_FALSE(files.Overflows(0, (1u << 20) - 5));
  EXPECT_TRUE(files.Overflows(0, (1u << 20) - 4));
  EXPECT_TRUE(files.Overflows(10, (1u << 20) - 14));
  for (const char* text : {"one\n", "two\n"}) {
    ASSERT_TRUE(files.Next(&error)) << error;
    files.stream() << text;
  }
  files.stream().flush();
  EXPECT_EQ(files.name(), (dir / "out.2").string());
  EXPECT_FALSE(fs::exists(dir / "out.0"));  // past the count of 2
  EXPECT_EQ(Read(dir / "out.1"), "one\n");
  EXPECT_EQ(Read(dir / "out.2"), "two\n");
  fs::remove_all(dir);
}

TEST(OutputFiles, WithoutASizeTheFirstFileHasNoNumber) {
  fs::path dir = fs::path(testing::TempDir()) / ("output_files_plain_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  OutputFiles files;
  std::string error;
  ASSERT_TRUE(files.Open((dir / "log").string(), FileLimit{}, &error)) << error;
  EXPECT_EQ(files.name(), (dir / "log").string());
  EXPECT_FALSE(files.Overflows(100, 1u << 30));  // no size, no switch
  ASSERT_TRUE(files.Next(&error)) << error;
  EXPECT_EQ(files.name(), (dir / "log.1").string());
  EXPECT_TRUE(fs::exists(dir / "log"));  // kept: no count
  EXPECT_FALSE(files.Open((dir / "none" / "x").string(), FileLimit{}, &error));
  EXPECT_NE(error.find("cannot open output file"), std::string::npos) << error;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace btap::runtime
