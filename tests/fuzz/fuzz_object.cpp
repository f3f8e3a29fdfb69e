// Fuzz target: any bytes through what btaprun does with an object before the kernel
// sees it — the ELF checks, `.btap.meta` decoding, section digests, the output
// formats and NAME=VALUE assignments. A crash, a leak, an exception or a hang is a
// finding; an error message is the expected answer.
#include <cstdint>
#include <span>
#include <string>

#include "common/object_meta.h"
#include "runtime/object.h"
#include "runtime/output.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace btap;
  std::span<const uint8_t> object(data, size);
  meta::Meta m;
  std::string error;
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
