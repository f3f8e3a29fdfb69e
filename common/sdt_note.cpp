// stapsdt notes' descriptors (common/sdt_note.h).
#include "common/sdt_note.h"

namespace btap {
namespace {

uint64_t Word(std::string_view bytes, size_t at, size_t width, bool big_endian) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i)
    v = v << 8 | static_cast<uint8_t>(bytes[at + (big_endian ? i : width - 1 - i)]);
  return v;
}

}  // namespace

void StapsdtNote::Rebase(std::optional<uint64_t> base_now) {
  if (!base_now || linked_base == 0) return;
  uint64_t delta = *base_now - linked_base;
  pc += delta;
  if (semaphore) semaphore += delta;
}

std::optional<StapsdtNote> ParseStapsdtNote(std::string_view desc, bool is_64, bool big_endian) {
  size_t width = is_64 ? 8 : 4;
  if (desc.size() < 3 * width) return std::nullopt;
  StapsdtNote note;
  note.pc = Word(desc, 0, width, big_endian);
  note.linked_base = Word(desc, width, width, big_endian);
  note.semaphore = Word(desc, 2 * width, width, big_endian);
  std::string_view rest = desc.substr(3 * width);
  for (std::string* field : {&note.provider, &note.name, &note.args}) {
    size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) return std::nullopt;
    *field = rest.substr(0, nul);
    rest.remove_prefix(nul + 1);
  }
  return note;
}

}  // namespace btap
