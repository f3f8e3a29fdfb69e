// The message for a CO-RE relocation a kernel cannot satisfy, from libbpf's log.
#include "runtime/core_relocations.h"

#include <bpf/btf.h>
#include <gtest/gtest.h>

namespace btap::runtime {
namespace {

TEST(CoreRelocations, NamesTheMemberAndWhereTheScriptReadsIt) {
  meta::Meta m;
  m.core_sites = {{"struct task_struct.pid", "a.stp:1:5"},
                  {"struct task_struct.se.load", "a.stp:2:9"}};
  std::string log =
      "24: <invalid CO-RE relocation>\n"
      "failed to resolve CO-RE relocation <byte_off> [22] struct task_struct.se.load (0:0 @ "
      "offset 1192.2)\nprocessed 22 insns\n";
  EXPECT_EQ(ExplainCoreFailure(log, m),
            "this kernel's `struct task_struct` has no member `se.load`, read at a.stp:2:9");
  m.core_sites.clear();
  EXPECT_EQ(ExplainCoreFailure(log, m),
            "this kernel's `struct task_struct` has no member `se.load`");
  EXPECT_EQ(ExplainCoreFailure("R1 invalid mem access 'scalar'\n", m), "");
  EXPECT_EQ(ExplainCoreFailure("failed to resolve CO-RE relocation", m), "");
}

}  // namespace
}  // namespace btap::runtime

namespace btap::runtime {
namespace {

// The object's types: struct task_struct { int pid; union { int a; }; struct sched_entity
// se; }, struct sched_entity { int load; }, enum state { RUNNING, GONE }.
struct Local {
  struct btf* btf = btf__new_empty();
  int task = 0, entity = 0, state = 0;
  Local() {
    int i = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
    entity = btf__add_struct(btf, "sched_entity", 4);
    btf__add_field(btf, "load", i, 0, 0);
    int anon = btf__add_union(btf, "", 4);
    btf__add_field(btf, "a", i, 0, 0);
    task = btf__add_struct(btf, "task_struct", 12);
    btf__add_field(btf, "pid", i, 0, 0);
    btf__add_field(btf, "", anon, 32, 0);
    btf__add_field(btf, "se", entity, 64, 0);
    state = btf__add_enum(btf, "state", 4);
    btf__add_enum_value(btf, "RUNNING", 0);
    btf__add_enum_value(btf, "GONE", 1);
  }
  ~Local() { btf__free(btf); }
};

// The kernel's: task_struct___v2 { int a; int pid; } (a flavour, `a` not in a union, no
// `se`), enum state { RUNNING }; sched_entity only in a module.
KernelTypes Kernel(int* module_loads) {
  return KernelTypes(
      [] {
        struct btf* k = btf__new_empty();
        int i = btf__add_int(k, "int", 4, BTF_INT_SIGNED);
        btf__add_struct(k, "task_struct___v2", 8);
        btf__add_field(k, "a", i, 0, 0);
        btf__add_field(k, "pid", i, 32, 0);
        btf__add_enum(k, "state", 4);
        btf__add_enum_value(k, "RUNNING", 0);
        return k;
      },
      [module_loads](struct btf* vmlinux) {
        ++*module_loads;
        struct btf* m = btf__new_empty_split(vmlinux);
        btf__add_struct(m, "sched_entity", 4);
        btf__add_field(m, "load", 1, 0, 0);
        return std::vector<struct btf*>{m};
      });
}

TEST(CoreRelocations, MembersTypesAndEnumeratorsAreFoundByName) {
  Local l;
  int loads = 0;
  KernelTypes kernel = Kernel(&loads);
  auto u = [](int id) { return static_cast<uint32_t>(id); };
  CoreRelocation pid{"tp", 0, u(l.task), "0:0"}, a{"tp", 0, u(l.task), "0:1:0"},
      load{"tp", 0, u(l.task), "0:2:0"}, exists{"tp", 2, u(l.task), "0:2:0"},
      size{"tp", 9, u(l.entity), "0"}, gone{"tp", 11, u(l.state), "1"},
      running{"tp", 11, u(l.state), "0"};
  EXPECT_TRUE(Satisfied(l.btf, pid, kernel));
  EXPECT_TRUE(Satisfied(l.btf, a, kernel));  // through the union here, directly there
  EXPECT_EQ(loads, 0);                       // vmlinux had every name so far
  EXPECT_FALSE(Satisfied(l.btf, load, kernel));
  EXPECT_TRUE(Satisfied(l.btf, exists, kernel));  // a test is its own answer
  EXPECT_TRUE(Satisfied(l.btf, size, kernel));    // in the module
  EXPECT_EQ(loads, 1);
  EXPECT_FALSE(Satisfied(l.btf, gone, kernel));
  EXPECT_TRUE(Satisfied(l.btf, running, kernel));
  EXPECT_EQ(CoreSpec(l.btf, load), "struct task_struct.se.load");
  EXPECT_EQ(CoreSpec(l.btf, a), "struct task_struct.a");
  EXPECT_EQ(CoreSpec(l.btf, size), "struct sched_entity");
  EXPECT_EQ(CoreSpec(l.btf, gone), "enum state::GONE");
  // An access string that does not fit the object's types is libbpf's to judge.
  EXPECT_TRUE(Satisfied(l.btf, {"tp", 0, u(l.task), "0:9"}, kernel));
  EXPECT_TRUE(Satisfied(l.btf, {"tp", 0, u(l.task), "x"}, kernel));
}

TEST(CoreRelocations, NoKernelBtfDecidesNothing) {
  Local l;
  KernelTypes none([] { return static_cast<struct btf*>(nullptr); }, nullptr);
  EXPECT_TRUE(Satisfied(l.btf, {"tp", 0, static_cast<uint32_t>(l.task), "0:2:0"}, none));
}

void Put32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

TEST(CoreRelocations, ReadsTheBtfExtSection) {
  Local l;
  uint32_t section = static_cast<uint32_t>(btf__add_str(l.btf, "tracepoint/sched"));
  uint32_t access = static_cast<uint32_t>(btf__add_str(l.btf, "0:2:0"));
  std::string relos;
  Put32(&relos, 16);  // record size
  Put32(&relos, section);
  Put32(&relos, 1);
  for (uint32_t v : {8u, static_cast<uint32_t>(l.task), access, 0u}) Put32(&relos, v);
  std::string ext = {'\x9f', '\xeb', 1, 0};
  Put32(&ext, 32);
  for (int i = 0; i < 4; ++i) Put32(&ext, 0);  // no func or line info
  Put32(&ext, 0);
  Put32(&ext, static_cast<uint32_t>(relos.size()));
  ext += relos;
  std::vector<CoreRelocation> out;
  std::string error;
  ASSERT_TRUE(ReadCoreRelocations(ext, l.btf, &out, &error)) << error;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].section, "tracepoint/sched");
  EXPECT_EQ(out[0].kind, 0u);
  EXPECT_EQ(out[0].type, static_cast<uint32_t>(l.task));
  EXPECT_EQ(out[0].access, "0:2:0");
  EXPECT_EQ(out[0].insn_off, 8u);  // which program's it is, where a section holds several
  out.clear();
  EXPECT_FALSE(ReadCoreRelocations(ext.substr(0, ext.size() - 4), l.btf, &out, &error));
  EXPECT_EQ(error, "malformed object: its .BTF.ext section has CO-RE relocations outside it");
  std::string lying = ext;
  lying[32 + 8] = '\x7f';  // a count far past the end
  EXPECT_FALSE(ReadCoreRelocations(lying, l.btf, &out, &error));
  EXPECT_EQ(error, "malformed object: its .BTF.ext section ends inside CO-RE relocations");
}

}  // namespace
}  // namespace btap::runtime
