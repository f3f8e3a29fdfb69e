// Reading a compiled object (.bo): checks that the bytes are a BPF ELF object and
// extracts and validates its `.btap.meta` section before anything trusts it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/object_meta.h"

typedef struct Elf Elf;

namespace btap::runtime {

using ElfHandle = std::unique_ptr<Elf, int (*)(Elf*)>;

// Opens `object` with libelf (read only; the bytes must outlive the handle). On failure
// the handle is null and *error says why.
ElfHandle OpenElf(std::span<const uint8_t> object, std::string* error);

// Decodes the metadata and checks every other section against its digest, so that a
// damaged object is refused before libbpf or the kernel sees it. On failure returns
// false with a message that says what is wrong with the object (never throws, whatever
// the bytes).
bool ReadObjectMeta(std::span<const uint8_t> object, meta::Meta* meta, std::string* error);

// The bytes of the object's section `name` ("" when it has none). False with a message
// when the object is not ELF or the section lies outside it.
bool ObjectSection(std::span<const uint8_t> object, std::string_view name,
                   std::string_view* contents, std::string* error);

// Where the object's function `name` (a program's symbol) lies: its ELF section's name and
// its bytes there. False when the object has no such function.
bool ObjectFunction(std::span<const uint8_t> object, std::string_view name, std::string* section,
                    uint64_t* offset, uint64_t* size);

// staprun's module options, NAME=VALUE: finds the global scalar NAME in `meta` and
// gives VALUE's bytes as global data holds them (a long: 8 bytes, read as C reads a
// number, with 0x and 0 prefixes; a string: truncated to MAXSTRINGLEN - 1 bytes and a
// NUL). False with a message naming the variable for an unknown name or a bad value.
bool GlobalAssignment(const meta::Meta& meta, const std::string& name, const std::string& value,
                      const meta::Global** global, std::vector<uint8_t>* bytes, std::string* error);

}  // namespace btap::runtime
