// The kernel tracepoint catalog: which `sys:name` events exist (tracefs, else BTF), which bare
// tracepoints (DECLARE_TRACE: BTF only, no event) exist beside them, and which arguments each
// one carries (the BTF raw-tracepoint prototype, else the tracefs format file).
// Read by the elaborator for `kernel.trace("sys:name")` probes and by `btap -l/-L`.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "semantic/machine/kernel_btf.h"

namespace btap::sema {

struct TracepointArg {
  std::string name;    // "prev"
  std::string c_type;  // SystemTap -L spelling: "struct task_struct*", "char[16]", "const char*"
  uint32_t size = 0;   // bytes (0 if unknown)
  bool is_signed = false;
  bool is_pointer = false;
  bool is_array = false;    // a fixed array stored inline in the record
  bool is_dynamic = false;  // `__data_loc`/`__rel_loc`: the record holds a u32 (len << 16 | off)
  uint32_t offset = 0;      // byte offset in the tracefs record (format-file args only)
  uint32_t btf_type = 0;    // BTF-prototype args: the type's id in kernel BTF

  friend bool operator==(const TracepointArg&, const TracepointArg&) = default;
};

struct Tracepoint {
  std::string system;  // "sched" ("" when unknown: BTF-only catalog)
  std::string name;    // "sched_switch"

  std::string Spelling() const;  // "sched:sched_switch", or "sched_switch" when system unknown

  friend auto operator<=>(const Tracepoint&, const Tracepoint&) = default;
};

enum class ArgSource { Btf, Format };  // BTF raw-tracepoint prototype, or tracefs format fields

class TracepointCatalog {
 public:
  // Lists the events. tracefs_root "" means /sys/kernel/tracing, else /sys/kernel/debug/tracing,
  // mounting tracefs on the former when neither has events and we are root. btf_path "" means
  // /sys/kernel/btf/vmlinux, parsed on first use unless `btf` gives it. Never fatal: an empty
  // catalog with error() set when nothing is available.
  static TracepointCatalog Load(const std::string& tracefs_root = "",
                                const std::string& btf_path = "", BtfSource btf = {});

  TracepointCatalog();
  TracepointCatalog(TracepointCatalog&&) noexcept;
  TracepointCatalog& operator=(TracepointCatalog&&) noexcept;
  ~TracepointCatalog();

  const std::vector<Tracepoint>& all() const { return all_; }  // sorted by (system, name), unique

  // Tracepoints with no trace event (declared with DECLARE_TRACE: `sched_update_nr_running_tp`),
  // known by their `btf_trace_<name>` type in the kernel's BTF only, so their system is unknown
  // (""). Sorted, unique, disjoint from all(); read from BTF on first use; empty for a BTF-only
  // catalog, whose all() holds every tracepoint already.
  const std::vector<Tracepoint>& bare() const;

  // stap's pattern rules: "sys:name" globs each part, "name" globs the event name in any
  // system. An unknown system (BTF-only catalog) matches only system globs that match "".
  // Bare tracepoints follow the events: "name" globs them too, and so does "sys:name" whose
  // system glob matches "" or whose name has no wildcard (stap spells them with their header's
  // TRACE_SYSTEM, `sched:sched_update_nr_running_tp`, which BTF does not record). BTF is read
  // only when the pattern may match one that tracefs does not list.
  std::vector<const Tracepoint*> Match(std::string_view pattern) const;

  // The event's arguments, computed on first use and cached; nullptr when neither BTF nor the
  // format file knows the event. The BTF prototype wins because it is what `$prev` means to stap.
  const std::vector<TracepointArg>* Args(const Tracepoint& tp, ArgSource* source = nullptr) const;

  // Why the event list or BTF is unavailable; empty when all is well.
  const std::string& error() const { return error_; }
  // The tracefs directory the list came from; "" when it came from BTF.
  const std::string& tracefs_root() const { return tracefs_root_; }

 private:
  struct BtfIndex;
  struct CachedArgs {
    bool found = false;
    ArgSource source = ArgSource::Format;
    std::vector<TracepointArg> args;
  };

  const BtfIndex* Btf() const;
  bool ListFromTracefs(const std::string& root);
  void ListFromBtf();
  bool ArgsFromBtf(const std::string& name, std::vector<TracepointArg>* args) const;
  bool ArgsFromFormat(const Tracepoint& tp, std::vector<TracepointArg>* args) const;

  std::vector<Tracepoint> all_;
  std::string tracefs_root_;
  std::string btf_path_;
  BtfSource btf_source_;
  // Lazily filled by const accessors; the catalog is not shared between threads.
  mutable std::string error_;
  mutable std::unique_ptr<BtfIndex> btf_;
  mutable bool btf_tried_ = false;
  mutable std::map<Tracepoint, CachedArgs> args_cache_;
  mutable std::vector<Tracepoint> bare_;
  mutable bool bare_listed_ = false;
};

// Fields of a tracefs `format` file, without the common_* header fields.
std::vector<TracepointArg> ParseFormatFields(std::string_view format_text);

// A BTF type spelled the way SystemTap prints it: "char*", "const char*", "struct file*",
// typedef names kept, "int[4]", "enum foo", function pointers as "<function>*".
std::string BtfCType(const struct btf* btf, uint32_t type_id);

}  // namespace btap::sema
