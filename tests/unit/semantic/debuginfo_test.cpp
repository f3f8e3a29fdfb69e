// DebugInfo over the test programs built at -O0 and -O2 (tests/runtime/programs): the
// function index, entry-probe placement, variables in scope, locations and type names.
#include "semantic/machine/debuginfo.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "semantic/machine/elf_image.h"

namespace btap::sema {
namespace {

struct Opened {
  std::unique_ptr<ElfImage> elf;
  std::unique_ptr<DebugInfo> dwarf;
};

Opened Open(const std::string& path) {
  Opened o;
  std::string error;
  o.elf = ElfImage::Open(path, &error);
  EXPECT_TRUE(o.elf) << error;
  if (o.elf) o.dwarf = DebugInfo::Open(*o.elf, &error);
  EXPECT_TRUE(o.dwarf) << error;
  return o;
}

const DebugFunction* Find(DebugInfo& d, std::string_view name, bool inlined) {
  for (const DebugFunction& f : d.functions())
    if (f.name == name && f.inlined == inlined) return &f;
  return nullptr;
}

TEST(DebugInfo, IndexesFunctionsWithTheirDeclarations) {
  Opened o = Open(BTAP_UPROBE_TARGET_O0);
  ASSERT_TRUE(o.dwarf);
  const DebugFunction* f = Find(*o.dwarf, "add_point", false);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->line, 55);
  EXPECT_TRUE(f->file.ends_with("uprobe_target.c")) << f->file;
  EXPECT_TRUE(f->external);
  // scale() is always inlined into apply_scale: an inlined instance, in its frame.
  const DebugFunction* scale = Find(*o.dwarf, "scale", true);
  ASSERT_TRUE(scale);
  EXPECT_EQ(scale->frame, Find(*o.dwarf, "apply_scale", false)->die);
}

TEST(DebugInfo, NamesTheFileOfASourceCompiledByARelativePath) {
  // Clang's DWARF 5 then declares the unit's functions in the line table's file 0, which
  // libdw before 0.191 reads as "no file".
  char made[] = "/tmp/btap-debuginfo-XXXXXX";
  ASSERT_TRUE(mkdtemp(made));
  std::string dir = made;
  std::ofstream(dir + "/x.c")
      << "int answer(void) { return 42; }\nint main(void) { return answer(); }\n";
  std::string cc = "cd " + dir + " && clang-16 -g -gdwarf-5 -O0 -o x x.c >/dev/null 2>&1";
  if (std::system(cc.c_str()) != 0) {
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "no clang-16 to build the program";
  }
  Opened o = Open(dir + "/x");
  const DebugFunction* f = o.dwarf ? Find(*o.dwarf, "answer", false) : nullptr;
  ASSERT_TRUE(f);
  EXPECT_EQ(f->file, dir + "/x.c");
  EXPECT_EQ(f->line, 1);
  std::filesystem::remove_all(dir);
}

TEST(DebugInfo, PlacesEntryProbesAsStapDoes) {
  Opened o0 = Open(BTAP_UPROBE_TARGET_O0), o2 = Open(BTAP_UPROBE_TARGET_O2);
  ASSERT_TRUE(o0.dwarf && o2.dwarf);
  const DebugFunction* f0 = Find(*o0.dwarf, "add_point", false);
  const DebugFunction* f2 = Find(*o2.dwarf, "add_point", false);
  ASSERT_TRUE(f0 && f2);
  EXPECT_GT(o0.dwarf->ProbeAddress(*f0), f0->entry);  // after the prologue
  EXPECT_EQ(o2.dwarf->ProbeAddress(*f2), f2->entry);  // location lists: at the entry
}

TEST(DebugInfo, ListsVariablesAndLocatesThem) {
  for (const char* path : {BTAP_UPROBE_TARGET_O0, BTAP_UPROBE_TARGET_O2}) {
    Opened o = Open(path);
    ASSERT_TRUE(o.dwarf);
    const DebugFunction* f = Find(*o.dwarf, "add_point", false);
    ASSERT_TRUE(f);
    uint64_t at = o.dwarf->ProbeAddress(*f);
    std::vector<std::string> params, types;
    for (DebugVariable& v : o.dwarf->Variables(*f, at, false)) {
      if (!v.parameter) continue;
      params.push_back(v.name);
      Dwarf_Die t;
      types.push_back(TypeOf(&v.die, &t) ? TypeName(&t) : "void");
      Location l = o.dwarf->Locate(*f, &v.die, at);
      EXPECT_NE(l.kind, Location::Kind::Unavailable) << path << " $" << v.name << ": " << l.why;
    }
    EXPECT_EQ(params, (std::vector<std::string>{"a", "b", "s", "p"})) << path;
    ASSERT_EQ(types.size(), 4u);
    EXPECT_EQ(types[2], "char const*");
    EXPECT_EQ(types[3], "struct point*");
  }
}

TEST(DebugInfo, FindsStatementsTypesAndGlobals) {
  Opened o = Open(BTAP_UPROBE_TARGET_O0);
  ASSERT_TRUE(o.dwarf);
  const DebugFunction* f = Find(*o.dwarf, "add_point", false);
  ASSERT_TRUE(f);
  EXPECT_FALSE(o.dwarf->LineAddresses("uprobe_target.c", 57, f->entry, f->entry + 4096).empty());
  EXPECT_TRUE(o.dwarf->LineAddresses("uprobe_target.c", 1, 0, 0).empty());
  EXPECT_TRUE(o.dwarf->Type("struct record").has_value());
  EXPECT_FALSE(o.dwarf->Type("struct nosuch").has_value());
  std::optional<Dwarf_Die> g = o.dwarf->Global("btap_global", "uprobe_target.c");
  ASSERT_TRUE(g.has_value());
  Location l = o.dwarf->Locate(*f, &*g, f->entry);
  EXPECT_EQ(l.kind, Location::Kind::Memory);  // DW_OP_addr: an address plus the load bias
}

TEST(DebugInfo, SaysWhereItLookedWhenThereIsNone) {
  std::string stripped = testing::TempDir() + "/uprobe_target_stripped";
  std::string cmd =
      "objcopy --strip-debug '" + std::string(BTAP_UPROBE_TARGET_O0) + "' '" + stripped + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string error;
  std::unique_ptr<ElfImage> elf = ElfImage::Open(stripped, &error);
  ASSERT_TRUE(elf) << error;
  EXPECT_FALSE(DebugInfo::Open(*elf, &error));
  EXPECT_NE(error.find("no debug information for"), std::string::npos) << error;
  EXPECT_NE(error.find("rebuild it with -g"), std::string::npos) << error;
}

}  // namespace
}  // namespace btap::sema
