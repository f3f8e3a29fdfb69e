// Pass 4's last step: records in `.btap.meta` a digest of every other section of the
// emitted object, so that the runtime refuses a damaged object before libbpf reads it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/object_meta.h"

namespace btap::codegen {

// Rewrites `object` (an ELF64 little-endian relocatable file from EmitObject whose
// `.btap.meta` holds `meta` without digests): the section grows to hold the digests and
// the sections after it move. False, with *error, if the object is not as EmitObject
// writes it.
bool SealObject(std::vector<uint8_t>& object, meta::Meta meta, std::string* error);

}  // namespace btap::codegen
