// Types from C headers for `@cast` (codegen/header_types.h, semantic/machine/header_types.h):
// header lists parsed as stap spells them, a header compiled once into a cached object whose
// DWARF has every type it declares, the cache used again without Clang, and Clang's error.
#include "codegen/header_types.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "semantic/machine/debuginfo.h"
#include "semantic/machine/header_types.h"

namespace btap::codegen {
namespace {

namespace fs = std::filesystem;

TEST(HeaderList, ParsesStapSpellings) {
  std::vector<std::string> h;
  std::string error;
  ASSERT_TRUE(sema::HeaderList("<sys/time.h>", &h, &error)) << error;
  EXPECT_EQ(h, std::vector<std::string>{"sys/time.h"});
  ASSERT_TRUE(sema::HeaderList("kernel<linux/sched.h><linux/fs_struct.h>", &h, &error)) << error;
  EXPECT_EQ(h, (std::vector<std::string>{"linux/sched.h", "linux/fs_struct.h"}));
  ASSERT_TRUE(sema::HeaderList("</usr/include/c++-x/a_b.h>", &h, &error)) << error;
  EXPECT_FALSE(sema::HeaderList("<sys/time.h", &h, &error));
  EXPECT_EQ(error, "`<sys/time.h` is not a list of headers such as `<sys/time.h>`");
  EXPECT_FALSE(sema::HeaderList("<a.h>b.h", &h, &error));
  EXPECT_FALSE(sema::HeaderList("<a;rm -rf.h>", &h, &error));
  EXPECT_EQ(error,
            "malformed header name `a;rm -rf.h`: a header is named with letters, digits and "
            "`/_.+-`");
  EXPECT_FALSE(sema::HeaderList("kernel", &h, &error));
  EXPECT_TRUE(sema::IsHeaderModule("<a.h>"));
  EXPECT_TRUE(sema::IsHeaderModule("kernel<a.h>"));
  EXPECT_FALSE(sema::IsHeaderModule("kernel"));
  EXPECT_FALSE(sema::IsHeaderModule("/bin/ls"));
}

class HeaderTypes : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/btap-htypes-XXXXXX";
    ASSERT_TRUE(mkdtemp(pattern));
    root_ = pattern;
    if (const char* old = std::getenv("XDG_CACHE_HOME")) saved_ = old, had_ = true;
    setenv("XDG_CACHE_HOME", root_.c_str(), 1);
    std::ofstream(root_ + "/widget.h") << "struct widget { int32_t size; char name[12]; };\n"
                                       << "typedef struct widget widget_t;\n";
  }
  void TearDown() override {
    if (had_)
      setenv("XDG_CACHE_HOME", saved_.c_str(), 1);
    else
      unsetenv("XDG_CACHE_HOME");
    fs::remove_all(root_);
  }
  std::string root_, saved_;
  bool had_ = false;
};

TEST_F(HeaderTypes, CompiledOnceAndReadFromDwarf) {
  std::vector<std::string> headers{"stdint.h", root_ + "/widget.h"};
  std::string error;
  std::string path = CompileHeaderTypes(headers, &error);
  ASSERT_FALSE(path.empty()) << error;
  EXPECT_EQ(fs::path(path).parent_path(), fs::path(root_ + "/btap/header-types"));
  struct stat first;
  ASSERT_EQ(stat(path.c_str(), &first), 0);
  EXPECT_EQ(first.st_mode & 0777, 0600u);

  // The types, unused by any code, are in the DWARF with their layout.
  sema::HeaderTypes types;
  int compiles = 0;
  types.set_compiler([&](const std::vector<std::string>& h, std::string* e) {
    ++compiles;
    return CompileHeaderTypes(h, e);
  });
  sema::DebugInfo* d = types.Get(headers, &error);
  ASSERT_TRUE(d) << error;
  std::optional<Dwarf_Die> widget = d->Type("struct widget");
  ASSERT_TRUE(widget);
  EXPECT_EQ(sema::TypeSize(&*widget), 16);
  std::optional<Dwarf_Die> typedef_ = d->Type("widget_t");
  ASSERT_TRUE(typedef_);
  EXPECT_TRUE(types.Get(headers, &error));
  EXPECT_EQ(compiles, 1);

  // A second compile opens the cached object: it is not written again.
  EXPECT_EQ(CompileHeaderTypes(headers, &error), path);
  struct stat second;
  ASSERT_EQ(stat(path.c_str(), &second), 0);
  EXPECT_EQ(second.st_ino, first.st_ino);
  EXPECT_EQ(second.st_mtim.tv_nsec, first.st_mtim.tv_nsec);
}

TEST_F(HeaderTypes, ClangsErrorIsTheError) {
  std::string error;
  EXPECT_EQ(CompileHeaderTypes({root_ + "/widget.h"}, &error), "");  // int32_t undeclared
  EXPECT_NE(error.find("cannot compile the header <" + root_ + "/widget.h>: "), std::string::npos)
      << error;
  EXPECT_NE(error.find("int32_t"), std::string::npos) << error;
  EXPECT_EQ(CompileHeaderTypes({"no_such_header_here.h"}, &error), "");
  EXPECT_EQ(error,
            "cannot compile the header <no_such_header_here.h>: `no_such_header_here.h` file not "
            "found");
}

TEST_F(HeaderTypes, NoCacheFolderKeepsTheObjectInMemory) {
  unsetenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string saved_home = home ? home : "";
  unsetenv("HOME");
  std::string error;
  std::string path = CompileHeaderTypes({"sys/time.h"}, &error);
  if (!saved_home.empty()) setenv("HOME", saved_home.c_str(), 1);
  ASSERT_FALSE(path.empty()) << error;
  EXPECT_EQ(path.rfind("/proc/self/fd/", 0), 0u) << path;
  std::unique_ptr<sema::DebugInfo> d = sema::DebugInfo::OpenRelocatable(path, &error);
  ASSERT_TRUE(d) << error;
  std::optional<Dwarf_Die> timeval = d->Type("struct timeval");
  ASSERT_TRUE(timeval);
  EXPECT_EQ(sema::TypeSize(&*timeval), 16);
}

}  // namespace
}  // namespace btap::codegen
