// The object's `.BTF.ext` section, as the BPF backend writes it: blocks of records (CO-RE
// relocations, line info), one block per ELF section, whose strings are in the object's
// `.BTF`. Read for messages only: libbpf reads it again to load the object.
#pragma once

#include <bpf/btf.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace btap::runtime {

// A little-endian 32-bit word of `bytes` at `at` (which the caller has bounded).
uint32_t Le32(std::string_view bytes, size_t at);

// The records of one ELF section.
struct BtfExtBlock {
  const char* section = nullptr;  // its name, from the object's BTF
  std::string_view records;       // `count` records of `record_size` bytes
  uint32_t record_size = 0;
  uint32_t count = 0;
};

enum class BtfExtKind { kLineInfo, kCoreRelocations };

// The blocks of one kind of record in `ext` (none when the section or its version has
// none); records shorter than `min_record` bytes are malformed. False with "malformed
// object: its .BTF.ext section ..." when the section is.
bool BtfExtBlocks(std::string_view ext, const struct btf* btf, BtfExtKind kind, uint32_t min_record,
                  std::vector<BtfExtBlock>* out, std::string* error);

// One line-info record: the instruction from which a source line's code starts.
struct SourceLine {
  uint32_t instruction = 0;  // its index in the section
  std::string file;
  uint32_t line = 0, column = 0;  // from 1; a column 0 names the line only
  std::string text;               // the line's text, when the object carries the source
};

using SourceLines = std::map<std::string, std::vector<SourceLine>, std::less<>>;

// The line info of the ELF sections whose names start with `prefix`, by section, each in
// instruction order.
bool ReadSourceLines(std::string_view ext, const struct btf* btf, std::string_view prefix,
                     SourceLines* out, std::string* error);
// The same from the object's bytes; none when it has no line info, or it cannot be read
// (the lines only name places in messages, and libbpf checks the section at the load).
SourceLines ObjectSourceLines(std::span<const uint8_t> object, std::string_view prefix);

// stap's " near <token> at FILE:LINE:COLUMN" for run-time errors, for the code of
// instruction `instruction` (the last line that starts at or before it): the token is
// the one at that column of the line's text ("keyword 'while'", "identifier 'x'"). ""
// when no line covers it.
std::string NearInstruction(const std::vector<SourceLine>& lines, size_t instruction);

}  // namespace btap::runtime
