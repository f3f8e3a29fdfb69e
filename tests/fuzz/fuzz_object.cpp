// Fuzz target: any bytes through what btaprun does with an object before the kernel
// sees it — the ELF checks, `.btap.meta` decoding, section digests, the BTF check, the
// CO-RE relocations read from `.BTF.ext`, the output formats and NAME=VALUE assignments. A crash, a
// leak, an exception or a hang is a finding; an error message is the expected answer.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gelf.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "common/object_meta.h"
#include "runtime/core_relocations.h"
#include "runtime/object.h"
#include "runtime/object_btf.h"
#include "runtime/output.h"

namespace {

using namespace btap;

// What btaprun does with metadata it has decoded.
void UseMeta(const meta::Meta& m) {
  std::string error;
  runtime::OutputFormatter formatter;
  (void)formatter.Init(m, &error);
  for (const meta::Global& g : m.globals) {
    const meta::Global* found = nullptr;
    std::vector<uint8_t> bytes;
    for (const char* value : {"1", "0x7fffffffffffffff", "text", ""})
      (void)runtime::GlobalAssignment(m, g.name, value, &found, &bytes, &error);
  }
}

// A small kernel to judge relocations against: struct task_struct { int pid; union {
// int a; }; struct sched_entity se; }, enum state { RUNNING }.
struct btf* SmallKernel() {
  struct btf* k = btf__new_empty();
  int i = btf__add_int(k, "int", 4, BTF_INT_SIGNED);
  int se = btf__add_struct(k, "sched_entity", 4);
  btf__add_field(k, "load", i, 0, 0);
  int anon = btf__add_union(k, "", 4);
  btf__add_field(k, "a", i, 0, 0);
  btf__add_struct(k, "task_struct", 12);
  btf__add_field(k, "pid", i, 0, 0);
  btf__add_field(k, "", anon, 32, 0);
  btf__add_field(k, "se", se, 64, 0);
  btf__add_enum(k, "state", 4);
  btf__add_enum_value(k, "RUNNING", 0);
  return k;
}

// The relocations of `.BTF.ext`, read with a `.BTF` the BTF check passed (as btaprun
// reads them only after it), spelled and judged against a kernel without BTF (which
// decides nothing) and against a small one.
void CheckRelocations(const std::string& btf_bytes, const std::string& ext) {
  std::string error;
  if (btf_bytes.empty() || !runtime::CheckBtf(btf_bytes, &error)) return;
  struct btf* btf = btf__new(btf_bytes.data(), static_cast<uint32_t>(btf_bytes.size()));
  if (libbpf_get_error(btf)) return;
  std::vector<runtime::CoreRelocation> relocations;
  if (runtime::ReadCoreRelocations(ext, btf, &relocations, &error)) {
    runtime::KernelTypes none([] { return static_cast<struct btf*>(nullptr); }, nullptr);
    runtime::KernelTypes small(SmallKernel, nullptr);
    for (const runtime::CoreRelocation& r : relocations) {
      (void)runtime::CoreSpec(btf, r);
      if (!runtime::Satisfied(btf, r, none)) __builtin_trap();  // nothing to judge against
      (void)runtime::Satisfied(btf, r, small);
    }
  } else if (error.empty()) {
    __builtin_trap();
  }
  btf__free(btf);
}

// Mutations rarely keep the digests and the metadata's checksum matching, so the parts
// behind them also run on the sections of every input that libelf can open: the BTF
// check as it is, the metadata with its checksum made to match.
void CheckSections(const uint8_t* data, size_t size) {
  std::string error;
  runtime::ElfHandle elf = runtime::OpenElf({data, size}, &error);
  size_t names;
  if (!elf || elf_getshdrstrndx(elf.get(), &names) != 0) return;
  GElf_Shdr sh;
  std::string btf, ext;
  for (Elf_Scn* s = nullptr; (s = elf_nextscn(elf.get(), s));) {
    const char* name = gelf_getshdr(s, &sh) ? elf_strptr(elf.get(), names, sh.sh_name) : nullptr;
    if (!name || sh.sh_type == SHT_NOBITS || sh.sh_offset > size ||
        size - sh.sh_offset < sh.sh_size)
      continue;
    std::string bytes(reinterpret_cast<const char*>(data) + sh.sh_offset, sh.sh_size);
    if (std::strcmp(name, ".BTF") == 0 && !runtime::CheckBtf(bytes, &error) && error.empty())
      __builtin_trap();
    if (std::strcmp(name, ".BTF") == 0) btf = bytes;
    if (std::strcmp(name, ".BTF.ext") == 0) ext = bytes;
    if (std::strcmp(name, meta::kSectionName) != 0 || bytes.size() < 8) continue;
    uint64_t sum = meta::Fnv1a(std::string_view(bytes).substr(0, bytes.size() - 8));
    std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
    meta::Meta m;
    if (meta::Decode(bytes, &m, &error))
      UseMeta(m);
    else if (error.empty())
      __builtin_trap();
  }
  CheckRelocations(btf, ext);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckSections(data, size);
  meta::Meta m;
  std::string error;
  if (!runtime::ReadObjectMeta({data, size}, &m, &error)) {
    if (error.empty()) __builtin_trap();  // every refusal says why
    return 0;
  }
  UseMeta(m);
  return 0;
}
