// stapsdt notes (type NT_STAPSDT, owner "stapsdt"), which SDT marks leave in an ELF file:
// read by semantic for a program's marks and by the runtime for HelperSDT's own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace btap {

inline constexpr uint32_t kNtStapsdt = 3;

struct StapsdtNote {
  uint64_t pc = 0;           // the mark's address
  uint64_t linked_base = 0;  // where .stapsdt.base was when the note was written
  uint64_t semaphore = 0;    // 0 when none
  std::string provider, name;
  std::string args;  // "-4@%edi 8@-8(%rbp) 4@$5"

  // Prelink moves sections but not the addresses inside notes: the distance between where
  // .stapsdt.base is now and where the note says it was corrects both addresses.
  void Rebase(std::optional<uint64_t> base_now);
};

// A note's descriptor: three addresses (the mark, .stapsdt.base as linked, the semaphore)
// in the file's word size and byte order, then the provider, name and operands, each
// NUL-terminated. Nothing when it is cut short.
std::optional<StapsdtNote> ParseStapsdtNote(std::string_view desc, bool is_64, bool big_endian);

}  // namespace btap
