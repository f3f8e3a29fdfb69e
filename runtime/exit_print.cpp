// Printing the globals at exit, as stap does (see user_side.h).
#include <algorithm>
#include <charconv>
#include <cstring>

#include "common/stats.h"
#include "runtime/symbols.h"
#include "runtime/user_maps.h"
#include "runtime/user_side.h"

namespace btap::runtime {

namespace {

// A string as stap prints it at exit; symbols kept as tags become their text.
std::string Quoted(const uint8_t* bytes, size_t size, size_t limit) {
  size_t n = 0;
  while (n < size && bytes[n]) ++n;
  std::string_view s(reinterpret_cast<const char*>(bytes), n);
  if (s.find('\2') != std::string_view::npos) return "\"" + ExpandSymbolTags(s, limit) + "\"";
  return "\"" + std::string(s) + "\"";
}

int64_t Long(const uint8_t* bytes) {
  int64_t v;
  std::memcpy(&v, bytes, 8);
  return v;
}

// "@count=4 @min=1 @max=4 @sum=10 @avg=2", or "@count=0x0" with no data (stap's words).
std::string StatsText(const uint8_t* bytes, size_t size) {
  std::vector<int64_t> v(size / 8);
  std::memcpy(v.data(), bytes, v.size() * 8);
  if (v.size() < stats::kBuckets || v[stats::kCount] == 0) return "@count=0x0";
  int64_t avg = 0;
  stats::Aggregate(v, stats::Op::Avg, &avg);
  return "@count=" + std::to_string(v[stats::kCount]) + " @min=" + std::to_string(v[stats::kMin]) +
         " @max=" + std::to_string(v[stats::kMax]) + " @sum=" + std::to_string(v[stats::kSum]) +
         " @avg=" + std::to_string(avg);
}

// An array keyed by one long with long values (counts by process, times by thread), the
// common large one: each row carries its key and value, so that neither the sort nor the
// printing reads the elements again, in the map's order (at random, a cache miss each).
// Key texts are made only where values tie.
template <typename Written>
void LongRowsAtExit(const std::string& name, const Elements& entries, std::string& out,
                    Written&& written) {
  struct Row {
    int64_t value, key;
    uint32_t index;
  };
  std::vector<Row> rows(entries.count);
  for (size_t i = 0; i < entries.count; ++i)
    rows[i] = {Long(entries.value(i)), Long(entries.key(i)), static_cast<uint32_t>(i)};
  std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) {
    if (x.value != y.value) return x.value > y.value;
    char a[24], b[24];
    std::string_view ta(a, std::to_chars(a, a + sizeof a, x.key).ptr - a);
    std::string_view tb(b, std::to_chars(b, b + sizeof b, y.key).ptr - b);
    if (int c = ta.compare(tb)) return c < 0;
    return x.index < y.index;
  });
  char number[24];
  for (const Row& r : rows) {
    out += name;
    out += '[';
    out.append(number, std::to_chars(number, number + sizeof number, r.key).ptr);
    out += "]=";
    out.append(number, std::to_chars(number, number + sizeof number, r.value).ptr);
    out += '\n';
    written();
  }
}

}  // namespace

void UserSide::GlobalsAtExit(const std::function<void(std::string_view)>& write) {
  // Written in pieces of about 64 KiB: an array of a million elements is not held twice.
  constexpr size_t kPiece = size_t{1} << 16;
  std::string out;
  out.reserve(kPiece + 4096);
  auto written = [&] {
    if (out.size() < kPiece) return;
    write(out);
    out.clear();
  };
  const size_t limit = meta_->limits.max_string_len;
  for (const meta::Global& g : meta_->globals) {
    if (!g.print_at_exit) continue;
    written();
    auto symbol = symbols_.find(g.map);
    if (symbol != symbols_.end()) {
      const auto* bytes = reinterpret_cast<const uint8_t*>(symbol->second.first);
      size_t room = symbol->second.second;
      if (g.value == meta::ValueType::String)
        out += g.name + "=" + Quoted(bytes, std::min(room, limit), limit) + "\n";
      else if (room >= 8)
        out += g.name + "=" + std::to_string(Long(bytes)) + "\n";
      continue;
    }
    MapRef* m = FindMap(g.map);
    if (!m) continue;
    if (g.keys.empty()) {  // a statistics scalar
      std::vector<uint8_t> key(m->key_size, 0), value;
      m->Read(key.data(), value);
      out += g.name + " " + StatsText(value.data(), value.size()) + "\n";
      continue;
    }
    // Arrays: every element, largest value first (statistics by @count), then by key's
    // text. The texts are made once, back to back in one buffer, and the sort moves
    // (rank, index) pairs, not elements or strings.
    Elements entries = m->Entries(meta_->limits.max_string_len);
    if (m->key_parts.size() == 1 && m->key_parts[0].first == meta::ValueType::Long &&
        g.value == meta::ValueType::Long) {
      LongRowsAtExit(g.name, entries, out, written);
      continue;
    }
    std::string texts;
    texts.reserve(entries.count * 8);
    std::vector<size_t> ends(entries.count);
    struct Ranked {
      int64_t rank;
      uint32_t index;
    };
    std::vector<Ranked> order(entries.count);
    char number[24];
    for (size_t i = 0; i < entries.count; ++i) {
      const uint8_t* k = entries.key(i);
      for (size_t p = 0; p < m->key_parts.size(); ++p) {
        auto [type, at] = m->key_parts[p];
        if (p) texts += ',';
        if (type == meta::ValueType::String)
          texts += Quoted(k + at, entries.key_size - at, limit);
        else
          texts.append(number, std::to_chars(number, number + sizeof number, Long(k + at)).ptr);
      }
      ends[i] = texts.size();
      order[i] = {g.value == meta::ValueType::String ? 0 : Long(entries.value(i)),
                  static_cast<uint32_t>(i)};
    }
    auto text = [&](uint32_t i) {
      size_t from = i ? ends[i - 1] : 0;
      return std::string_view(texts).substr(from, ends[i] - from);
    };
    std::sort(order.begin(), order.end(), [&](const Ranked& x, const Ranked& y) {
      if (g.value == meta::ValueType::String) {
        int c = strncmp(reinterpret_cast<const char*>(entries.value(x.index)),
                        reinterpret_cast<const char*>(entries.value(y.index)), entries.value_size);
        if (c) return c > 0;
      } else if (x.rank != y.rank) {
        return x.rank > y.rank;
      }
      if (int c = text(x.index).compare(text(y.index))) return c < 0;
      return x.index < y.index;  // equal texts keep the order the map gave, as a stable sort
    });
    for (const Ranked& r : order) {
      const uint8_t* v = entries.value(r.index);
      out += g.name;
      out += '[';
      out += text(r.index);
      out += ']';
      if (g.value == meta::ValueType::Stats) {
        out += " " + StatsText(v, entries.value_size);
      } else if (g.value == meta::ValueType::String) {
        out += "=" + Quoted(v, entries.value_size, limit);
      } else {
        out += '=';
        out.append(number, std::to_chars(number, number + sizeof number, Long(v)).ptr);
      }
      out += '\n';
      written();
    }
  }
  if (!out.empty()) write(out);
}

}  // namespace btap::runtime
