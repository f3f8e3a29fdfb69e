// Kernel symbol lookup from kallsyms text and stap's address formats (runtime/symbols.h),
// and the `%{mode}s` directives that only internal formats may use.
#include "runtime/symbols.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

namespace btap::runtime {
namespace {

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

constexpr char kKallsyms[] =
    "0000000000000000 A fixed_percpu_data\n"
    "000000000001f000 D per_cpu_thing\n"
    "ffffffff81000000 T _stext\n"
    "ffffffff81000000 T startup_64\n"
    "ffffffff81000100 t helper\n"
    "ffffffff81000180 T vfs_read\n"
    "ffffffff81000320 T vfs_write\n"
    "ffffffffc0100000 t mod_init\t[ext4]\n"
    "ffffffffc0100040 t mod_exit\t[ext4]\n"
    "ffffffffc0200000 t other\t[xfs]\n"
    "ffffffffc0200010 T last\n";

constexpr char kModules[] =
    "ext4 4096 1 - Live 0xffffffffc0100000\n"
    "xfs 8192 0 - Live 0xffffffffc0200000 (E)\n";

KernelSymbols Symbols() {
  KernelSymbols s;
  s.Parse(kKallsyms, kModules);
  return s;
}

TEST(KernelSymbols, LooksUpTheSymbolThatContainsAnAddress) {
  KernelSymbols s = Symbols();
  SymbolHit hit;
  ASSERT_TRUE(s.Lookup(0xffffffff81000184, &hit));
  EXPECT_EQ(hit.name, "vfs_read");
  EXPECT_EQ(hit.module, "kernel");
  EXPECT_EQ(hit.offset, 4u);
  EXPECT_EQ(hit.size, 0x1a0u);
  // Aliases at one address: the first listed wins, as in the kernel's lookup.
  ASSERT_TRUE(s.Lookup(0xffffffff81000010, &hit));
  EXPECT_EQ(hit.name, "_stext");
  EXPECT_EQ(hit.size, 0x100u);
  ASSERT_TRUE(s.Lookup(0xffffffffc0100004, &hit));
  EXPECT_EQ(hit.name, "mod_init");
  EXPECT_EQ(hit.module, "ext4");
  EXPECT_EQ(hit.size, 0x40u);
}

TEST(KernelSymbols, UnknownAddresses) {
  KernelSymbols s = Symbols();
  SymbolHit hit;
  EXPECT_FALSE(s.Lookup(0x10, &hit));                              // user space, below every symbol
  EXPECT_FALSE(s.Lookup(0x1f008, &hit));                           // per-CPU offsets are left out
  EXPECT_FALSE(s.Lookup(0xffffffffc0101000, &hit));                // past a module's end
  EXPECT_FALSE(s.Lookup(0xffffffffc0200020, &hit));                // past the last symbol
  EXPECT_FALSE(KernelSymbols().Lookup(0xffffffff81000184, &hit));  // no kallsyms at all
}

TEST(KernelSymbols, StapFormats) {
  KernelSymbols s = Symbols();
  EXPECT_EQ(Symbolize(s, Symbolic::Name, "0xffffffff81000184"), "vfs_read");
  EXPECT_EQ(Symbolize(s, Symbolic::Name, "0x10"), "0x10");
  EXPECT_EQ(Symbolize(s, Symbolic::Data, "0xffffffff81000180"), "vfs_read+0x0/0x1a0 [kernel]");
  // A module's last symbol ends with the module (/proc/modules).
  EXPECT_EQ(Symbolize(s, Symbolic::Data, "0xffffffffc0100041"), "mod_exit+0x1/0xfc0 [ext4]");
  EXPECT_EQ(Symbolize(s, Symbolic::Data, "0x0"), "0x0");
  EXPECT_EQ(Symbolize(s, Symbolic::Caller, "0xffffffff81000190"), "vfs_read 0xffffffff81000190");
  // The kernel image's last symbol before the modules ends nowhere known.
  EXPECT_EQ(Symbolize(s, Symbolic::Caller, "0xffffffff81000330"),
            "0xffffffff81000330 0xffffffff81000330");
  const char* stack = "0xffffffff81000184 0x1234 0xffffffffc0100004";
  EXPECT_EQ(Symbolize(s, Symbolic::Full, stack),
            " 0xffffffff81000184 : vfs_read+0x4/0x1a0 [kernel]\n"
            " 0x1234\n"
            " 0xffffffffc0100004 : mod_init+0x4/0x40 [ext4]\n");
  EXPECT_EQ(Symbolize(s, Symbolic::Syms, stack),
            " 0xffffffff81000184 : vfs_read+0x4/0x1a0 [kernel]\n"
            " 0x1234 : 0x1234\n"
            " 0xffffffffc0100004 : mod_init+0x4/0x40 [ext4]\n");
  EXPECT_EQ(Symbolize(s, Symbolic::Simple, stack),
            "vfs_read+0x4 [kernel]\n"
            "0x1234\n"
            "mod_init+0x4 [ext4]\n");
  EXPECT_EQ(Symbolize(s, Symbolic::Full, ""), "");
}

TEST(KernelSymbols, SymbolicDirectivesAreInternal) {
  std::vector<FormatDirective> d;
  std::string error;
  size_t offset = 0;
  EXPECT_FALSE(ParseFormat("<%-20{symname}s>", d, &error, &offset));
  d.clear();
  ASSERT_TRUE(ParseFormat("<%-20{symname}s|%{backtrace}s>", d, &error, &offset, true)) << error;
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[1].symbolic, Symbolic::Name);
  EXPECT_EQ(d[1].width, 20);
  EXPECT_EQ(d[1].flag, '-');
  EXPECT_EQ(d[1].arg, FormatDirective::Arg::String);
  EXPECT_EQ(d[3].symbolic, Symbolic::Full);
  d.clear();
  EXPECT_FALSE(ParseFormat("%{nosuch}s", d, &error, &offset, true));
  EXPECT_FALSE(ParseFormat("%{symname}d", d, &error, &offset, true));
  EXPECT_FALSE(ParseFormat("%{symname", d, &error, &offset, true));
  d.clear();
  ASSERT_TRUE(ParseFormat("%{task}d%-9{usymdata}s", d, &error, &offset, true)) << error;
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].rendering, FormatDirective::Rendering::Task);
  EXPECT_EQ(d[0].arg, FormatDirective::Arg::Long);
  EXPECT_EQ(d[1].symbolic, Symbolic::UData);
  EXPECT_EQ(KernelShape(d[1].symbolic), Symbolic::Data);
  EXPECT_EQ(SymbolicName(Symbolic::UFuller), "ubacktrace_fileline");
  EXPECT_FALSE(ParseFormat("%{task}s", d, &error, &offset, true));
}

// A process's symbols as libdwfl gives them: modules named by path, symbols sized by
// their ELF size, lines where DWARF has them.
class FakeProcess : public SymbolSource {
 public:
  bool Lookup(uint64_t a, SymbolHit* hit) const override {
    if (a >= 0x401000 && a < 0x402000) {
      hit->module = "/usr/bin/prog";
      if (a < 0x401100) {
        hit->name = "main";
        hit->offset = a - 0x401000;
        hit->size = 0x40;
      } else {
        hit->offset = a - 0x400000;
        hit->size = 0x2000;
      }
      return true;
    }
    return false;
  }
  void SourceLine(uint64_t a, std::string* file, uint64_t* line) const override {
    if (a == 0x401004) {
      *file = "/src/prog.c";
      *line = 12;
    }
  }
};

TEST(UserSymbols, StapsAddressFormats) {
  FakeProcess p;
  const char* stack = "0x401004 0x401200 0x7f00";
  EXPECT_EQ(Symbolize(p, Symbolic::UName, "0x401004"), "main");
  EXPECT_EQ(Symbolize(p, Symbolic::UData, "0x401004"), "main+0x4/0x40 [/usr/bin/prog]");
  EXPECT_EQ(Symbolize(p, Symbolic::UData, "0x401200"), "0x401200 [/usr/bin/prog+0x1200/0x2000]");
  EXPECT_EQ(Symbolize(p, Symbolic::UFull, stack),
            " 0x401004 : main+0x4/0x40 [/usr/bin/prog]\n"
            " 0x401200 [/usr/bin/prog+0x1200/0x2000]\n"
            " 0x7f00\n");
  EXPECT_EQ(Symbolize(p, Symbolic::USimple, stack),
            "main+0x4 [prog]\n0x401200 [prog+0x1200]\n0x7f00\n");
  EXPECT_EQ(Symbolize(p, Symbolic::UBrief, stack), "main+0x4\n0x401200\n0x7f00\n");
  EXPECT_EQ(Symbolize(p, Symbolic::UFuller, stack),
            " 0x401004 : main+0x4/0x40 at /src/prog.c:12 [/usr/bin/prog]\n"
            " 0x401200 [/usr/bin/prog+0x1200/0x2000]\n"
            " 0x7f00\n");
  EXPECT_EQ(Symbolize(p, Symbolic::USyms, "0x401004 0x7f00"),
            " 0x401004 : main+0x4/0x40 [/usr/bin/prog]\n 0x7f00 : 0x7f00\n");
  EXPECT_EQ(Symbolize(p, Symbolic::UFileLine, "0x401004"), "/src/prog.c:12");
  EXPECT_EQ(Symbolize(p, Symbolic::UFile, "0x401004"), "/src/prog.c");
  EXPECT_EQ(Symbolize(p, Symbolic::ULine, "0x401004"), "12");
  EXPECT_EQ(Symbolize(p, Symbolic::UFileLine, "0x401200"), "0x401200");
  EXPECT_EQ(Symbolize(p, Symbolic::UModule, "0x401200"), "/usr/bin/prog");
  EXPECT_EQ(Symbolize(p, Symbolic::UModule, "0x7f00"), "<unknown>");
  // No process: hex.
  EXPECT_EQ(Symbolize(Symbolic::UData, "0x401004", 0), "0x401004");
}

// The user modes read the objects a live process maps: this test's own.
TEST(UserSymbols, ReadsALiveProcess) {
  auto here = reinterpret_cast<uint64_t>(&RunningKernelSymbols);  // a function of this binary
  std::string name = Symbolize(Symbolic::UName, Hex(here), getpid());
  EXPECT_NE(name.find("RunningKernelSymbols"), std::string::npos) << name;
  std::string module = Symbolize(Symbolic::UModule, Hex(here), getpid());
  EXPECT_NE(module.find("btap_tests"), std::string::npos) << module;
}

}  // namespace
}  // namespace btap::runtime
