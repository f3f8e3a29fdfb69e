// The maps behind a script's globals as the user side reads and writes them through bpf()
// (user_side.cpp's helpers): elements merged over the CPUs and with what user-side probes
// added, read in batches, and symbol text kept as addresses in array keys read as its text.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/object_meta.h"
#include "runtime/user_side.h"

namespace btap::runtime {

// Elements read from a map: their keys in one block and their values in another.
struct Elements {
  size_t key_size = 0, value_size = 0, count = 0;
  std::vector<uint8_t> keys, values;

  const uint8_t* key(size_t i) const { return keys.data() + i * key_size; }
  const uint8_t* value(size_t i) const { return values.data() + i * value_size; }
  void Add(const uint8_t* k, const uint8_t* v) {
    keys.insert(keys.end(), k, k + key_size);
    values.insert(values.end(), v, v + value_size);
    ++count;
  }
};

struct UserSide::MapRef {
  std::string name;
  int fd = -1;
  uint32_t type = 0;
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  const meta::Global* global = nullptr;
  std::vector<uint8_t> local;  // per-CPU scratch: this side's own copy
  bool stats = false;          // per-CPU statistics: read merged over the CPUs
  // Where each key part starts (checked against key_size when the map is found).
  std::vector<std::pair<meta::ValueType, size_t>> key_parts;

  // Statistics that user-side probes added, by key. They stay here rather than in the
  // kernel's per-CPU copies, which kernel probes update without locks: a read-modify-
  // write through bpf() would lose their updates. Reads merge them in.
  std::map<std::vector<uint8_t>, std::vector<int64_t>> shadow;

  // Elements whose keys a kernel probe made of symbol text kept as addresses (see
  // symbols.h), as the last read of every element found them: by the key with the text,
  // their value merged and the kernel's keys they stand for.
  struct Merged {
    std::vector<uint8_t> value;
    std::vector<std::vector<uint8_t>> keys;
  };
  std::map<std::vector<uint8_t>, Merged> merged;
  // Whether keys can hold such text: the program keeps symbol text and a key part is a
  // string. `merged` stands only in the user-side run that read it (`*run` counts them):
  // kernel probes go on adding elements between runs.
  bool tag_keys = false;
  const uint64_t* run = nullptr;
  uint64_t merged_run = 0;
  size_t text_limit = 0;  // MAXSTRINGLEN: where the text of a key is cut

  // This run's merged element for `key`, if this run read every element and found some.
  Merged* MergedFor(const void* key);
  // The same, reading every element first (once a run) when keys can hold symbol text.
  Merged* MergedOrRead(const void* key);

  // Bytes of one element's value as bpf() reads it: a copy per CPU for statistics.
  size_t ReadSize() const;
  // An element's value from what bpf() read (`found`: whether it did): statistics merged
  // over the CPUs and with this side's own. False when there is none.
  bool Settle(const uint8_t* key, const uint8_t* read, bool found,
              std::vector<uint8_t>& value) const;
  // Reads one element; statistics come merged. False when it is missing.
  bool Read(const void* key, std::vector<uint8_t>& value);
  // Every element, kernel's and user-side's, merged: read in batches of thousands
  // (BPF_MAP_LOOKUP_BATCH, Linux 5.6), else one key and one lookup at a time. Keys with
  // symbol text kept as addresses come with the text (`limit`: MAXSTRINGLEN), and the
  // elements whose texts agree as one (see MergeSymbolKeys).
  Elements Entries(size_t limit);
  bool ReadBatches(Elements& out) const;
  // No elements yet, of this map's sizes.
  Elements NoElements() const {
    Elements e;
    e.key_size = key_size;
    e.value_size = value_size;
    return e;
  }
  // Writes one element; a merged statistics value goes to the first CPU's copy.
  int Write(const void* key, const void* value, uint64_t flags) const;

 private:
  void MergeSymbolKeys(Elements& e, size_t limit);
};

}  // namespace btap::runtime
