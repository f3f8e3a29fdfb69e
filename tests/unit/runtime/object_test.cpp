// Reading compiled objects as btaprun does before anything is loaded: section digests
// catch damage, no mutation of a real object (sealed again or not) makes the reader
// throw or crash, malformed BTF is refused before libbpf follows it, and NAME=VALUE
// assignments are checked against the metadata's globals.
#include "runtime/object.h"

#include <gtest/gtest.h>
#include <linux/btf.h>

#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "codegen/seal.h"
#include "runtime/object_btf.h"
#include "runtime/session.h"
#include "tests/unit/driver/run_btap.h"
#include "tools/btap/driver.h"

namespace btap::runtime {
namespace {

const char kScript[] =
    "global count = 3, name = \"dflt\", seen, hits\n"
    "probe begin { seen[name] = count; hits <<< 1 }\n"
    "probe timer.ms(100) { count++; exit() }\n"
    "probe end { printf(\"%s %d\\n\", name, count) }\n";

// A real object, compiled once by `btap -p4`.
const std::vector<uint8_t>& RealObject() {
  static const std::vector<uint8_t> object = [] {
    std::string path = testing::TempDir() + "/object_test.bo";
    driver::Ran ran;
    EXPECT_EQ((ran = driver::RunBtap({"-p4", "-o", path, "-e", kScript})).status, 0) << ran.err;
    std::ifstream file(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), {});
  }();
  return object;
}

struct Section {
  std::string name;
  uint64_t offset, size;
};

// The sections that have contents, from the ELF64 section headers.
std::vector<Section> Sections(const std::vector<uint8_t>& o) {
  auto u16 = [&](size_t at) { return uint32_t(o[at]) | uint32_t(o[at + 1]) << 8; };
  auto u32 = [&](size_t at) { return u16(at) | u16(at + 2) << 16; };
  auto u64 = [&](size_t at) { return uint64_t(u32(at)) | uint64_t(u32(at + 4)) << 32; };
  uint64_t shoff = u64(0x28);
  uint32_t count = u16(0x3c), names = u16(0x3e);
  uint64_t strings = u64(shoff + names * 64 + 0x18);
  std::vector<Section> out;
  for (uint32_t i = 1; i < count; ++i) {
    size_t h = shoff + i * 64;
    if (u32(h + 4) == 8 /* SHT_NOBITS */ || u64(h + 0x20) == 0) continue;
    out.push_back(
        {reinterpret_cast<const char*>(o.data() + strings + u32(h)), u64(h + 0x18), u64(h + 0x20)});
  }
  return out;
}

TEST(Object, RealObjectReadsBackWithDigests) {
  meta::Meta m;
  std::string error;
  ASSERT_TRUE(ReadObjectMeta(RealObject(), &m, &error)) << error;
  EXPECT_EQ(m.globals.size(), 4u);
  // Every section with contents has a digest.
  for (const Section& s : Sections(RealObject())) {
    bool found = false;
    for (const meta::SectionDigest& d : m.sections) found |= d.name == s.name;
    EXPECT_TRUE(found) << s.name;
  }
}

// A flipped byte anywhere in any section is reported as damage naming the section.
TEST(Object, FlippedByteIsDamage) {
  int programs = 0;
  for (const Section& s : Sections(RealObject())) {
    std::vector<uint8_t> object = RealObject();
    object[s.offset + s.size / 2] ^= 0x01;
    meta::Meta m;
    std::string error;
    EXPECT_FALSE(ReadObjectMeta(object, &m, &error)) << s.name;
    if (s.name == meta::kSectionName) {
      EXPECT_EQ(error, "damaged object: its .btap.meta section does not match its checksum");
      continue;
    }
    // A flip in the string table may land in a section's name, which is then another
    // section than its digest says.
    if (error.find("its digest is for `" + s.name + "`") == std::string::npos)
      EXPECT_EQ(error, "damaged object: section `" + s.name + "` does not match its digest");
    programs += s.name.rfind("btap_user/", 0) == 0 || s.name.rfind("perf_event", 0) == 0;
  }
  EXPECT_GE(programs, 2);  // the begin/end programs and the timer's
}

TEST(Object, TruncatedObjectIsAnError) {
  std::vector<uint8_t> object = RealObject();
  object.resize(object.size() - 100);
  meta::Meta m;
  std::string error;
  EXPECT_FALSE(ReadObjectMeta(object, &m, &error));
  EXPECT_FALSE(error.empty());
}

// 300 seeded mutations of a real object (byte flips, runs of random bytes, truncations):
// reading it and opening a session on it (everything before the kernel) return an
// error or success, and never throw. Under ASan an out-of-bounds read fails the test.
TEST(Object, MutatedObjectsNeverThrow) {
  std::mt19937 rng(13);
  int refused = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<uint8_t> object = RealObject();
    switch (round % 3) {
      case 0:
        for (int flips = 1 + rng() % 8; flips > 0; --flips)
          object[rng() % object.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
        break;
      case 1: {
        size_t at = rng() % object.size(), n = 1 + rng() % 64;
        for (size_t i = at; i < std::min(object.size(), at + n); ++i)
          object[i] = static_cast<uint8_t>(rng());
        break;
      }
      default:
        object.resize(rng() % object.size());
    }
    meta::Meta m;
    std::string error;
    bool ok = true;
    EXPECT_NO_THROW(ok = ReadObjectMeta(object, &m, &error)) << round;
    if (!ok) {
      ++refused;
      EXPECT_FALSE(error.empty()) << round;
    }
    Session session;
    EXPECT_NO_THROW(ok = session.Open(object, &error)) << round;
  }
  // Digests cover every byte anything reads; only the padding between sections (and
  // the offsets of empty ones) may change unnoticed.
  EXPECT_GE(refused, 295);
}

// Objects that match their digests but are malformed (as another tool could write them):
// each of 300 mutations is sealed again, and opening a session (libbpf's open included)
// returns an error or success without throwing or crashing.
TEST(Object, SealedMalformedObjectsNeverCrash) {
  meta::Meta m;
  std::string error;
  ASSERT_TRUE(ReadObjectMeta(RealObject(), &m, &error)) << error;
  std::mt19937 rng(1300);
  int sealed = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<uint8_t> object = RealObject();
    for (int flips = 1 + rng() % 3; flips > 0; --flips)
      object[rng() % object.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    if (!codegen::SealObject(object, m, &error)) continue;
    ++sealed;
    Session session;
    bool ok = false;
    EXPECT_NO_THROW(ok = session.Open(object, &error)) << round;
    if (!ok) EXPECT_FALSE(error.empty()) << round;
  }
  EXPECT_GT(sealed, 150);
}

// A minimal .BTF section: header, the given type words, strings "\0a\0".
std::string Btf(const std::vector<uint32_t>& words) {
  std::string types(reinterpret_cast<const char*>(words.data()), words.size() * 4);
  std::string strings("\0a\0", 3);
  btf_header h{};
  h.magic = BTF_MAGIC;
  h.version = BTF_VERSION;
  h.hdr_len = sizeof h;
  h.type_off = 0;
  h.type_len = static_cast<uint32_t>(types.size());
  h.str_off = h.type_len;
  h.str_len = static_cast<uint32_t>(strings.size());
  return std::string(reinterpret_cast<const char*>(&h), sizeof h) + types + strings;
}

uint32_t Info(uint32_t kind, uint32_t vlen = 0) { return kind << 24 | vlen; }

TEST(Object, BtfThatLibbpfWouldFollowBlindlyIsRefused) {
  std::string error;
  // [1] int, [2] typedef a -> 1, [3] const -> 2: well formed.
  EXPECT_TRUE(CheckBtf(
      Btf({1, Info(BTF_KIND_INT), 4, 32, 1, Info(BTF_KIND_TYPEDEF), 1, 0, Info(BTF_KIND_CONST), 2}),
      &error))
      << error;
  EXPECT_FALSE(CheckBtf(Btf({1, Info(BTF_KIND_TYPEDEF), 1}), &error));
  EXPECT_EQ(error,
            "malformed object: its .BTF section has a loop of typedefs or modifiers at type 1");
  EXPECT_FALSE(CheckBtf(Btf({0, Info(BTF_KIND_PTR), 7}), &error));
  EXPECT_EQ(error, "malformed object: its .BTF section refers from type 1 to a type it lacks");
  EXPECT_FALSE(CheckBtf(Btf({1, Info(BTF_KIND_INT), 4, 32, 1, Info(BTF_KIND_FUNC), 1}), &error));
  EXPECT_EQ(error, "malformed object: its .BTF section gives function type 2 no prototype");
  EXPECT_FALSE(CheckBtf(Btf({1, Info(30), 0}), &error));
  EXPECT_EQ(error, "malformed object: its .BTF section has type 1 of unknown kind 30");
  EXPECT_FALSE(CheckBtf(Btf({9, Info(BTF_KIND_INT), 4, 32}), &error));
  EXPECT_EQ(error, "malformed object: its .BTF section names type 1 outside its strings");
  EXPECT_FALSE(CheckBtf(Btf({0, Info(BTF_KIND_STRUCT, 2), 8, 0, 1, 0}), &error));
  EXPECT_EQ(error, "malformed object: its .BTF section ends inside a type");
  EXPECT_FALSE(CheckBtf(Btf({}).substr(0, 10), &error));
  EXPECT_EQ(error, "malformed object: its .BTF section is truncated");
}

// Each kernel program's place in its section (its symbol), which tells its CO-RE
// relocations from those of the programs that share the section.
TEST(Object, FindsEachProgramsPlace) {
  const std::string script =
      "probe kernel.trace(\"sched:sched_switch\") { println(1) }\n"
      "probe kernel.trace(\"sched:sched_wakeup\") { println(2) }\n";
  std::string path = testing::TempDir() + "/object_places.bo";
  driver::Ran ran;
  ASSERT_EQ((ran = driver::RunBtap({"-p4", "-o", path, "-e", script})).status, 0) << ran.err;
  std::ifstream file(path, std::ios::binary);
  std::vector<uint8_t> object(std::istreambuf_iterator<char>(file), {});
  meta::Meta m;
  std::string error;
  ASSERT_TRUE(ReadObjectMeta(object, &m, &error)) << error;
  std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> places;
  for (const meta::Probe& p : m.probes) {
    if (p.program.empty() || p.user_side) continue;
    std::string section;
    uint64_t offset = 0, size = 0;
    ASSERT_TRUE(ObjectFunction(object, p.program, &section, &offset, &size)) << p.program;
    EXPECT_GT(size, 0u);
    EXPECT_EQ(size % 8, 0u);  // whole instructions
    EXPECT_NE(section, ".text");
    for (const auto& [other, range] : places)
      if (other == section)
        EXPECT_TRUE(offset >= range.second || offset + size <= range.first) << "overlap";
    places.push_back({section, {offset, offset + size}});
  }
  EXPECT_EQ(places.size(), 2u);
  std::string section;
  uint64_t offset, size;
  EXPECT_FALSE(ObjectFunction(object, "no_such_program", &section, &offset, &size));
  EXPECT_FALSE(ObjectFunction(std::vector<uint8_t>{1, 2, 3}, "x", &section, &offset, &size));
}

TEST(Object, GlobalAssignments) {
  meta::Meta m;
  std::string error;
  ASSERT_TRUE(ReadObjectMeta(RealObject(), &m, &error)) << error;
  const meta::Global* g = nullptr;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(GlobalAssignment(m, "count", "0x10", &g, &bytes, &error)) << error;
  EXPECT_EQ(g->name, "count");
  EXPECT_EQ(bytes, (std::vector<uint8_t>{16, 0, 0, 0, 0, 0, 0, 0}));
  ASSERT_TRUE(GlobalAssignment(m, "count", "-2", &g, &bytes, &error)) << error;
  EXPECT_EQ(bytes[0], 0xfe);
  EXPECT_EQ(bytes[7], 0xff);
  ASSERT_TRUE(GlobalAssignment(m, "name", "hi", &g, &bytes, &error)) << error;
  EXPECT_EQ(bytes, (std::vector<uint8_t>{'h', 'i', 0}));
  // Longer than MAXSTRINGLEN: truncated, as stap truncates strings.
  ASSERT_TRUE(GlobalAssignment(m, "name", std::string(5000, 'x'), &g, &bytes, &error));
  EXPECT_EQ(bytes.size(), m.limits.max_string_len);
  EXPECT_EQ(bytes.back(), 0);

  EXPECT_FALSE(GlobalAssignment(m, "count", "12abc", &g, &bytes, &error));
  EXPECT_EQ(error, "`count=12abc`: `count` is a long; expected a number");
  EXPECT_FALSE(GlobalAssignment(m, "count", "", &g, &bytes, &error));
  EXPECT_EQ(error, "`count=`: `count` is a long; expected a number");
  EXPECT_FALSE(GlobalAssignment(m, "count", "99999999999999999999", &g, &bytes, &error));
  EXPECT_EQ(error,
            "`count=99999999999999999999`: `count` is a long; expected a number that fits in "
            "64 bits");
  EXPECT_FALSE(GlobalAssignment(m, "nope", "1", &g, &bytes, &error));
  EXPECT_EQ(error, "`nope=1`: the script has no global `nope` (or it is never used)");
  EXPECT_FALSE(GlobalAssignment(m, "seen", "1", &g, &bytes, &error));
  EXPECT_EQ(error, "`seen=1`: `seen` is not a scalar; only global longs and strings can be set");
  EXPECT_FALSE(GlobalAssignment(m, "hits", "1", &g, &bytes, &error));
  EXPECT_EQ(error, "`hits=1`: `hits` is not a scalar; only global longs and strings can be set");
}

}  // namespace
}  // namespace btap::runtime
