// Reading a compiled object (.bo): checks that the bytes are a BPF ELF object and
// extracts and validates its `.btap.meta` section before anything trusts it.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/object_meta.h"

namespace btap::runtime {

// On failure returns false with a message that says what is wrong with the object.
bool ReadObjectMeta(std::span<const uint8_t> object, meta::Meta* meta, std::string* error);

}  // namespace btap::runtime
