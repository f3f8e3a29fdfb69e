// The HelperSDT library's search (its order, and the places an error names) and its
// marks' places read from the built library, checked against ElfImage's reading of the
// same notes; the stapsdt note parser both share (common/sdt_note.h).
#include "common/helper_sdt.h"

#include <gtest/gtest.h>

#include "common/sdt_note.h"

#include <filesystem>
#include <fstream>

#include "semantic/machine/elf_image.h"

namespace btap {
namespace {

namespace fs = std::filesystem;

std::string BuiltLibrary() {
  return (fs::path(BTAP_BINARY).parent_path() / "python/HelperSDT/libbtap_python.so").string();
}

TEST(StapsdtNote, ParsesEitherWidthAndByteOrder) {
  using namespace std::string_literals;
  std::string le64 =
      "\x10\x20\0\0\0\0\0\0"s
      "\0\x30\0\0\0\0\0\0"s
      "\x08\0\0\0\0\0\0\0"s
      "prov\0mark\0-4@%edi 8@$5\0"s;
  std::optional<StapsdtNote> n = ParseStapsdtNote(le64, true, false);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->pc, 0x2010u);
  EXPECT_EQ(n->linked_base, 0x3000u);
  EXPECT_EQ(n->semaphore, 8u);
  EXPECT_EQ(n->provider, "prov");
  EXPECT_EQ(n->name, "mark");
  EXPECT_EQ(n->args, "-4@%edi 8@$5");
  std::string be32 = "\0\0\x20\x10\0\0\x30\0\0\0\0\0p\0m\0\0"s;
  n = ParseStapsdtNote(be32, false, true);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->pc, 0x2010u);
  EXPECT_EQ(n->linked_base, 0x3000u);
  EXPECT_EQ(n->semaphore, 0u);
  EXPECT_EQ(n->args, "");
}

TEST(StapsdtNote, CutShortIsNothing) {
  using namespace std::string_literals;
  EXPECT_FALSE(ParseStapsdtNote(std::string(23, '\0'), true, false));
  EXPECT_FALSE(ParseStapsdtNote(std::string(24, '\0') + "prov\0mark\0no-nul"s, true, false));
}

TEST(StapsdtNote, RebaseMovesByStapsdtBase) {
  StapsdtNote n;
  n.pc = 0x1000;
  n.linked_base = 0x3000;
  n.semaphore = 0x4000;
  n.Rebase(0x3100);  // prelink moved the sections by 0x100
  EXPECT_EQ(n.pc, 0x1100u);
  EXPECT_EQ(n.semaphore, 0x4100u);
  StapsdtNote none = n;
  none.semaphore = 0;
  none.Rebase(0x3200);
  EXPECT_EQ(none.semaphore, 0u);  // no semaphore stays none
  StapsdtNote unlinked = n;
  unlinked.linked_base = 0;  // a note that does not say where the base was
  unlinked.Rebase(0x9000);
  EXPECT_EQ(unlinked.pc, n.pc);
  n.Rebase(std::nullopt);  // no .stapsdt.base section
  EXPECT_EQ(n.pc, 0x1100u);
}

TEST(HelperSdt, SearchOrder) {
  std::vector<std::string> c = HelperSdtCandidates("/opt/x", "/usr/local/bin/btaprun");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], "/opt/x/HelperSDT/libbtap_python.so");
  EXPECT_EQ(c[1], "/usr/local/bin/python/HelperSDT/libbtap_python.so");
  EXPECT_EQ(c[2], "/usr/local/" BTAP_PYTHON_DIR_FOR_TESTS "/HelperSDT/libbtap_python.so");
  // Without $BTAP_HELPERSDT: beside the binary, then its installation.
  EXPECT_EQ(HelperSdtCandidates("", "/usr/local/bin/btaprun").size(), 2u);
  EXPECT_EQ(HelperSdtCandidates(nullptr, "/usr/local/bin/btaprun")[0], c[1]);
}

TEST(HelperSdt, FirstPresentWins) {
  std::string why;
  EXPECT_EQ(HelperSdtLibrary({"/nonexistent/a.so", BuiltLibrary()}, &why), BuiltLibrary());
}

TEST(HelperSdt, MissingNamesWhereItLooked) {
  std::string why;
  EXPECT_EQ(HelperSdtLibrary({"/nonexistent/a/HelperSDT/libbtap_python.so",
                              "/nonexistent/b/HelperSDT/libbtap_python.so"},
                             &why),
            "");
  EXPECT_NE(why.find("not installed"), std::string::npos) << why;
  EXPECT_NE(why.find("`/nonexistent/a/HelperSDT/libbtap_python.so`, "
                     "`/nonexistent/b/HelperSDT/libbtap_python.so`"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("$BTAP_HELPERSDT"), std::string::npos) << why;
}

// Every mark of the built library, where ElfImage (the compiler's reader) puts it.
TEST(HelperSdt, MarksWhereTheCompilerFindsThem) {
  std::string error;
  auto image = sema::ElfImage::Open(BuiltLibrary(), &error);
  ASSERT_TRUE(image) << error;
  int marks = 0;
  for (const sema::SdtNote& n : image->sdt_notes()) {
    if (n.provider != "btap_python") continue;
    ++marks;
    SdtPlace place;
    std::string why;
    ASSERT_TRUE(FindHelperSdtMark(BuiltLibrary(), n.name, &place, &why)) << why;
    EXPECT_EQ(place.offset, image->FileOffset(n.pc).value_or(0)) << n.name;
    EXPECT_EQ(place.semaphore, image->FileOffset(n.semaphore).value_or(0)) << n.name;
    EXPECT_NE(place.semaphore, 0u) << n.name;
  }
  EXPECT_EQ(marks, 18);  // call, return, line; plain, `_details`, `_filtered`; python2 and 3
}

TEST(HelperSdt, UnknownMarkAndNonElf) {
  SdtPlace place;
  std::string why;
  EXPECT_FALSE(FindHelperSdtMark(BuiltLibrary(), "python3_nothing", &place, &why));
  EXPECT_NE(why.find("has no SDT mark btap_python:python3_nothing"), std::string::npos) << why;
  fs::path text = fs::temp_directory_path() / "btap-helper-sdt-test.txt";
  std::ofstream(text) << "not ELF\n";
  EXPECT_FALSE(FindHelperSdtMark(text.string(), "python3_call", &place, &why));
  EXPECT_NE(why.find("not a 64-bit little-endian ELF file"), std::string::npos) << why;
  fs::remove(text);
  EXPECT_FALSE(FindHelperSdtMark("/nonexistent/lib.so", "python3_call", &place, &why));
  EXPECT_NE(why.find("cannot open `/nonexistent/lib.so`"), std::string::npos) << why;
}

}  // namespace
}  // namespace btap
