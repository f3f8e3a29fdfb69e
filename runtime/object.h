// Reading a compiled object (.bo): checks that the bytes are a BPF ELF object and
// extracts and validates its `.btap.meta` section before anything trusts it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/object_meta.h"

typedef struct Elf Elf;

namespace btap::runtime {

using ElfHandle = std::unique_ptr<Elf, int (*)(Elf*)>;

// Opens `object` with libelf (read only; the bytes must outlive the handle). On failure
// the handle is null and *error says why.
ElfHandle OpenElf(std::span<const uint8_t> object, std::string* error);

// On failure returns false with a message that says what is wrong with the object.
bool ReadObjectMeta(std::span<const uint8_t> object, meta::Meta* meta, std::string* error);

}  // namespace btap::runtime
