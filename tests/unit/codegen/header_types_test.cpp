// Types from C headers for `@cast` (codegen/header_types.h, semantic/machine/header_types.h):
// header lists parsed as stap spells them, a header compiled once into a cached object whose
// DWARF has every type it declares, the cache used again without Clang (only a private
// object, only while the files it was compiled from are unchanged), and the errors.
#include "codegen/header_types.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

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
  std::vector<std::string> files;
  std::string fd_path = CompileHeaderTypes(headers, &error, &files);
  ASSERT_FALSE(fd_path.empty()) << error;
  // The object is read through the descriptor that checked it.
  EXPECT_EQ(fd_path.rfind("/proc/self/fd/", 0), 0u) << fd_path;
  std::string path = fs::read_symlink(fd_path);
  EXPECT_EQ(fs::path(path).parent_path(), fs::path(root_ + "/btap/header-types"));
  // The files Clang read: the headers named and what they include.
  auto has = [&](const std::string& f) {
    return std::find(files.begin(), files.end(), f) != files.end();
  };
  EXPECT_TRUE(has(root_ + "/widget.h"));
  EXPECT_TRUE(has("/usr/include/stdint.h"));
  EXPECT_TRUE(has("/usr/include/x86_64-linux-gnu/bits/types.h"));
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

  // A second compile opens the cached object: it is not written again, and names the
  // same files.
  std::vector<std::string> again;
  std::string second_fd = CompileHeaderTypes(headers, &error, &again);
  ASSERT_FALSE(second_fd.empty()) << error;
  EXPECT_NE(second_fd, fd_path);
  EXPECT_EQ(fs::read_symlink(second_fd), path);
  EXPECT_EQ(again, files);
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

// A header included by the one named changes: the cached object is compiled again.
TEST_F(HeaderTypes, AnIncludedHeaderChangedIsCompiledAgain) {
  std::ofstream(root_ + "/outer.h") << "#include \"inner.h\"\nstruct outer { struct inner i; };\n";
  std::ofstream(root_ + "/inner.h") << "struct inner { char c[4]; };\n";
  std::vector<std::string> headers{root_ + "/outer.h"};
  auto size = [&] {
    std::string error;
    std::vector<std::string> files;
    std::string path = CompileHeaderTypes(headers, &error, &files);
    EXPECT_NE(std::find(files.begin(), files.end(), root_ + "/inner.h"), files.end());
    std::unique_ptr<sema::DebugInfo> d = sema::DebugInfo::OpenRelocatable(path, &error);
    if (!d) return -1;
    std::optional<Dwarf_Die> outer = d->Type("struct outer");
    return outer ? static_cast<int>(sema::TypeSize(&*outer)) : -2;
  };
  EXPECT_EQ(size(), 4);
  EXPECT_EQ(size(), 4);
  std::ofstream(root_ + "/inner.h") << "struct inner { char c[40]; };\n";
  EXPECT_EQ(size(), 40);
}

// Only a regular file of ours that nobody else may write is taken from the cache folder,
// and only when the folder is ours and private; else the headers are compiled again.
TEST_F(HeaderTypes, OnlyAPrivateCachedObjectIsTrusted) {
  std::vector<std::string> headers{"sys/time.h"};
  std::string error;
  std::string path = fs::read_symlink(CompileHeaderTypes(headers, &error));
  ASSERT_FALSE(path.empty()) << error;
  struct stat first, second;
  ASSERT_EQ(stat(path.c_str(), &first), 0);
  // Writable by the group: replaced by a new compile.
  ASSERT_EQ(chmod(path.c_str(), 0620), 0);
  EXPECT_EQ(fs::read_symlink(CompileHeaderTypes(headers, &error)), path);
  ASSERT_EQ(stat(path.c_str(), &second), 0);
  EXPECT_NE(second.st_ino, first.st_ino);
  EXPECT_EQ(second.st_mode & 0777, 0600u);
  // A link in its place: replaced, not followed.
  fs::remove(path);
  fs::create_symlink(root_ + "/widget.h", path);
  EXPECT_EQ(fs::read_symlink(CompileHeaderTypes(headers, &error)), path);
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path)));
  // A folder others may write, or a link in its place: no cache, the object in memory.
  ASSERT_EQ(chmod((root_ + "/btap/header-types").c_str(), 0777), 0);
  std::string in_memory = CompileHeaderTypes(headers, &error);
  EXPECT_EQ(fs::read_symlink(in_memory).string().find("/memfd:"), 0u) << in_memory;
  ASSERT_EQ(chmod((root_ + "/btap/header-types").c_str(), 0700), 0);
  // A link on the way to it (a cache folder kept elsewhere) leads to a folder of ours: used.
  fs::rename(root_ + "/btap", root_ + "/real");
  fs::create_symlink(root_ + "/real", root_ + "/btap");
  EXPECT_EQ(fs::read_symlink(CompileHeaderTypes(headers, &error)),
            root_ + "/real/header-types/" + fs::path(path).filename().string());
  fs::rename(root_ + "/real/header-types", root_ + "/real/elsewhere");
  fs::create_symlink(root_ + "/real/elsewhere", root_ + "/real/header-types");
  in_memory = CompileHeaderTypes(headers, &error);
  EXPECT_EQ(fs::read_symlink(in_memory).string().find("/memfd:"), 0u) << in_memory;
}

// A header that is not a regular file is refused before Clang would read it without end.
TEST_F(HeaderTypes, AHeaderThatIsNoRegularFileIsAnError) {
  std::string error;
  EXPECT_EQ(CompileHeaderTypes({"/dev/zero"}, &error), "");
  EXPECT_EQ(error, "the header </dev/zero> is `/dev/zero`, which is not a regular file");
  // A folder of that name is passed over, as Clang passes over it.
  fs::create_directories(root_ + "/sys/time.h");
  fs::path old = fs::current_path();
  fs::current_path(root_);
  std::string path = CompileHeaderTypes({"sys/time.h"}, &error);
  fs::current_path(old);
  EXPECT_FALSE(path.empty()) << error;
}

}  // namespace
}  // namespace btap::codegen
