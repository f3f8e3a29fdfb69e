// The object's .BTF.ext records (see btf_ext.h).
#include "runtime/btf_ext.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cctype>

#include "runtime/object.h"

namespace btap::runtime {
namespace {

// Where each kind's blocks are, as offsets in the header: {offset, length}; and the
// header length that has them.
struct Place {
  size_t offset_at, header;
};
Place PlaceOf(BtfExtKind kind) {
  return kind == BtfExtKind::kLineInfo ? Place{16, 24} : Place{24, 32};
}

constexpr const char* kKeywords[] = {
#define TOKEN(name, text)
#define KEYWORD(name, text) text,
#define PUNCT(name, text)
#define ATWORD(name, text)
#include "common/tokens.def"
};

// Longest first, as the lexer tries them.
constexpr const char* kOperators[] = {
#define TOKEN(name, text)
#define KEYWORD(name, text)
#define PUNCT(name, text) text,
#define ATWORD(name, text)
#include "common/tokens.def"
};

bool WordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// "keyword 'while'" for the token that starts at `at` in `text`; "" when none does.
std::string TokenAt(std::string_view text, size_t at) {
  if (at >= text.size()) return "";
  char c = text[at];
  auto quoted = [](std::string_view kind, std::string_view token) {
    return std::string(kind) + " '" + std::string(token) + "'";
  };
  if (std::isdigit(static_cast<unsigned char>(c))) {
    size_t end = at;
    while (end < text.size() && WordChar(text[end])) ++end;
    return quoted("number", text.substr(at, end - at));
  }
  if (WordChar(c) || c == '$' || c == '@') {
    size_t end = at + 1;
    while (end < text.size() && (WordChar(text[end]) || (c == '$' && text[end] == '$'))) ++end;
    std::string_view word = text.substr(at, end - at);
    bool keyword = std::any_of(std::begin(kKeywords), std::end(kKeywords),
                               [&](const char* k) { return word == k; });
    return quoted(keyword ? "keyword" : "identifier", word);
  }
  if (c == '"') {
    size_t end = at + 1;
    while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
    return quoted("string", text.substr(at + 1, std::min(end, text.size()) - at - 1));
  }
  for (const char* op : kOperators)
    if (text.substr(at).starts_with(op)) return quoted("operator", op);
  return "";
}

}  // namespace

uint32_t Le32(std::string_view bytes, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

bool BtfExtBlocks(std::string_view ext, const struct btf* btf, BtfExtKind kind, uint32_t min_record,
                  std::vector<BtfExtBlock>* out, std::string* error) {
  auto fail = [&](const std::string& why) {
    *error = "malformed object: its .BTF.ext section " + why;
    return false;
  };
  if (ext.empty()) return true;
  if (ext.size() < 24 || static_cast<uint8_t>(ext[0]) != 0x9f ||
      static_cast<uint8_t>(ext[1]) != 0xeb)
    return fail("has no BTF.ext header");
  bool lines = kind == BtfExtKind::kLineInfo;
  std::string one = lines ? "line info" : "CO-RE relocation";
  std::string all = lines ? "line info" : "CO-RE relocations";
  Place place = PlaceOf(kind);
  uint32_t header = Le32(ext, 4);
  if (header < place.header) return true;  // none in this version of the format
  if (header > ext.size()) return fail("has a header longer than the section");
  uint64_t off = uint64_t{header} + Le32(ext, place.offset_at),
           len = Le32(ext, place.offset_at + 4);
  if (len == 0) return true;
  if (off + len > ext.size() || len < 4) return fail("has " + all + " outside it");
  std::string_view blocks = ext.substr(off, len);
  uint32_t record = Le32(blocks, 0);
  if (record < min_record)
    return fail("has " + one + " records shorter than " + std::to_string(min_record) + " bytes");
  size_t at = 4;
  while (at < blocks.size()) {
    if (blocks.size() - at < 8) return fail("ends inside a " + one + " header");
    const char* section = btf__name_by_offset(btf, Le32(blocks, at));
    uint64_t count = Le32(blocks, at + 4);
    at += 8;
    if (count * record > blocks.size() - at) return fail("ends inside " + all);
    if (!section) return fail("names a string outside the object's BTF");
    out->push_back(
        {section, blocks.substr(at, count * record), record, static_cast<uint32_t>(count)});
    at += count * record;
  }
  return true;
}

bool ReadSourceLines(std::string_view ext, const struct btf* btf, std::string_view prefix,
                     SourceLines* out, std::string* error) {
  std::vector<BtfExtBlock> blocks;
  if (!BtfExtBlocks(ext, btf, BtfExtKind::kLineInfo, 16, &blocks, error)) return false;
  for (const BtfExtBlock& b : blocks) {
    std::string_view section = b.section;
    if (!section.starts_with(prefix)) continue;
    std::vector<SourceLine>& lines = (*out)[std::string(section)];
    for (uint32_t i = 0; i < b.count; ++i) {
      size_t at = size_t{i} * b.record_size;
      const char* file = btf__name_by_offset(btf, Le32(b.records, at + 4));
      const char* text = btf__name_by_offset(btf, Le32(b.records, at + 8));
      uint32_t line_column = Le32(b.records, at + 12);
      SourceLine line;
      line.instruction = Le32(b.records, at) / 8;
      // The backend joins a relative name to its folder, which codegen gives as ".".
      line.file = file ? file : "";
      if (line.file.starts_with("./")) line.file.erase(0, 2);
      line.line = line_column >> 10;
      line.column = line_column & 0x3ff;
      line.text = text ? text : "";
      lines.push_back(std::move(line));
    }
    std::stable_sort(lines.begin(), lines.end(), [](const SourceLine& x, const SourceLine& y) {
      return x.instruction < y.instruction;
    });
  }
  return true;
}

SourceLines ObjectSourceLines(std::span<const uint8_t> object, std::string_view prefix) {
  SourceLines lines;
  std::string_view btf_bytes, ext;
  std::string error;
  if (!ObjectSection(object, ".BTF.ext", &ext, &error) || ext.empty() ||
      !ObjectSection(object, ".BTF", &btf_bytes, &error) || btf_bytes.empty())
    return lines;
  struct btf* btf = btf__new(btf_bytes.data(), static_cast<uint32_t>(btf_bytes.size()));
  if (libbpf_get_error(btf)) return lines;
  if (!ReadSourceLines(ext, btf, prefix, &lines, &error)) lines.clear();
  btf__free(btf);
  return lines;
}

std::string NearInstruction(const std::vector<SourceLine>& lines, size_t instruction) {
  auto after =
      std::upper_bound(lines.begin(), lines.end(), instruction,
                       [](size_t insn, const SourceLine& line) { return insn < line.instruction; });
  // Line 0 is code that no statement owns (the program's set-up): the line before it.
  while (after != lines.begin() && std::prev(after)->line == 0) --after;
  if (after == lines.begin()) return "";
  const SourceLine& line = *std::prev(after);
  std::string where = line.file + ":" + std::to_string(line.line);
  if (line.column == 0) return " at " + where;
  std::string token = TokenAt(line.text, line.column - 1);
  where += ":" + std::to_string(line.column);
  return token.empty() ? " at " + where : " near " + token + " at " + where;
}

}  // namespace btap::runtime
