// Fuzz target: any bytes through what btaprun does with an object before the kernel
// sees it — the ELF checks, `.btap.meta` decoding, section digests, the BTF check, the
// output formats and NAME=VALUE assignments. A crash, a leak, an exception or a hang
// is a finding; an error message is the expected answer.
#include <gelf.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "common/object_meta.h"
#include "runtime/object.h"
#include "runtime/object_btf.h"
#include "runtime/output.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace btap;
  std::span<const uint8_t> object(data, size);
  meta::Meta m;
  std::string error;
  // Mutations rarely keep the digests matching, so the BTF check also runs on the
  // `.BTF` section of every input that libelf can open.
  if (runtime::ElfHandle elf = runtime::OpenElf(object, &error)) {
    size_t names;
    GElf_Shdr sh;
    if (elf_getshdrstrndx(elf.get(), &names) == 0)
      for (Elf_Scn* s = nullptr; (s = elf_nextscn(elf.get(), s));) {
        const char* name =
            gelf_getshdr(s, &sh) ? elf_strptr(elf.get(), names, sh.sh_name) : nullptr;
        if (!name || std::strcmp(name, ".BTF") != 0 || sh.sh_offset > size ||
            size - sh.sh_offset < sh.sh_size)
          continue;
        std::string why;
        if (!runtime::CheckBtf({reinterpret_cast<const char*>(data) + sh.sh_offset, sh.sh_size},
                               &why) &&
            why.empty())
          __builtin_trap();
      }
  }
  if (!runtime::ReadObjectMeta(object, &m, &error)) {
    if (error.empty()) __builtin_trap();  // every refusal says why
    return 0;
  }
  runtime::OutputFormatter formatter;
  (void)formatter.Init(m, &error);
  for (const meta::Global& g : m.globals) {
    const meta::Global* found = nullptr;
    std::vector<uint8_t> bytes;
    for (const char* value : {"1", "0x7fffffffffffffff", "text", ""})
      (void)runtime::GlobalAssignment(m, g.name, value, &found, &bytes, &error);
  }
  return 0;
}
