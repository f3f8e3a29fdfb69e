// Narrow string keys (codegen/lower.cpp, ScanKeyWidths): an array whose string indexes are
// all literals or execname() keeps its strings in fields of their size, not in whole
// MAXSTRINGLEN slots; one index that could be longer keeps the whole slot. Compiled here
// for real and read back from the object: the metadata and the map libbpf sees.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "runtime/object.h"
#include "tests/unit/driver/run_btap.h"

namespace btap::driver {
namespace {

// The key widths the metadata records for global `name`, and its map's key size.
std::pair<std::vector<uint32_t>, uint32_t> KeyOf(const std::string& script,
                                                 const std::string& name) {
  std::string path = testing::TempDir() + "key_widths_test_" + std::to_string(getpid()) + ".bo";
  Ran r = RunBtap({"-p4", "--disable-cache", "-o", path, "-e", script});
  EXPECT_EQ(r.status, 0) << r.err;
  std::string bytes = ReadAll(path);
  unlink(path.c_str());
  std::vector<uint8_t> object(bytes.begin(), bytes.end());
  meta::Meta meta;
  std::string error;
  EXPECT_TRUE(runtime::ReadObjectMeta(object, &meta, &error)) << error;
  std::pair<std::vector<uint32_t>, uint32_t> out;
  for (const meta::Global& g : meta.globals) {
    if (g.name != name) continue;
    out.first = g.key_widths;
    if (bpf_object* o = bpf_object__open_mem(object.data(), object.size(), nullptr)) {
      if (bpf_map* m = bpf_object__find_map_by_name(o, g.map.c_str()))
        out.second = bpf_map__key_size(m);
      bpf_object__close(o);
    }
  }
  return out;
}

using Widths = std::vector<uint32_t>;

TEST(KeyWidths, TaskNamesAndLiteralsAreNarrow) {
  auto [w, size] = KeyOf(R"(global c
    probe kernel.trace("sched:sched_switch") { c[execname()]++ }
    probe end { foreach (k in c) printf("%s %d\n", k, c[k]); print(c["swapper/0"]) })",
                         "c");
  EXPECT_EQ(w, (Widths{16}));
  EXPECT_EQ(size, 16u);
  // A longer literal widens the field (8-byte steps); longs stay 8 bytes.
  auto [w2, size2] = KeyOf(R"(global c
    probe kernel.trace("sched:sched_switch") { c[execname(), pid()]++ }
    probe end { print(c["a name of twenty-two b", 1]) })",
                           "c");
  EXPECT_EQ(w2, (Widths{24, 8}));
  EXPECT_EQ(size2, 32u);
}

TEST(KeyWidths, AnyOtherStringKeepsTheWholeSlot) {
  // A string made at run time, anywhere (here only a lookup), could be longer.
  auto [w, size] = KeyOf(R"(global c
    probe kernel.trace("sched:sched_switch") { c[execname()]++ }
    probe end { print(c[sprintf("%s", "x")]) })",
                         "c");
  EXPECT_EQ(w, (Widths{256}));
  EXPECT_EQ(size, 256u);
  auto [w2, size2] = KeyOf(R"(global c
    probe kernel.trace("sched:sched_switch") { s = execname(); c[s]++; s = s . "!" })",
                           "c");
  EXPECT_EQ(w2, (Widths{256}));
  EXPECT_EQ(size2, 256u);
  // A loop variable holds the array's own keys only while nothing else is assigned to it.
  auto [w3, size3] = KeyOf(R"(global c
    probe kernel.trace("sched:sched_switch") { c[execname()]++ }
    probe end { foreach (k in c) { k = k . "!"; print(c[k]) } })",
                           "c");
  EXPECT_EQ(w3, (Widths{256}));
  EXPECT_EQ(size3, 256u);
  // A global or a parameter bound by a foreach holds other strings before the loop.
  for (const char* script : {
           R"(global c, k = "a longer name than any key"
              probe kernel.trace("sched:sched_switch") { c[execname()]++ }
              probe end { print(c[k]); foreach (k in c) {} })",
           R"(global c
              function f(k:string) { print(c[k]); foreach (k in c) {} }
              probe kernel.trace("sched:sched_switch") { c[execname()]++ }
              probe end { f("a longer name than any key") })",
           // A probe's condition looks keys up too.
           R"(global c, s = "a longer name than any key"
              probe kernel.trace("sched:sched_switch") if (s in c) { c[execname()]++ })"}) {
    auto [w, size] = KeyOf(script, "c");
    EXPECT_EQ(w, (Widths{256})) << script;
    EXPECT_EQ(size, 256u) << script;
  }
}

// A local given only short strings (literals, execname(), conditionals of them, other
// such locals) is as narrow as the widest; alias prologues count (syscall's `name`).
TEST(KeyWidths, LocalsGivenOnlyShortStringsAreNarrow) {
  auto [w, size] = KeyOf(R"(global c
    probe kernel.trace("sched:sched_switch") {
      s = pid() ? "sixteen-letters!" : execname()
      t = s
      if (cpu()) t = "short"
      c[t, cpu()]++
    }
    probe end { foreach ([k, n] in c) printf("%s %d\n", k, c[k, n]) })",
                         "c");
  EXPECT_EQ(w, (Widths{24, 8}));
  EXPECT_EQ(size, 32u);
  auto [w2, size2] = KeyOf(R"(global calls
    probe syscall.getppid, syscall.signalfd { calls[name]++ })",
                           "calls");
  EXPECT_EQ(w2, (Widths{16}));  // "signalfd4" (10 bytes), in 8-byte steps
  EXPECT_EQ(size2, 16u);
}

TEST(KeyWidths, LocalsGivenAnythingElseKeepTheWholeSlot) {
  for (const char* script : {// assigned a string made at run time later on
                             R"(global c
              probe kernel.trace("sched:sched_switch") { s = "a"; c[s]++; s = sprint(pid()) })",
                             // appended to
                             R"(global c
              probe kernel.trace("sched:sched_switch") { s = "a"; s .= "b"; c[s]++ })",
                             // by way of another local that is not short
                             R"(global c
              probe kernel.trace("sched:sched_switch") {
                s = "a"; t = s; c[t]++; s = sprint(pid()); t = s })",
                             // one side of a conditional is not short
                             R"(global c
              probe kernel.trace("sched:sched_switch") { s = pid() ? "a" : sprint(pid()); c[s]++ })",
                             // a foreach value, and an error message
                             R"(global c, d
              probe kernel.trace("sched:sched_switch") { d[1] = "x"; foreach (s = [k] in d) c[s]++ })",
                             R"(global c
              probe kernel.trace("sched:sched_switch") { try { error("e") } catch (s) { c[s]++ } })",
                             // a string longer than the whole slot
                             R"(global c
              probe kernel.trace("sched:sched_switch") { s = "x"; c[s]++ }
              probe end { s = "a very long literal a very long literal a very long literal a very long literal a very long literal a very long literal a very long literal a very long literal a very long literal a very long literal a very long literal a very long literal a very long literal"; c[s]++ })"}) {
    auto [w, size] = KeyOf(script, "c");
    EXPECT_EQ(w, (Widths{256})) << script;
    EXPECT_EQ(size, 256u) << script;
  }
}

// A local given one literal once, before any read (the syscall aliases' `name`), is read
// as the literal: the key is built from its bytes, with no string copied (helpers 113 and
// 115, bpf_probe_read_kernel and its _str form) and no scratch slot looked up (its map
// not loaded into a register).
TEST(KeyWidths, ConstantLocalKeysAreStoredBytes) {
  // The syscall dispatch around the body depends on the running kernel's BTF, so the
  // body's reads are counted against the same probe with an empty body.
  auto count = [](const std::string& text, std::string_view what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  Ran empty = RunBtap({"-p3", "--dump=bpf-asm", "-e", "global c; probe syscall.getppid { }"});
  ASSERT_EQ(empty.status, 0) << empty.err;
  Ran r = RunBtap({"-p3", "--dump=bpf-asm", "-e", R"(global c
    probe syscall.getppid { c[name]++; k = "a key"; c[k]++ })"});
  ASSERT_EQ(r.status, 0) << r.err;
  for (std::string_view read : {"call 113", "call 115", "btap_scratch ll"})
    EXPECT_EQ(count(r.out, read), count(empty.out, read)) << read << "\n" << r.out;
  EXPECT_NE(r.out.find("28263429314995559 ll"), std::string::npos) << r.out;  // "getppid"
  // Assigned twice: an ordinary local, copied.
  Ran twice = RunBtap({"-p3", "--dump=bpf-asm", "-e", R"(global c
    probe syscall.getppid { k = "a"; k = "b"; c[k]++ })"});
  ASSERT_EQ(twice.status, 0) << twice.err;
  EXPECT_GT(count(twice.out, "call 115"), count(empty.out, "call 115")) << twice.out;
}

}  // namespace
}  // namespace btap::driver
