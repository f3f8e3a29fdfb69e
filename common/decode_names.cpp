// The decoders' tables and their rules (see decode_names.h); bpflib/decode.c is the
// kernel's twin of DecodeNames, and tests/runtime/cases/decode_fold*.test compare the two.
#include "common/decode_names.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>

namespace btap {
namespace {

// One number of a table, maybe negative; false when it is not one.
bool ParseNumber(const std::string& text, uint64_t* out) {
  const char* begin = text.c_str();
  bool negative = *begin == '-';
  char* end = nullptr;
  uint64_t v = std::strtoull(begin + negative, &end, 0);
  if (end == begin + negative || *end) return false;
  *out = negative ? 0 - v : v;
  return true;
}

}  // namespace

bool ParseDecodeTable(std::string_view text, bool values, std::vector<DecodeEntry>* out,
                      std::string* why) {
  std::istringstream in{std::string(text)};
  std::string number, name;
  while (in >> number) {
    if (!(in >> name)) {
      *why = "`" + number + "` has no name";
      return false;
    }
    DecodeEntry e{0, values ? ~uint64_t{0} : 0, name};
    size_t eq = number.find('=');
    if (eq != std::string::npos ? !ParseNumber(number.substr(0, eq), &e.mask) ||
                                      !ParseNumber(number.substr(eq + 1), &e.value) || !e.mask
                                : !ParseNumber(number, &e.value)) {
      *why = "`" + number + "` is not a number or MASK=VALUE";
      return false;
    }
    if (name.size() > kDecodeNameMax) {
      *why = "`" + name + "` is longer than " + std::to_string(kDecodeNameMax) + " bytes";
      return false;
    }
    out->push_back(std::move(e));
  }
  if (out->size() > kDecodeEntriesMax) {
    *why = "it has more than " + std::to_string(kDecodeEntriesMax) + " entries";
    return false;
  }
  return true;
}

// decode_step's rounds: the entries in order (a value stops at its first name), then a
// value without a name as a number, or the flags' bits left over in hexadecimal.
std::string DecodeNames(uint64_t value, const std::vector<DecodeEntry>& table, uint64_t known,
                        uint64_t mode) {
  std::string out;
  uint64_t taken = 0;
  char number[32];
  for (const DecodeEntry& e : table) {
    if (e.mask ? (value & e.mask) != e.value : !(value & e.value)) continue;
    taken |= e.mask;
    if (!out.empty()) out += '|';
    out += e.name;
    if (mode & kDecodeEqual) return out;
  }
  if (mode & kDecodeEqual) {
    if (mode & kDecodeDec) {
      std::snprintf(number, sizeof number, "%lld", static_cast<long long>(value));
      out += number;
    }
    if (mode & kDecodeHex) {
      std::snprintf(number, sizeof number, "0x%llx", static_cast<unsigned long long>(value));
      out += number;
    }
    return out;
  }
  uint64_t rest = value & ~known & ~taken;
  if (rest || (out.empty() && (mode & kDecodeZero))) {
    if (!out.empty()) out += '|';
    std::snprintf(number, sizeof number, "0x%llx", static_cast<unsigned long long>(rest));
    out += number;
  }
  return out;
}

std::string DecodeSpec(uint64_t mode, uint64_t known, std::string_view table) {
  return std::to_string(mode) + ":" + std::to_string(known) + ":" + std::string(table);
}

bool ParseDecodeSpec(std::string_view spec, DecodeTable* out) {
  size_t a = spec.find(':');
  size_t b = a == std::string_view::npos ? a : spec.find(':', a + 1);
  if (b == std::string_view::npos) return false;
  auto number = [](std::string_view s, uint64_t* v) {
    std::string text(s);
    char* end = nullptr;
    *v = std::strtoull(text.c_str(), &end, 10);
    return !text.empty() && !*end;
  };
  std::string why;
  out->entries.clear();
  return number(spec.substr(0, a), &out->mode) &&
         number(spec.substr(a + 1, b - a - 1), &out->known) &&
         ParseDecodeTable(spec.substr(b + 1), (out->mode & kDecodeEqual) != 0, &out->entries, &why);
}

std::shared_ptr<const DecodeTable> SharedDecodeTable(std::string_view spec) {
  static std::mutex lock;
  static std::map<std::string, std::shared_ptr<const DecodeTable>, std::less<>> tables;
  std::lock_guard<std::mutex> hold(lock);
  auto it = tables.find(spec);
  if (it != tables.end()) return it->second;
  auto table = std::make_shared<DecodeTable>();
  if (!ParseDecodeSpec(spec, table.get())) return nullptr;
  return tables.emplace(std::string(spec), std::move(table)).first->second;
}

uint64_t DecodeMode(bool flags, int64_t option) {
  if (flags) return option ? kDecodeZero : 0;
  return kDecodeEqual | (option == 1 ? kDecodeHex : option == 2 ? kDecodeDec : 0);
}

}  // namespace btap
