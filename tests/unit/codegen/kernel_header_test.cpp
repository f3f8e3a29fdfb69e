// The kernel's types for embedded C (codegen/kernel_header.h), from a small hand-made BTF:
// a header with CO-RE structs and its precompiled form, cached in a private folder and
// made again when the header is newer than its precompiled form.
#include "codegen/kernel_header.h"

#include <bpf/btf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace btap::codegen {
namespace {

namespace fs = std::filesystem;

class KernelHeader : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/btap-kheader-XXXXXX";
    ASSERT_TRUE(mkdtemp(pattern));
    root_ = pattern;
    const char* old = std::getenv("XDG_CACHE_HOME");
    if (old) saved_ = old, had_ = true;
    setenv("XDG_CACHE_HOME", root_.c_str(), 1);
    btf_ = btf__new_empty();
    int s32 = btf__add_int(btf_, "int", 4, BTF_INT_SIGNED);
    btf__add_struct(btf_, "widget", 8);
    btf__add_field(btf_, "size", s32, 0, 0);
    btf__add_field(btf_, "count", s32, 32, 0);
  }
  void TearDown() override {
    btf__free(btf_);
    if (had_)
      setenv("XDG_CACHE_HOME", saved_.c_str(), 1);
    else
      unsetenv("XDG_CACHE_HOME");
    fs::remove_all(root_);
  }
  fs::path root_;
  std::string saved_;
  bool had_ = false;
  struct btf* btf_ = nullptr;
};

TEST_F(KernelHeader, PrecompiledOnceInAPrivateFolder) {
  KernelTypes types;
  std::string error;
  ASSERT_TRUE(KernelTypesHeader(btf_, &types, &error)) << error;
  ASSERT_FALSE(types.pch.empty()) << "the cache is usable, so the header is precompiled";
  EXPECT_TRUE(types.text.empty());
  fs::path dir = root_ / "btap/headers";
  EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all);
  std::string header = types.pch.substr(0, types.pch.size() - 4);
  std::ifstream in(header);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("preserve_access_index"), std::string::npos);
  EXPECT_NE(text.str().find("struct widget {"), std::string::npos) << text.str();

  // Again: the cached files serve; a header newer than its precompiled form is redone.
  KernelTypes again;
  ASSERT_TRUE(KernelTypesHeader(btf_, &again, &error)) << error;
  EXPECT_EQ(again.pch, types.pch);
  fs::last_write_time(header, fs::last_write_time(types.pch) + std::chrono::hours(1));
  ASSERT_TRUE(KernelTypesHeader(btf_, &again, &error)) << error;
  EXPECT_GE(fs::last_write_time(again.pch), fs::last_write_time(header));
}

TEST_F(KernelHeader, OthersFolderIsNotTrusted) {
  fs::create_directories(root_ / "btap/headers");
  fs::permissions(root_ / "btap/headers", fs::perms::all);  // anyone may write there
  KernelTypes types;
  std::string error;
  ASSERT_TRUE(KernelTypesHeader(btf_, &types, &error)) << error;
  EXPECT_TRUE(types.pch.empty());
  EXPECT_NE(types.text.find("struct widget {"), std::string::npos) << "the text, uncached";
  EXPECT_TRUE(fs::is_empty(root_ / "btap/headers"));
}

// Only what the C's words reach is defined: a member it names keeps its struct, others
// are bytes of their size at their offset; pointers point to declarations; a struct
// that nothing reaches is left out.
TEST(KernelTypesFor, KeepsWhatTheWordsReach) {
  struct btf* btf = btf__new_empty();
  int s32 = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
  int inner = btf__add_struct(btf, "inner", 8);
  btf__add_field(btf, "a", s32, 0, 0);
  btf__add_field(btf, "b", s32, 32, 0);
  int other = btf__add_struct(btf, "other", 16);
  btf__add_field(btf, "x", s32, 0, 0);
  int other_ptr = btf__add_ptr(btf, other);
  int big = btf__add_struct(btf, "big", 8);
  btf__add_field(btf, "z", s32, 0, 0);
  btf__add_struct(btf, "outer", 40);
  btf__add_field(btf, "kept", inner, 0, 0);
  btf__add_field(btf, "hidden", big, 64, 0);
  btf__add_field(btf, "link", other_ptr, 128, 0);
  btf__add_field(btf, "count", s32, 192, 0);
  btf__add_field(btf, "bits", s32, 224, 3);
  btf__add_struct(btf, "unused", 4);
  btf__add_field(btf, "y", s32, 0, 0);
  std::string text, error;
  ASSERT_TRUE(KernelTypesFor(btf, {"outer", "kept"}, &text, &error)) << error;
  btf__free(btf);
  EXPECT_NE(text.find("struct inner {"), std::string::npos) << text;
  EXPECT_NE(text.find("struct inner kept;"), std::string::npos) << text;
  EXPECT_NE(text.find("unsigned char hidden[8];"), std::string::npos) << text;
  EXPECT_NE(text.find("struct other *link;"), std::string::npos) << text;
  EXPECT_EQ(text.find("struct other {"), std::string::npos) << text;
  EXPECT_EQ(text.find("struct big"), std::string::npos) << text;
  EXPECT_NE(text.find("int bits: 3;"), std::string::npos) << text;
  EXPECT_EQ(text.find("unused"), std::string::npos) << text;
}

}  // namespace
}  // namespace btap::codegen
