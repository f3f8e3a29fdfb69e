// The maps behind globals as the user side sees them (see user_maps.h).
#include "runtime/user_maps.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "common/stats.h"
#include "runtime/symbols.h"

namespace btap::runtime {
namespace {

// Replaces symbol tags in the string parts of `key` (`size` bytes, each part running to
// the next one's offset) with their text, cut to the part and to `limit`. True when it
// changed any.
bool ExpandKeyTags(uint8_t* key, size_t size,
                   const std::vector<std::pair<meta::ValueType, size_t>>& parts, size_t limit) {
  bool changed = false;
  for (size_t p = 0; p < parts.size(); ++p) {
    if (parts[p].first != meta::ValueType::String) continue;
    size_t at = parts[p].second, end = p + 1 < parts.size() ? parts[p + 1].second : size;
    if (at >= end || end > size) continue;
    auto* text = reinterpret_cast<char*>(key + at);
    std::string_view s(text, strnlen(text, end - at));
    if (s.find('\2') == std::string_view::npos) continue;
    std::string made = ExpandSymbolTags(s, limit);
    size_t n = std::min(made.size(), end - at - 1);
    std::memset(text, 0, end - at);
    std::memcpy(text, made.data(), n);
    changed = true;
  }
  return changed;
}

}  // namespace

size_t UserSide::MapRef::ReadSize() const {
  if (!stats) return value_size;
  int cpus = libbpf_num_possible_cpus();
  return ((value_size + 7) & ~size_t{7}) * static_cast<size_t>(cpus > 0 ? cpus : 1);
}

bool UserSide::MapRef::Settle(const uint8_t* key, const uint8_t* read, bool found,
                              std::vector<uint8_t>& value) const {
  value.assign(value_size, 0);
  if (!stats) {
    if (found) std::memcpy(value.data(), read, value_size);
    return found;
  }
  int cpus = libbpf_num_possible_cpus();
  size_t stride = (value_size + 7) & ~size_t{7};
  std::vector<int64_t> total(value_size / 8, 0), one(value_size / 8);
  for (int cpu = 0; found && cpu < cpus; ++cpu) {
    std::memcpy(one.data(), read + stride * cpu, value_size);
    stats::Merge(total, one);
  }
  if (!shadow.empty()) {
    auto own = shadow.find(std::vector<uint8_t>(key, key + key_size));
    if (own != shadow.end()) {
      stats::Merge(total, own->second);
      found = true;
    }
  }
  std::memcpy(value.data(), total.data(), value_size);
  return found;
}

UserSide::MapRef::Merged* UserSide::MapRef::MergedFor(const void* key) {
  if (merged.empty() || !run || merged_run != *run) return nullptr;
  const auto* k = static_cast<const uint8_t*>(key);
  auto it = merged.find(std::vector<uint8_t>(k, k + key_size));
  return it == merged.end() ? nullptr : &it->second;
}

UserSide::MapRef::Merged* UserSide::MapRef::MergedOrRead(const void* key) {
  if (!tag_keys) return nullptr;
  if (!run || merged_run != *run) Entries(text_limit);
  return MergedFor(key);
}

bool UserSide::MapRef::Read(const void* key, std::vector<uint8_t>& value) {
  if (const Merged* m = MergedFor(key)) {
    value = m->value;
    return true;
  }
  std::vector<uint8_t> all(ReadSize());
  bool found = bpf_map_lookup_elem(fd, key, all.data()) == 0;
  return Settle(static_cast<const uint8_t*>(key), all.data(), found, value);
}

Elements UserSide::MapRef::Entries(size_t limit) {
  merged.clear();
  Elements entries = NoElements();
  if (!ReadBatches(entries)) {
    entries = NoElements();
    std::vector<uint8_t> key(key_size), next(key_size), value;
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
      key = next;
      prev = key.data();
      if (Read(key.data(), value)) entries.Add(key.data(), value.data());
    }
  }
  if (run) merged_run = *run;
  if (shadow.empty()) {
    MergeSymbolKeys(entries, limit);
    return entries;
  }
  std::set<std::vector<uint8_t>> seen;
  for (size_t i = 0; i < entries.count; ++i)
    seen.emplace(entries.key(i), entries.key(i) + key_size);
  std::vector<uint8_t> value;
  for (const auto& [k, v] : shadow)
    if (!seen.count(k) && Read(k.data(), value)) entries.Add(k.data(), value.data());
  MergeSymbolKeys(entries, limit);
  return entries;
}

bool UserSide::MapRef::ReadBatches(Elements& out) const {
  // Up to 4,096 elements a call, in about 1 MiB (per-CPU histograms are large).
  size_t per = ReadSize();
  const uint32_t kBatch =
      static_cast<uint32_t>(std::clamp<size_t>((size_t{1} << 20) / (key_size + per), 1, 4096));
  // Plain values are read straight into `out`; per-CPU ones into these, to be merged.
  std::vector<uint8_t> keys(stats ? size_t{kBatch} * key_size : 0),
      values(stats ? kBatch * per : 0);
  // The position between batches: a bucket number for hash maps, a key for others.
  std::vector<uint8_t> token(std::max<size_t>(key_size, 8)), next(token.size());
  bool first = true;
  std::vector<uint8_t> value;
  while (true) {
    uint32_t count = kBatch;
    uint8_t *into_keys = keys.data(), *into_values = values.data();
    if (!stats) {
      out.keys.resize((out.count + kBatch) * key_size);
      out.values.resize((out.count + kBatch) * value_size);
      into_keys = out.keys.data() + out.count * key_size;
      into_values = out.values.data() + out.count * value_size;
    }
    int rc = bpf_map_lookup_batch(fd, first ? nullptr : token.data(), next.data(), into_keys,
                                  into_values, &count, nullptr);
    int err = rc < 0 ? -rc : 0;  // libbpf 1.x: -errno
    if (!stats) {
      out.count += rc < 0 && err != ENOENT ? 0 : count;
      out.keys.resize(out.count * key_size);
      out.values.resize(out.count * value_size);
    }
    if (rc < 0 && err != ENOENT) return false;  // too old a kernel, or a bucket too big
    for (uint32_t i = 0; stats && i < count; ++i) {
      const uint8_t* key = keys.data() + size_t{i} * key_size;
      if (Settle(key, values.data() + i * per, true, value)) out.Add(key, value.data());
    }
    if (rc < 0) return true;  // ENOENT: that was the last of them
    token.swap(next);
    first = false;
  }
}

int UserSide::MapRef::Write(const void* key, const void* value, uint64_t flags) const {
  if (!stats) return bpf_map_update_elem(fd, key, value, flags);
  int cpus = libbpf_num_possible_cpus();
  size_t stride = (value_size + 7) & ~size_t{7};
  std::vector<uint8_t> all(stride * static_cast<size_t>(cpus > 0 ? cpus : 1), 0);
  std::memcpy(all.data(), value, value_size);
  return bpf_map_update_elem(fd, key, all.data(), flags);
}

// In stap a symbol's text is the key itself, so the elements whose texts agree (one
// function reached at two addresses, or in two processes) are one. Their values add up
// when the array is only ever added to (counts, statistics), as the one element's would
// have; in another array the first read stays.
void UserSide::MapRef::MergeSymbolKeys(Elements& e, size_t limit) {
  merged.clear();
  if (!tag_keys || e.count == 0) return;
  if (std::find(e.keys.begin(), e.keys.end(), uint8_t{'\2'}) == e.keys.end()) return;
  std::vector<uint8_t> texts(e.keys);
  bool changed = false;
  for (size_t i = 0; i < e.count; ++i)
    changed |= ExpandKeyTags(texts.data() + i * key_size, key_size, key_parts, limit);
  if (!changed) return;
  bool adds = global && global->adds_only;
  Elements out = NoElements();
  std::map<std::vector<uint8_t>, size_t> index;  // a text key's element in `out`
  std::vector<std::vector<std::vector<uint8_t>>> sources;
  for (size_t i = 0; i < e.count; ++i) {
    const uint8_t* text = texts.data() + i * key_size;
    auto [it, fresh] = index.emplace(std::vector<uint8_t>(text, text + key_size), out.count);
    if (fresh) {
      out.Add(text, e.value(i));
      sources.emplace_back();
    } else if (adds) {
      uint8_t* into = out.values.data() + it->second * value_size;
      if (stats) {
        std::vector<int64_t> total(value_size / 8), more(value_size / 8);
        std::memcpy(total.data(), into, total.size() * 8);
        std::memcpy(more.data(), e.value(i), more.size() * 8);
        stats::Merge(total, more);
        std::memcpy(into, total.data(), total.size() * 8);
      } else if (value_size == 8) {
        int64_t sum, more;
        std::memcpy(&sum, into, 8);
        std::memcpy(&more, e.value(i), 8);
        sum += more;
        std::memcpy(into, &sum, 8);
      }
    }
    sources[it->second].emplace_back(e.key(i), e.key(i) + key_size);
  }
  for (const auto& [text, at] : index) {
    const auto& keys = sources[at];
    if (keys.size() == 1 && keys[0] == text) continue;  // an element as the kernel keeps it
    merged[text] = Merged{std::vector<uint8_t>(out.value(at), out.value(at) + value_size), keys};
  }
  e = std::move(out);
}

}  // namespace btap::runtime
