// --dump-functions, --dump-probe-aliases and --dump-probe-types print the library and the
// probe families in stap's format, sorted, with `_` names only under -v.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/driver/run_btap.h"

namespace btap::driver {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool Has(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(Dumps, Functions) {
  Ran r = RunBtap({"--dump-functions"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()));
  EXPECT_TRUE(Has(lines, "execname:string ()"));
  EXPECT_TRUE(Has(lines, "exit:unknown ()"));
  EXPECT_TRUE(Has(lines, "kernel_string:string (addr:long, err_msg:string)"));
  EXPECT_TRUE(Has(lines, "substr:string (str:string, start:long, length:long)"));
  for (const std::string& line : lines) EXPECT_NE(line[0], '_') << line;
  std::vector<std::string> all = Lines(RunBtap({"-v", "--dump-functions"}).out);
  EXPECT_GT(all.size(), lines.size());  // the library's own helpers too
}

TEST(Dumps, ProbeAliasesAndTypes) {
  Ran r = RunBtap({"--dump-probe-aliases"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> aliases = Lines(r.out);
  EXPECT_TRUE(std::is_sorted(aliases.begin(), aliases.end()));
  EXPECT_TRUE(Has(aliases, "nd_syscall.getppid = syscall.getppid")) << r.out.substr(0, 400);
  Ran t = RunBtap({"--dump-probe-types"});
  ASSERT_EQ(t.status, 0) << t.err;
  std::vector<std::string> types = Lines(t.out);
  for (const char* p : {"begin(number)", "kernel.function(string).return", "timer.ms(number)",
                        "process(string).function(string)", "kernel.trace(string)",
                        "process.syscall.return", "kernel.lsm(string)"})
    EXPECT_TRUE(Has(types, p)) << p;
  for (const std::string& line : types) EXPECT_NE(line[0], '_') << line;
  EXPECT_EQ(RunBtap({"--dump-functions=x"}).status, 1);
}

}  // namespace
}  // namespace btap::driver
