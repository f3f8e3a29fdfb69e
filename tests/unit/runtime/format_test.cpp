// The runtime's printf against SystemTap's documented behaviour (SEMANTICS.md).
#include "runtime/format.h"

#include <gtest/gtest.h>

#include <cstring>

#include "common/decode_names.h"
#include "common/stats.h"

namespace btap::runtime {
namespace {

std::string F(std::string_view format, std::vector<FormatArg> args) {
  return FormatString(format, args);
}
FormatArg L(int64_t v) { return FormatArg::Long(v); }
FormatArg S(std::string_view s) { return FormatArg::String(s); }

TEST(Format, StapExamples) {
  EXPECT_EQ(F("%c is %s; %x or %X or %p; %d or %u\n",
              {L(97), S("alice"), L(0x1234abcd), L(0x1234abcd), L(0x1234abcd), L(-1), L(-1)}),
            "a is alice; 1234abcd or 1234ABCD or 0x1234abcd; -1 or 18446744073709551615\n");
  EXPECT_EQ(F("%#o %#x %#X\n", {L(1), L(2), L(3)}), "01 0x2 0X3\n");
}

TEST(Format, AlternateFormOfZeroKeepsItsPrefix) { EXPECT_EQ(F("%#x %p", {L(0), L(0)}), "0x0 0x0"); }

TEST(Format, SixtyFourBitValues) {
  EXPECT_EQ(F("%d %x %o", {L(INT64_MIN), L(-1), L(8)}), "-9223372036854775808 ffffffffffffffff 10");
  EXPECT_EQ(F("%u", {L(INT64_MIN)}), "9223372036854775808");
}

TEST(Format, FlagsAndWidths) {
  EXPECT_EQ(F("[%5d][%-5d][%05d][%+d][% d]", {L(42), L(42), L(-42), L(7), L(7)}),
            "[   42][42   ][-0042][+7][ 7]");
  // One flag at most: in `%#08x` the 0 belongs to the width.
  EXPECT_EQ(F("[%#8x][%#08x][%08x]", {L(255), L(255), L(255)}), "[    0xff][    0xff][000000ff]");
  EXPECT_EQ(F("[%.3d][%6.3x]", {L(5), L(10)}), "[005][   00a]");
}

TEST(Format, StarWidthAndPrecision) {
  EXPECT_EQ(F("[%*d][%-*s][%.*s]", {L(4), L(1), L(3), S("a"), L(2), S("hello")}),
            "[   1][a  ][he]");
  EXPECT_EQ(F("[%*d]", {L(-4), L(1)}), "[1   ]");
  // A negative `*` precision is 0, as stap's runtime (vsnprintf) makes it, where C would
  // take it as none: an empty string, a number unchanged.
  EXPECT_EQ(F("[%.*s][%5.*s][%.*d][%.*x]",
              {L(-1), S("hello"), L(-7), S("hi"), L(-2), L(42), L(-1), L(255)}),
            "[][     ][42][ff]");
}

// As stap's runtime reads them: a `*` width is an int (its low 32 bits; -INT_MIN stays
// negative, so no padding), and a field is at most its print buffer, 8192 bytes, wide.
TEST(Format, StarWidthIsAnIntAndFieldsStopAtTheBuffer) {
  EXPECT_EQ(F("[%*d]", {L((int64_t{1} << 32) + 3), L(1)}), "[  1]");
  EXPECT_EQ(F("[%*s]", {L(INT32_MIN), S("ab")}), "[ab]");
  EXPECT_EQ(F("%*d", {L(INT32_MAX), L(7)}), std::string(8191, ' ') + "7");
  EXPECT_EQ(F("%-*s|", {L(-100000), S("x")}), "x" + std::string(8191, ' ') + "|");
  EXPECT_EQ(F("%.*d", {L(1000000), L(5)}), std::string(8191, '0') + "5");
}

TEST(Format, StringsAndCharacters) {
  EXPECT_EQ(F("[%s][%10s][%-6s][%.2s]", {S("x"), S("right"), S("left"), S("trunc")}),
            "[x][     right][left  ][tr]");
  EXPECT_EQ(F("%c%c", {L('o'), L('k')}), "ok");
  // As stap's runtime: `%#s` prints the string as it is; `%#c` escapes the single quote
  // and the backslash (not the double quote) and writes octal for the unprintable.
  EXPECT_EQ(F("%#s|%#c|%#c|%#c", {S("a\"b\n"), L('\t'), L('\''), L(1)}), "a\"b\n|\\t|\\'|\\001");
  EXPECT_EQ(F("100%%", {}), "100%");
}

TEST(Format, BinaryWritesRawBytes) {
  std::string out = F("%b", {L(0x0102030405060708)});
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(static_cast<unsigned char>(out[0]), 0x08);
  EXPECT_EQ(F("%1b%2b", {L(0x41), L(0x4342)}), "ABC");
}

TEST(Format, MalformedRecordsFormatAsZeroOrEmpty) {
  EXPECT_EQ(F("%d %s %d", {S("x"), L(1)}), "0  0");
}

// Groups and `{quoted}` are what print folding writes (semantic/fold_prints.cpp).
std::string Internal(std::string_view format, std::vector<FormatArg> args, size_t limit) {
  std::vector<FormatDirective> d;
  std::string error, out;
  size_t offset = 0;
  EXPECT_TRUE(ParseFormat(format, d, &error, &offset, /*internal=*/true)) << error;
  Format(d, args, out, limit);
  return out;
}

TEST(Format, GroupsPrintTheirTextAsAString) {
  EXPECT_EQ(Internal("f(%{(}%d, %s%{)}s)", {L(3), S("x")}, 256), "f(3, x)");
  EXPECT_EQ(Internal("[%{(}%d%-6{)}s|%{(}ab%5.1{)}s]", {L(42)}, 256), "[42    |    a]");
  // Cut to the string limit less one, as the sprintf it stands for; nested groups too.
  EXPECT_EQ(Internal("%{(}%s%{)}s|", {S("0123456789")}, 8), "0123456|");
  EXPECT_EQ(Internal("%{(}<%{(}%s%{)}s>%{)}s", {S("0123456789")}, 8), "<012345");
}

// printf's %m and %M, as codegen rewrites them: the string is the bytes the handler read
// (NULs and all), whatever the precision said; the width pads the field.
TEST(Format, MemoryBytesPrintAsTheyAreOrAsHex) {
  using namespace std::string_literals;
  EXPECT_EQ(Internal("[%{mem}s][%-4{mem}s][%3.1{mem}s]", {S("ab"), S("c"), S("de")}, 8),
            "[ab][c   ][ de]");
  EXPECT_EQ(Internal("[%{memhex}s][%-6{memhex}s][%#5.*{memhex}s]",
                     {S("\x00\x0f\xff"s), S("A"), L(1), S("z")}, 8),
            "[000fff][41    ][   7a]");
  // The `0` flag pads with spaces still, and stap's runtime writes a NUL after the field.
  EXPECT_EQ(Internal("[%04{mem}s]", {S("ab")}, 8), "[  ab\0]"s);
}

// A histogram a kernel probe prints: 4 bytes of padding, the shape, the merged value;
// the table stats::RenderHistogram makes, and nothing for bytes that hold no histogram.
TEST(Format, HistogramBytesPrintTheTable) {
  stats::Shape shape;
  shape.hist = stats::Hist::Linear;
  shape.start = 0;
  shape.stop = 4;
  shape.interval = 2;
  std::vector<int64_t> value(shape.Slots());
  value[stats::kCount] = 3;
  value[stats::kSum] = 5;
  value[stats::kMax] = 3;
  value[stats::kBuckets + 1] = 1;  // 0..1
  value[stats::kBuckets + 2] = 2;  // 2..3
  std::vector<int64_t> words = {static_cast<int64_t>(shape.hist), 0, 4, 2};
  words.insert(words.end(), value.begin(), value.end());
  std::string bytes(4 + 8 * words.size(), '\0');
  std::memcpy(bytes.data() + 4, words.data(), 8 * words.size());
  std::string table = stats::RenderHistogram(value, shape);
  ASSERT_NE(table.find("    2 |@@"), std::string::npos);
  EXPECT_EQ(Internal("<%{hist}s>", {S(bytes)}, 64), "<" + table + ">");
  EXPECT_EQ(Internal("<%{hist}s>", {S(bytes.substr(0, bytes.size() - 8))}, 64), "<>");
  words[0] = 7;  // no kind of histogram
  std::memcpy(bytes.data() + 4, words.data(), 8);
  EXPECT_EQ(Internal("<%{hist}s>", {S(bytes)}, 64), "<>");
}

TEST(Format, QuotedStringsAreQuotedWhenMarked) {
  EXPECT_EQ(Internal("%{quoted}s %{quoted}s",
                     {S("\x01"
                        "a\"b\n"),
                      S("0x1000")},
                     256),
            "\"a\\\"b\\n\" 0x1000");
  EXPECT_EQ(Internal("[%-8{quoted}s][%.3{quoted}s]",
                     {S("\x01"
                        "ab"),
                      S("\x01"
                        "xyz")},
                     256),
            "[\"ab\"    ][\"xy]");
  EXPECT_EQ(Internal("%{quoted}s",
                     {S("\x01"
                        "abcdefgh")},
                     8),
            "\"ab\"...");  // cut as string_quoted cuts: `"...` ends the 7 bytes
  // The last character's escape does not fit while bytes of the string's buffer remain.
  EXPECT_EQ(Internal("%{quoted}s",
                     {S("\x01"
                        "abcd\n")},
                     8),
            "\"ab\"...");
}

TEST(Format, ArgumentVectorsAreQuotedAndJoined) {
  using namespace std::string_literals;
  std::string none(8, '\0'), fault = "\x00\x10\0\0\0\0\0\0"s;
  EXPECT_EQ(Internal("%{argv}s", {S(none + "a\0b\"\n\0"s)}, 256), "[\"a\", \"b\\\"\\n\"]");
  EXPECT_EQ(Internal("%{argv}s|%{argv}s", {S(fault + "ok\0"s), S(fault)}, 256),
            "[\"ok\", 0x1000]|[0x1000]");
  EXPECT_EQ(Internal("%{argv}s|%-4{argv}s|", {S(none), S(none)}, 256), "[]|[]  |");
  EXPECT_EQ(Internal("%{argv}s", {S(none + "abcdef\0"s)}, 8), "[\"abcde");
}

// `%{decode:MODE:KNOWN:TABLE}d`: a number as a decoder's names (common/decode_names.h),
// printed as `%s` prints the string the kernel's decoder made.
TEST(Format, DecodedNumbersPrintTheirNames) {
  // Flags (mode 0): names in the table's order, the unknown bits left over in hex.
  std::string flags = "%{decode:0:451:1 A 2 B 0x40 C}d";
  EXPECT_EQ(Internal(flags, {L(0x43)}, 256), "A|B|C");
  EXPECT_EQ(Internal(flags, {L(0x1000 | 2)}, 256), "B|0x1000");
  EXPECT_EQ(Internal(flags, {L(0)}, 256), "");
  EXPECT_EQ(Internal("%{decode:2:0:1 A}d", {L(0)}, 256), "0x0");  // DECODE_ZERO
  // A field of a flag word (MASK=VALUE) is not left over.
  EXPECT_EQ(Internal("%{decode:0:2048:0xf=2 T 0x800 N}d", {L(0x802)}, 256), "T|N");
  EXPECT_EQ(Internal("%{decode:0:2048:0xf=2 T 0x800 N}d", {L(0x80e)}, 256), "N|0xe");
  // Values (mode 1): one name, else the number in hex (4), decimal (8) or nothing.
  EXPECT_EQ(Internal("%{decode:9:0:-100 AT_FDCWD}d", {L(-100)}, 256), "AT_FDCWD");
  EXPECT_EQ(Internal("%{decode:9:0:-100 AT_FDCWD}d", {L(-7)}, 256), "-7");
  EXPECT_EQ(Internal("%{decode:5:0:1 ONE}d", {L(-1)}, 256), "0xffffffffffffffff");
  EXPECT_EQ(Internal("%{decode:1:0:1 ONE}d|", {L(2)}, 256), "|");
  // Flag, width and precision as `%s`'s; cut to the string limit less one; in a group.
  EXPECT_EQ(Internal("[%-6{decode:9:0:1 ONE}d|%5{decode:9:0:1 ONE}d|%.2{decode:9:0:1 ONE}d]",
                     {L(1), L(1), L(1)}, 256),
            "[ONE   |  ONE|ON]");
  EXPECT_EQ(Internal(flags, {L(0x1043)}, 8), "A|B|C|0");
  EXPECT_EQ(Internal("f(%{(}%d, %{decode:9:0:-100 AT_FDCWD}d%{)}s)", {L(3), L(-100)}, 256),
            "f(3, AT_FDCWD)");
}

TEST(Format, InternalDirectivesAreCheckedWhenParsed) {
  std::vector<FormatDirective> d;
  std::string error;
  size_t offset = 0;
  for (std::string_view bad : {"%{(}", "%{)}s", "%{(}%*{)}s", "%-{(}x%{)}s", "%{(}x%{)}d"}) {
    d.clear();
    EXPECT_FALSE(ParseFormat(bad, d, &error, &offset, /*internal=*/true)) << bad;
  }
  d.clear();
  EXPECT_FALSE(ParseFormat("%{quoted}s", d, &error, &offset)) << "scripts cannot write them";
  d.clear();
  EXPECT_FALSE(ParseFormat("%{decode:0:0:1 A}s", d, &error, &offset, /*internal=*/true))
      << "a decoded number is a `d`";
  for (std::string_view bad : {"%{decode:0:0:1}d", "%{decode:x:0:1 A}d", "%{decode:0:1 A}d"}) {
    d.clear();
    EXPECT_FALSE(ParseFormat(bad, d, &error, &offset, /*internal=*/true)) << bad;
    EXPECT_EQ(error, "invalid table of names") << bad;
  }
  d.clear();
  ASSERT_TRUE(ParseFormat("%{decode:1:0:3 THREE}d", d, &error, &offset, /*internal=*/true));
  ASSERT_EQ(d.size(), 1u);
  ASSERT_NE(d[0].decode_table, nullptr);
  EXPECT_EQ(d[0].decode_table->entries.size(), 1u);
}

}  // namespace
}  // namespace btap::runtime
