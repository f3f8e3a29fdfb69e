// The decoders' tables and rules, shared by codegen (which writes the table bpflib's
// btap_decode walks, codegen/lower_decode.cpp) and the runtime (which decodes a number
// that print folding left raw, printf's `%{decode:...}d`): a number as the names a table
// gives it, the way the syscall tapset shows flags ("O_CREAT|O_EXCL|0x8") and values.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace btap {

// A table's modes: codegen/bpflib/decode.h's DECODE_* bits (lower_decode.cpp checks).
inline constexpr uint64_t kDecodeEqual = 1;   // a value's one name (else the flags' names)
inline constexpr uint64_t kDecodeZero = 2;    // flags: "0x0" when nothing applies or is left
inline constexpr uint64_t kDecodeHex = 4;     // values: the number in hexadecimal if unnamed
inline constexpr uint64_t kDecodeDec = 8;     // values: the number in decimal if unnamed
inline constexpr size_t kDecodeNameMax = 39;  // the longest name
inline constexpr size_t kDecodeEntriesMax = 128;

struct DecodeEntry {
  uint64_t value, mask;  // applies when the bits under mask are value; no mask: any bit of value
  std::string name;
};

// "NUMBER NAME ..." as entries, where NUMBER is a value or a flag's bits, or MASK=VALUE (a
// field of a flag word); a value table's entries compare every bit. False with `why` when
// it is not that.
bool ParseDecodeTable(std::string_view text, bool values, std::vector<DecodeEntry>* out,
                      std::string* why);

// `value` as bpflib's btap_decode writes it by this table, `known` bits and `mode`, uncut.
std::string DecodeNames(uint64_t value, const std::vector<DecodeEntry>& table, uint64_t known,
                        uint64_t mode);

// The spec of printf's `%{decode:SPEC}d`: "MODE:KNOWN:TABLE" (numbers in decimal), and back.
std::string DecodeSpec(uint64_t mode, uint64_t known, std::string_view table);
struct DecodeTable {
  uint64_t mode = 0, known = 0;
  std::vector<DecodeEntry> entries;
};
bool ParseDecodeSpec(std::string_view spec, DecodeTable* out);
// The table of `spec`, parsed once per process (printf_format.cpp keeps it in the
// directive, so printing a decoded number looks nothing up); nullptr when it is not one.
std::shared_ptr<const DecodeTable> SharedDecodeTable(std::string_view spec);

// The mode of __btap_flag_names(v, known, OPTION, table) (`flags`: "0x0" when nothing
// applies, for OPTION != 0) or __btap_value_name(v, OPTION, table) (OPTION 0: nothing for a
// value without a name, 1: hexadecimal, 2: decimal); codegen and print folding agree by it.
uint64_t DecodeMode(bool flags, int64_t option);

}  // namespace btap
