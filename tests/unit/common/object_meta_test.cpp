// The `.btap.meta` format: round trips, and malformed bytes of every kind are errors
// with a message (run under ASan in CI, so an out-of-bounds read would fail the test).
#include "common/object_meta.h"

#include <gtest/gtest.h>

#include <random>

namespace btap::meta {
namespace {

Meta Sample() {
  Meta m;
  m.script_name = "top.stp";
  m.script_hash = "0123abcd";
  m.limits = {512, 2048, 0, 1000};
  m.formats = {"%s %d\n", "hello\n"};
  Probe begin;
  begin.point = "begin";
  begin.user_side = true;
  begin.sequence = -5;
  Probe tp;
  tp.program = "probe_1";
  tp.point = "kernel.trace(\"sched:sched_switch\")";
  tp.family = 7;
  tp.target = "sched:sched_switch";
  tp.numbers[2] = -3;
  Probe up;
  up.program = "probe_2";
  up.point = "process(\"/bin/true\").function(\"main\")";
  up.family = 10;
  up.target = "/bin/true";
  up.numbers[0] = 0x1040;
  up.build_id = "9237d0f0a4374fa1a582275367d11bf92eb5e075";
  up.may_sleep = true;
  m.probes = {begin, tp, up};
  m.globals = {{"count", "count", ValueType::Long, {}, true, {}},
               {"calls",
                "map_calls",
                ValueType::Stats,
                {ValueType::String, ValueType::Long},
                false,
                {16, 8}}};
  m.core_sites = {{"struct task_struct.se.load", "script.stp:3:20", false},
                  {"struct task_struct.user_dumpable", "script.stp:4:2", true}};
  m.kernel_terms = {{"kernel_v", ">=", "6.2", KernelTerm::Operand::String, true, "a.stp:1:4"},
                    {"CONFIG_HZ", "==", "250", KernelTerm::Operand::Number, false, "a.stp:2:4"}};
  m.kernel_build_id = "4f61d8f6405b1c6eed15a7a3e2e27067394202d3";
  m.syscalls = {{"cachestat", "syscall.cachestat", "a.stp:1:7"}};
  m.tail_slots = {
      {"btap_tail_syscall_enter", 59, "syscall_enter_tail0", "kernel.trace(\"syscalls:*\")"}};
  m.sections = {{"raw_tracepoint/sched_switch", 0x0123456789abcdefull}, {".BTF", 42}};
  return m;
}

std::string_view View(const std::vector<uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}

// Recomputes the trailing checksum, as a (buggy) writer would have: the bytes are then
// malformed rather than damaged.
std::vector<uint8_t> Reseal(std::vector<uint8_t> bytes) {
  uint64_t sum = Fnv1a(View(bytes).substr(0, bytes.size() - 8));
  for (int i = 0; i < 8; ++i) bytes[bytes.size() - 8 + i] = static_cast<uint8_t>(sum >> (8 * i));
  return bytes;
}

TEST(ObjectMeta, RoundTrip) {
  std::vector<uint8_t> bytes = Encode(Sample());
  Meta back;
  std::string error;
  ASSERT_TRUE(Decode(View(bytes), &back, &error)) << error;
  EXPECT_EQ(back, Sample());
  EXPECT_EQ(Encode(back), bytes);  // deterministic
}

TEST(ObjectMeta, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = Encode(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Meta m;
    std::string error;
    EXPECT_FALSE(Decode(View(bytes).substr(0, n), &m, &error)) << n;
    EXPECT_NE(error.find(".btap.meta section"), std::string::npos) << n << ": " << error;
  }
}

TEST(ObjectMeta, TrailingBytesAndBadMagic) {
  std::vector<uint8_t> bytes = Encode(Sample());
  bytes.insert(bytes.end() - 8, 0);
  Meta m;
  std::string error;
  EXPECT_FALSE(Decode(View(Reseal(bytes)), &m, &error));
  EXPECT_NE(error.find("trailing bytes"), std::string::npos) << error;
  bytes = Encode(Sample());
  bytes[0] = 'X';
  EXPECT_FALSE(Decode(View(Reseal(bytes)), &m, &error));
  EXPECT_NE(error.find("bad magic"), std::string::npos) << error;
}

// Any changed byte, even one that leaves a valid structure (a character of a format
// string), is damage.
TEST(ObjectMeta, EveryChangedByteIsDamage) {
  std::vector<uint8_t> original = Encode(Sample());
  for (size_t at = 12; at < original.size(); ++at) {
    std::vector<uint8_t> bytes = original;
    bytes[at] ^= 0x20;
    Meta m;
    std::string error;
    EXPECT_FALSE(Decode(View(bytes), &m, &error)) << at;
    EXPECT_EQ(error, "damaged object: its .btap.meta section does not match its checksum") << at;
  }
}

TEST(ObjectMeta, SectionDigestsCoverHeaderAndContents) {
  SectionHeader h{1, 6, 0, 4, 0, 0, 8, 0};
  uint64_t d = DigestSection(".text", h, "abcd");
  EXPECT_EQ(d, DigestSection(".text", h, "abcd"));
  EXPECT_NE(d, DigestSection(".texu", h, "abcd"));
  EXPECT_NE(d, DigestSection(".text", h, "abce"));
  auto changed = [&](auto SectionHeader::*field) {
    SectionHeader c = h;
    c.*field += 1;
    return DigestSection(".text", c, "abcd");
  };
  EXPECT_NE(d, changed(&SectionHeader::type));
  EXPECT_NE(d, changed(&SectionHeader::flags));
  EXPECT_NE(d, changed(&SectionHeader::address));
  EXPECT_NE(d, changed(&SectionHeader::size));
  EXPECT_NE(d, changed(&SectionHeader::link));
  EXPECT_NE(d, changed(&SectionHeader::info));
  EXPECT_NE(d, changed(&SectionHeader::addralign));
  EXPECT_NE(d, changed(&SectionHeader::entsize));
  EXPECT_EQ(Fnv1a(""), 14695981039346656037ull);
  EXPECT_EQ(Fnv1a("a"), 0xaf63dc4c8601ec8cull);  // the published FNV-1a 64 test vector
}

TEST(ObjectMeta, OtherVersionsAreRefusedClearly) {
  std::vector<uint8_t> bytes = Encode(Sample());
  bytes[8] = 1;  // objects from before uprobes recorded build ids
  Meta m;
  std::string error;
  EXPECT_FALSE(Decode(View(bytes), &m, &error));
  EXPECT_NE(error.find("version is 1"), std::string::npos) << error;
}

TEST(ObjectMeta, HugeCountsDoNotAllocate) {
  std::vector<uint8_t> bytes = Encode(Meta());
  // The formats count sits after magic, version, two empty strings and four limits.
  size_t at = 8 + 4 + 4 + 4 + 16;
  for (int i = 0; i < 4; ++i) bytes[at + i] = 0xff;
  Meta m;
  std::string error;
  EXPECT_FALSE(Decode(View(Reseal(bytes)), &m, &error));
  EXPECT_NE(error.find("impossible count of formats"), std::string::npos) << error;
}

TEST(ObjectMeta, RandomCorruptionNeverCrashes) {
  std::vector<uint8_t> original = Encode(Sample());
  std::mt19937 rng(42);
  size_t decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> bytes = original;
    for (int flips = 1 + rng() % 4; flips > 0; --flips)
      bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    if (round % 2) bytes = Reseal(bytes);  // reach every field's checks, not only the checksum
    Meta m;
    std::string error;
    if (Decode(View(bytes), &m, &error))
      ++decoded;
    else
      EXPECT_FALSE(error.empty());
  }
  std::printf("%zu of 20000 corrupted sections still decoded (changed strings or numbers)\n",
              decoded);
}

}  // namespace
}  // namespace btap::meta
