// User-side probes (DESIGN decision 2): begin, end, error and task-free timer programs of
// a loaded object, run by the runtime's BPF interpreter. Their instructions are read from
// the object's ELF and relocated here against the loaded maps (libbpf never loads them
// into the kernel); map helpers become bpf() syscalls, global data is the kernel's own
// memory-mapped copy, and helpers only this side has (sorted foreach, clearing a map)
// are served from the object's metadata.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/object_meta.h"
#include "runtime/btf_ext.h"
#include "runtime/interpreter.h"

struct bpf_object;

namespace btap::runtime {

struct ProcfsValue;

class UserSide {
 public:
  // Receives each output record a program writes (same bytes as the ring buffer's).
  using RecordSink = std::function<void(std::span<const uint8_t>)>;
  // Formats a record to text (for sprintf); false when the record is malformed.
  using RecordFormatter = std::function<bool(std::span<const uint8_t>, std::string*)>;
  // Receives text that is already formatted (histograms).
  using TextSink = std::function<void(const std::string&)>;

  UserSide();
  ~UserSide();

  // Relocates the named programs of `elf` (already loaded as `object`).
  bool Prepare(std::span<const uint8_t> elf, bpf_object* object, const meta::Meta& meta,
               RecordSink sink, RecordFormatter formatter, TextSink text, std::string* error);
  // Runs one program to completion; a fault is an error naming the statement's place in
  // the script (or, without line info, the instruction).
  bool Run(const std::string& program, std::string* error);
  // Whether the last failed Run's error names its place in the script.
  bool ErrorLocated() const { return error_located_; }

  // The `$value` of the procfs probe about to run (runtime/procfs.h); null after it.
  void SetProcfsValue(ProcfsValue* value) { procfs_ = value; }

  // stap's report of the globals written but never read, after the end probes, handed
  // to `write` in pieces.
  void GlobalsAtExit(const std::function<void(std::string_view)>& write);

  // The address of a global-data symbol (runtime variables such as __btap_target).
  uint64_t* RuntimeVariable(const std::string& name) const;
  // The global-data symbols whose names start with `prefix`.
  std::vector<std::string> RuntimeVariables(std::string_view prefix) const;
  // The bytes of a global-data symbol, to the end of its section (empty if unknown).
  std::span<uint8_t> GlobalData(const std::string& name) const;

 private:
  struct MapRef;
  struct Cached;
  struct Iterator;

  uint64_t Lookup(const uint64_t a[5], std::string* error);
  uint64_t Update(const uint64_t a[5], std::string* error);
  uint64_t Delete(const uint64_t a[5], std::string* error);
  uint64_t Output(const uint64_t a[5], std::string* error);
  uint64_t ReadString(const uint64_t a[5], std::string* error);
  uint64_t Read(const uint64_t a[5], std::string* error);
  uint64_t ForeachBegin(const uint64_t a[5], std::string* error);
  uint64_t ForeachNext(const uint64_t a[5], std::string* error);
  uint64_t MapMatches(const uint64_t a[5], std::string* error);
  uint64_t Clear(const uint64_t a[5], std::string* error);
  uint64_t Sprintf(const uint64_t a[5], std::string* error);
  uint64_t PrintHistogram(const uint64_t a[5], std::string* error);
  uint64_t Procfs(const uint64_t a[5], std::string* error);
  MapRef* Map(uint64_t handle, std::string* error);
  MapRef* FindMap(const std::string& name);
  bool CheckLayout(MapRef& map);
  void Flush();  // writes changed cached values back to their maps
  void AddToShadow(MapRef& map, const std::vector<uint8_t>& key, const std::vector<uint8_t>& before,
                   const std::vector<uint8_t>& after);
  void EndRun();  // flushes, forgets this run's lookups and iterators

  struct Persistent {
    const void* base;
    size_t size;
    bool writable;
  };
  std::vector<Persistent> persistent_;
  std::vector<std::pair<void*, size_t>> mappings_;  // global data, mapped from the kernel  //
                                                    // global data and scratch: live across runs

  Interpreter interpreter_;
  const meta::Meta* meta_ = nullptr;
  bpf_object* object_ = nullptr;
  RecordSink sink_;
  RecordFormatter format_;
  TextSink text_;
  std::vector<std::unique_ptr<MapRef>> maps_;
  std::map<std::string, std::vector<bpf_insn>> programs_;
  SourceLines lines_;  // by the programs' sections, for the places errors name
  bool error_located_ = false;
  // Global-data symbol -> its address and the bytes of its section from there on.
  std::map<std::string, std::pair<uint64_t, size_t>> symbols_;
  std::string layout_error_;
  std::vector<std::unique_ptr<Cached>> cache_;
  std::map<uint64_t, std::unique_ptr<Iterator>> iterators_;
  uint64_t next_iterator_ = 1;
  uint64_t runs_ = 0;  // user-side runs started
  ProcfsValue* procfs_ = nullptr;
};

}  // namespace btap::runtime
