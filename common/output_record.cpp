// Output record encoding and checked decoding (see output_record.h).
#include "common/output_record.h"

#include <cstring>

namespace btap::record {
namespace {

void Put(std::vector<uint8_t>& out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t Get(std::span<const uint8_t> b, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(b[at + i]) << (8 * i);
  return v;
}

constexpr size_t kHeader = 8;

}  // namespace

std::vector<uint8_t> Encode(Kind kind, uint32_t format_id, std::span<const Arg> args) {
  std::vector<uint8_t> out;
  Put(out, static_cast<uint32_t>(kind), 4);
  Put(out, format_id, 4);
  for (const Arg& a : args) {
    if (!a.is_string) {
      Put(out, static_cast<uint64_t>(a.number), 8);
      continue;
    }
    Put(out, a.string.size(), 4);
    out.insert(out.end(), a.string.begin(), a.string.end());
    while (out.size() % 8) out.push_back(0);
  }
  return out;
}

bool Decode(std::span<const uint8_t> bytes, Decoded* out, std::string* error) {
  if (bytes.size() < kHeader) {
    *error = "output record shorter than its header (" + std::to_string(bytes.size()) + " bytes)";
    return false;
  }
  out->kind = static_cast<Kind>(Get(bytes, 0, 4));
  out->format_id = static_cast<uint32_t>(Get(bytes, 4, 4));
  out->args.clear();
  uint32_t kind = static_cast<uint32_t>(out->kind);
  if (kind < static_cast<uint32_t>(Kind::Printf) ||
      kind > static_cast<uint32_t>(Kind::SwitchFile)) {
    *error = "unknown output record kind " + std::to_string(static_cast<uint32_t>(out->kind));
    return false;
  }
  return true;
}

bool DecodeArgs(std::span<const uint8_t> bytes, std::span<const uint8_t> shape, Decoded* out,
                std::string* error) {
  size_t at = kHeader;
  out->args.clear();
  for (size_t i = 0; i < shape.size(); ++i) {
    auto fail = [&](const char* what) {
      *error = std::string("output record argument ") + std::to_string(i + 1) + ": " + what;
      return false;
    };
    if (!shape[i]) {
      if (bytes.size() - at < 8) return fail("truncated number");
      out->args.push_back({false, static_cast<int64_t>(Get(bytes, at, 8)), {}});
      at += 8;
      continue;
    }
    if (bytes.size() - at < 4) return fail("truncated string length");
    uint64_t len = Get(bytes, at, 4);
    at += 4;
    if (len > bytes.size() - at) return fail("string longer than the record");
    out->args.push_back(
        {true, 0, std::string_view(reinterpret_cast<const char*>(bytes.data() + at), len)});
    at += len;
    at = std::min(bytes.size(), (at + 7) & ~size_t{7});
  }
  if (at != bytes.size()) {
    *error = "output record has " + std::to_string(bytes.size() - at) + " bytes too many";
    return false;
  }
  return true;
}

}  // namespace btap::record
