// Pass 4's last step: records in `.btap.meta` a digest of every other section of the
// emitted object, so that the runtime refuses a damaged object before libbpf reads it.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/object_meta.h"

namespace btap::codegen {

// Rewrites `object` (an ELF64 little-endian relocatable file from EmitObject whose
// `.btap.meta` holds `meta` without digests): the section grows to hold the digests and
// the sections after it move. False, with *error, if the object is not as EmitObject
// writes it.
bool SealObject(std::vector<uint8_t>& object, meta::Meta meta, std::string* error);

// Recursive script functions are local functions in their user-side probe's section
// (codegen/lower_recursive.cpp), called at offsets resolved in the section; libbpf, which
// opens the object, refuses a local function in a program's section. Their symbols become
// plain labels (STT_NOTYPE): the runtime's interpreter runs the whole section, libbpf
// sees one program in it. False, with *error, if the object is not as EmitObject writes it.
bool HideUserSideFunctions(std::vector<uint8_t>& object, std::string* error);

// A `T` read from `bytes` at `at` (an ELF header, section header, symbol...); false past
// the end.
template <typename T>
bool Get(const std::vector<uint8_t>& bytes, uint64_t at, T* out) {
  if (at > bytes.size() || bytes.size() - at < sizeof(T)) return false;
  std::memcpy(out, bytes.data() + at, sizeof(T));
  return true;
}

}  // namespace btap::codegen
