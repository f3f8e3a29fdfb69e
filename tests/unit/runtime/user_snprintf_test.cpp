// bpf_snprintf on the user side (runtime/user_snprintf.h): the kernel's conversions over
// u64 arguments, truncation, and addresses checked against what the program may touch.
#include "runtime/user_snprintf.h"

#include <cstring>

#include <gtest/gtest.h>

namespace btap::runtime {
namespace {

struct Call {
  Interpreter memory;
  char out[32] = {};
  char fmt[64] = {};
  char text[8] = "str";
  uint64_t data[4] = {};
  Call() {
    memory.AddRegion(out, sizeof out, true);
    memory.AddRegion(fmt, sizeof fmt, false);
    memory.AddRegion(text, sizeof text, false);
    memory.AddRegion(data, sizeof data, false);
  }
  uint64_t Run(const char* format, std::initializer_list<uint64_t> args, uint64_t size,
               std::string* error) {
    std::strncpy(fmt, format, sizeof fmt - 1);
    size_t n = 0;
    for (uint64_t a : args) data[n++] = a;
    uint64_t regs[5] = {reinterpret_cast<uint64_t>(out), size, reinterpret_cast<uint64_t>(fmt),
                        reinterpret_cast<uint64_t>(data), 8 * n};
    return UserSnprintf(memory, regs, error);
  }
};

TEST(UserSnprintf, FormatsLikeTheKernel) {
  Call c;
  std::string error;
  uint64_t n = c.Run("v=%lld %s %x %5d%%",
                     {static_cast<uint64_t>(-3), reinterpret_cast<uint64_t>(c.text), 255, 42},
                     sizeof c.out, &error);
  EXPECT_EQ(error, "");
  EXPECT_STREQ(c.out, "v=-3 str ff    42%");
  EXPECT_EQ(n, std::strlen(c.out) + 1);
}

TEST(UserSnprintf, NumbersWithoutLAre32Bits) {
  Call c;
  std::string error;
  c.Run("%d %x %ld %lx", {0x100000001ull, static_cast<uint64_t>(-1), 0x100000001ull, 255},
        sizeof c.out, &error);
  EXPECT_EQ(error, "");
  EXPECT_STREQ(c.out, "1 ffffffff 4294967297 ff");
}

TEST(UserSnprintf, LongConversionsAreWhole) {
  Interpreter memory;
  char out[400] = {}, fmt[8] = "[%s]";
  std::string text(300, 'x');
  uint64_t data[1] = {reinterpret_cast<uint64_t>(text.c_str())};
  memory.AddRegion(out, sizeof out, true);
  memory.AddRegion(fmt, sizeof fmt, false);
  memory.AddRegion(text.c_str(), text.size() + 1, false);
  memory.AddRegion(data, sizeof data, false);
  uint64_t regs[5] = {reinterpret_cast<uint64_t>(out), sizeof out, reinterpret_cast<uint64_t>(fmt),
                      reinterpret_cast<uint64_t>(data), 8};
  std::string error;
  EXPECT_EQ(UserSnprintf(memory, regs, &error), 303u);  // with the NUL, as the kernel counts
  EXPECT_EQ(std::string(out), "[" + text + "]");
}

TEST(UserSnprintf, TruncatesToTheBuffer) {
  Call c;
  std::string error;
  uint64_t n = c.Run("%s and more", {reinterpret_cast<uint64_t>(c.text)}, 6, &error);
  EXPECT_STREQ(c.out, "str a");
  EXPECT_EQ(n, std::strlen("str and more") + 1);
}

TEST(UserSnprintf, RefusesWhatTheProgramMayNotTouch) {
  Call c;
  std::string error;
  c.Run("%d", {1}, sizeof c.out + 1, &error);
  EXPECT_EQ(error, "snprintf: buffer out of bounds");
  error.clear();
  c.Run("%d %d", {1}, sizeof c.out, &error);
  EXPECT_NE(error.find("too few arguments"), std::string::npos);
  error.clear();
  c.Run("%s", {8}, sizeof c.out, &error);  // an address it may not read: nothing printed
  EXPECT_EQ(error, "");
  EXPECT_STREQ(c.out, "");
}

}  // namespace
}  // namespace btap::runtime
