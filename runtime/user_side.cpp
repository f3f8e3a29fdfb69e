// User-side probes (see user_side.h).
#include "runtime/user_side.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gelf.h>
#include <libelf.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <random>
#include <set>

#include "common/stats.h"
#include "common/user_helpers.h"
#include "runtime/object.h"
#include "runtime/procfs.h"
#include "runtime/symbols.h"
#include "runtime/user_maps.h"
#include "runtime/user_snprintf.h"

namespace btap::runtime {

// A value looked up during one run: programs may change it in place, so it is written
// back when the run ends if its bytes changed.
struct UserSide::Cached {
  MapRef* map;
  std::vector<uint8_t> key;
  std::vector<uint8_t> value;
  std::vector<uint8_t> original;
  bool live = true;
};

struct UserSide::Iterator {
  MapRef* map;
  Elements entries;
  std::vector<uint32_t> order;  // the elements' indexes, in the loop's order
  size_t next = 0;
};

namespace {

constexpr int kEfault = 14;

uint64_t Monotonic(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

// Compares two values of one key or value column.
int Compare(meta::ValueType type, const uint8_t* a, const uint8_t* b, size_t size) {
  if (type == meta::ValueType::String) {
    int c = strncmp(reinterpret_cast<const char*>(a), reinterpret_cast<const char*>(b), size);
    return c < 0 ? -1 : c > 0;
  }
  int64_t x, y;
  std::memcpy(&x, a, 8);
  std::memcpy(&y, b, 8);
  return x < y ? -1 : x > y;
}

// The kernel's tick rate (jiffies per second), from its configuration; 250 when unknown.
uint64_t KernelHz() {
  struct utsname u;
  if (uname(&u) != 0) return 250;
  std::ifstream config(std::string("/boot/config-") + u.release);
  std::string line;
  while (std::getline(config, line))
    if (line.rfind("CONFIG_HZ=", 0) == 0) {
      uint64_t hz = std::strtoull(line.c_str() + 10, nullptr, 10);
      if (hz >= 24 && hz <= 10000) return hz;
    }
  return 250;
}

}  // namespace

UserSide::UserSide() = default;
UserSide::~UserSide() {
  for (auto [base, size] : mappings_) munmap(base, size);
}

bool UserSide::Prepare(std::span<const uint8_t> bytes, bpf_object* object, const meta::Meta& meta,
                       RecordSink sink, RecordFormatter formatter, TextSink text,
                       std::string* error) {
  meta_ = &meta;
  text_ = std::move(text);
  sink_ = std::move(sink);
  format_ = std::move(formatter);
  ElfHandle elf = OpenElf(bytes, error);
  if (!elf) return false;
  size_t names;
  if (elf_getshdrstrndx(elf.get(), &names) != 0) {
    *error = "malformed ELF object";
    return false;
  }
  struct Section {
    std::string name;
    Elf_Scn* scn;
    GElf_Shdr header;
  };
  std::vector<Section> sections(1);
  Elf_Scn* symtab = nullptr;
  GElf_Shdr symtab_header{};
  for (Elf_Scn* s = nullptr; (s = elf_nextscn(elf.get(), s));) {
    GElf_Shdr sh;
    if (!gelf_getshdr(s, &sh)) continue;
    const char* name = elf_strptr(elf.get(), names, sh.sh_name);
    size_t index = elf_ndxscn(s);
    if (sections.size() <= index) sections.resize(index + 1);
    sections[index] = {name ? name : "", s, sh};
    if (sh.sh_type == SHT_SYMTAB) {
      symtab = s;
      symtab_header = sh;
    }
  }
  if (!symtab) {
    *error = "the object has no symbol table";
    return false;
  }
  Elf_Data* symbols = elf_getdata(symtab, nullptr);

  // Global data: the kernel maps' memory, mapped into this process by libbpf.
  std::map<std::string, uint64_t> data_base;
  std::map<std::string, size_t> data_size;
  for (const char* section : {".bss", ".data", ".rodata"}) {
    bpf_map* map = bpf_object__find_map_by_name(object, section);
    if (!map) continue;
    // The kernel map's own memory (libbpf 1.1 maps it only for skeletons).
    size_t size = bpf_map__value_size(map);
    bool writable = std::strcmp(section, ".rodata") != 0;
    void* base = mmap(nullptr, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                      bpf_map__fd(map), 0);
    if (base == MAP_FAILED) {
      *error = std::string("cannot map the object's ") + section + " data: " + std::strerror(errno);
      return false;
    }
    mappings_.push_back({base, size});
    data_base[section] = reinterpret_cast<uint64_t>(base);
    data_size[section] = size;
    persistent_.push_back({base, size, writable});
  }
  auto symbol = [&](size_t index, GElf_Sym* sym, std::string* name) {
    if (!gelf_getsym(symbols, static_cast<int>(index), sym)) return false;
    const char* n = elf_strptr(elf.get(), symtab_header.sh_link, sym->st_name);
    *name = n ? n : "";
    return true;
  };
  size_t count =
      symtab_header.sh_entsize && symbols ? symbols->d_size / symtab_header.sh_entsize : 0;
  for (size_t i = 0; i < count; ++i) {
    GElf_Sym sym;
    std::string name;
    if (!symbol(i, &sym, &name) || sym.st_shndx >= sections.size()) continue;
    auto base = data_base.find(sections[sym.st_shndx].name);
    if (base == data_base.end() || name.empty()) continue;
    size_t size = data_size[base->first];
    if (sym.st_value >= size) continue;  // outside the section: never trusted
    symbols_[name] = {base->second + sym.st_value, size - sym.st_value};
  }

  object_ = object;
  auto map_ref = [&](const std::string& name) { return FindMap(name); };
  // Every global array is known up front: exit printing reads them.
  for (const meta::Global& g : meta.globals) {
    if (symbols_.count(g.map)) continue;
    if (!FindMap(g.map)) {
      *error = layout_error_.empty() ? "the object has no map `" + g.map + "` for `" + g.name + "`"
                                     : "malformed object: " + layout_error_;
      return false;
    }
  }

  for (const meta::Probe& p : meta.probes) {
    if (!p.user_side) continue;
    std::string section_name = "btap_user/" + p.program;
    size_t index = 0;
    for (size_t i = 0; i < sections.size(); ++i)
      if (sections[i].name == section_name) index = i;
    if (!index) {
      *error = "the object has no user-side program `" + p.program + "`";
      return false;
    }
    Elf_Data* data = elf_getdata(sections[index].scn, nullptr);
    if (!data || !data->d_buf || data->d_size % sizeof(bpf_insn)) {
      *error = "malformed user-side program `" + p.program + "`";
      return false;
    }
    std::vector<bpf_insn> insns(data->d_size / sizeof(bpf_insn));
    std::memcpy(insns.data(), data->d_buf, data->d_size);
    for (const Section& rel : sections) {
      if (rel.header.sh_type != SHT_REL || rel.header.sh_info != index) continue;
      Elf_Data* rd = elf_getdata(rel.scn, nullptr);
      size_t n = rel.header.sh_entsize ? rel.header.sh_size / rel.header.sh_entsize : 0;
      for (size_t r = 0; r < n; ++r) {
        GElf_Rel entry;
        GElf_Sym sym;
        std::string name;
        if (!gelf_getrel(rd, static_cast<int>(r), &entry) ||
            !symbol(GELF_R_SYM(entry.r_info), &sym, &name)) {
          *error = "malformed relocation in `" + p.program + "`";
          return false;
        }
        size_t at = entry.r_offset / sizeof(bpf_insn);
        if (at + 1 >= insns.size() || insns[at].code != (BPF_LD | BPF_IMM | BPF_DW)) {
          *error = "unsupported relocation in user-side program `" + p.program + "`";
          return false;
        }
        uint64_t value = 0;
        std::string section = sym.st_shndx < sections.size() ? sections[sym.st_shndx].name : "";
        if (section == ".maps") {
          MapRef* ref = map_ref(name);
          if (!ref) {
            *error = "user-side program `" + p.program + "` uses unknown map `" + name + "`";
            return false;
          }
          value = reinterpret_cast<uint64_t>(ref);
        } else if (data_base.count(section)) {
          value = data_base[section] + sym.st_value + static_cast<uint32_t>(insns[at].imm);
        } else {
          *error = "user-side program `" + p.program + "` refers to `" + name + "` in section `" +
                   section + "`, which this runtime cannot place";
          return false;
        }
        insns[at].src_reg = 0;
        insns[at].imm = static_cast<int32_t>(value & 0xffffffff);
        insns[at + 1].imm = static_cast<int32_t>(value >> 32);
      }
    }
    programs_[p.program] = std::move(insns);
  }
  lines_ = ObjectSourceLines(bytes, "btap_user/");

  EndRun();
  using namespace std::placeholders;
  auto bind = [&](int32_t id, uint64_t (UserSide::*fn)(const uint64_t*, std::string*)) {
    interpreter_.SetHelper(id, std::bind(fn, this, _1, _2));
  };
  bind(BPF_FUNC_map_lookup_elem, &UserSide::Lookup);
  bind(BPF_FUNC_map_update_elem, &UserSide::Update);
  bind(BPF_FUNC_map_delete_elem, &UserSide::Delete);
  bind(BPF_FUNC_ringbuf_output, &UserSide::Output);
  bind(BPF_FUNC_probe_read_kernel_str, &UserSide::ReadString);
  bind(BPF_FUNC_probe_read_kernel, &UserSide::Read);
  // User memory in a begin or end probe is btap's own, as stap's is its staprun's: an
  // address outside what the program itself holds faults (a catchable error).
  bind(BPF_FUNC_probe_read_user_str, &UserSide::ReadString);
  bind(BPF_FUNC_probe_read_user, &UserSide::Read);
  bind(user_helper::kForeachBegin, &UserSide::ForeachBegin);
  bind(user_helper::kForeachNext, &UserSide::ForeachNext);
  bind(user_helper::kMapMatches, &UserSide::MapMatches);
  bind(user_helper::kMapClear, &UserSide::Clear);
  bind(user_helper::kSprintf, &UserSide::Sprintf);
  bind(user_helper::kPrintHistogram, &UserSide::PrintHistogram);
  bind(user_helper::kProcfsValue, &UserSide::Procfs);
  interpreter_.SetHelper(BPF_FUNC_snprintf, [this](const uint64_t* a, std::string* error) {
    return UserSnprintf(interpreter_, a, error);
  });
  interpreter_.SetHelper(BPF_FUNC_ktime_get_ns,
                         [](const uint64_t*, std::string*) { return Monotonic(CLOCK_MONOTONIC); });
  interpreter_.SetHelper(BPF_FUNC_jiffies64, [hz = KernelHz()](const uint64_t*, std::string*) {
    return Monotonic(CLOCK_MONOTONIC) / (1000000000ull / hz);
  });
  interpreter_.SetHelper(BPF_FUNC_get_prandom_u32, [](const uint64_t*, std::string*) {
    static std::mt19937 random{std::random_device{}()};
    return static_cast<uint64_t>(static_cast<uint32_t>(random()));
  });
  interpreter_.SetHelper(BPF_FUNC_get_smp_processor_id, [](const uint64_t*, std::string*) {
    int cpu = sched_getcpu();
    return static_cast<uint64_t>(cpu < 0 ? 0 : cpu);
  });
  interpreter_.SetHelper(BPF_FUNC_get_current_pid_tgid, [this](const uint64_t*, std::string*) {
    if (procfs_) return (static_cast<uint64_t>(procfs_->tgid) << 32) | procfs_->tid;
    return (static_cast<uint64_t>(getpid()) << 32) | static_cast<uint32_t>(gettid());
  });
  interpreter_.SetHelper(user_helper::kParentPid, [this](const uint64_t*, std::string*) {
    return static_cast<uint64_t>(procfs_ ? procfs_->ppid : getppid());
  });
  interpreter_.SetHelper(user_helper::kLoadavg, [](const uint64_t* a, std::string*) {
    std::ifstream in("/proc/loadavg");
    std::string field;
    for (uint64_t i = 0; i <= a[0] && i < 3; ++i) in >> field;
    size_t dot = field.find('.');
    if (a[0] > 2 || dot == std::string::npos) return uint64_t{0};
    uint64_t whole = std::strtoull(field.c_str(), nullptr, 10);
    uint64_t hundredths = std::strtoull(field.c_str() + dot + 1, nullptr, 10);
    // The smallest fixed-point value whose hundredths print as these.
    return (whole << 11) + (hundredths * 2048 + 99) / 100;
  });
  interpreter_.SetHelper(BPF_FUNC_get_current_uid_gid, [this](const uint64_t*, std::string*) {
    if (procfs_) return (static_cast<uint64_t>(procfs_->gid) << 32) | procfs_->uid;
    return (static_cast<uint64_t>(getgid()) << 32) | getuid();
  });
  interpreter_.SetHelper(BPF_FUNC_get_current_comm, [this](const uint64_t* a, std::string* error) {
    if (!interpreter_.Accessible(a[0], a[1], true)) {
      *error = "get_current_comm: buffer out of bounds";
      return uint64_t{0};
    }
    char name[17] = {};
    if (procfs_)  // a procfs probe runs for a reader or writer, in its context as stap's
      std::strncpy(name, procfs_->comm.c_str(), 16);
    else
      prctl(PR_GET_NAME, name);
    std::memset(reinterpret_cast<void*>(a[0]), 0, a[1]);
    std::memcpy(reinterpret_cast<void*>(a[0]), name, std::min<size_t>(a[1] ? a[1] - 1 : 0, 16));
    return uint64_t{0};
  });
  return true;
}

UserSide::MapRef* UserSide::FindMap(const std::string& name) {
  for (auto& m : maps_)
    if (m->name == name) return m.get();
  bpf_map* map = bpf_object__find_map_by_name(object_, name.c_str());
  if (!map) return nullptr;
  auto ref = std::make_unique<MapRef>();
  ref->name = name;
  ref->fd = bpf_map__fd(map);
  ref->type = bpf_map__type(map);
  ref->key_size = bpf_map__key_size(map);
  ref->value_size = bpf_map__value_size(map);
  for (const meta::Global& g : meta_->globals)
    if (g.map == name) ref->global = &g;
  ref->run = &runs_;
  ref->text_limit = meta_->limits.max_string_len;
  bool per_cpu = ref->type == BPF_MAP_TYPE_PERCPU_ARRAY || ref->type == BPF_MAP_TYPE_PERCPU_HASH;
  ref->stats = per_cpu && ref->global;
  if (!CheckLayout(*ref)) return nullptr;
  ref->tag_keys = meta_->symbol_tags &&
                  std::any_of(ref->key_parts.begin(), ref->key_parts.end(), [](const auto& part) {
                    return part.first == meta::ValueType::String;
                  });
  if (per_cpu && !ref->global) {  // scratch space
    ref->local.assign(ref->value_size + 64, 0);
    persistent_.push_back({ref->local.data(), ref->local.size(), true});
  }
  maps_.push_back(std::move(ref));
  return maps_.back().get();
}

// The object's maps must be what its metadata says they are: every size below is
// trusted by the helpers.
bool UserSide::CheckLayout(MapRef& m) {
  auto bad = [&](const std::string& why) {
    layout_error_ = "map `" + m.name + "`: " + why;
    return false;
  };
  if (!m.global) return true;
  const meta::Global& g = *m.global;
  if ((g.value == meta::ValueType::Stats) != m.stats)
    return bad("per-CPU maps hold statistics, and statistics only");
  if (m.stats && (m.value_size % 8 || m.value_size < stats::kBuckets * 8))
    return bad("a statistics value of " + std::to_string(m.value_size) + " bytes");
  if (!m.stats && g.value == meta::ValueType::Long && m.value_size != 8)
    return bad("a long value of " + std::to_string(m.value_size) + " bytes");
  if (g.keys.empty()) return true;
  if (g.key_widths.size() != g.keys.size()) return bad("keys without their widths");
  size_t offset = 0;
  for (size_t k = 0; k < g.keys.size(); ++k) {
    size_t width = g.key_widths[k];
    if (g.keys[k] == meta::ValueType::Long ? width != 8 : width == 0 || width % 8)
      return bad("a key part of " + std::to_string(width) + " bytes");
    m.key_parts.push_back({g.keys[k], offset});
    offset += width;
  }
  if (offset != m.key_size) return bad("keys do not match their parts");
  return true;
}

uint64_t* UserSide::RuntimeVariable(const std::string& name) const {
  auto it = symbols_.find(name);
  if (it == symbols_.end() || it->second.second < 8) return nullptr;
  return reinterpret_cast<uint64_t*>(it->second.first);
}

std::vector<std::string> UserSide::RuntimeVariables(std::string_view prefix) const {
  std::vector<std::string> names;
  for (const auto& [name, where] : symbols_)
    if (std::string_view(name).substr(0, prefix.size()) == prefix) names.push_back(name);
  return names;
}

std::span<uint8_t> UserSide::GlobalData(const std::string& name) const {
  auto it = symbols_.find(name);
  if (it == symbols_.end()) return {};
  return {reinterpret_cast<uint8_t*>(it->second.first), it->second.second};
}

bool UserSide::Run(const std::string& program, std::string* error) {
  error_located_ = false;
  auto it = programs_.find(program);
  if (it == programs_.end()) {
    *error = "no user-side program `" + program + "`";
    return false;
  }
  uint64_t result = 0;
  ++runs_;
  bool ok = interpreter_.Run(it->second, 0, &result, error);
  EndRun();
  if (ok) return true;
  // As the kernel side's run-time errors: the limit is stap's MAXACTION, the place the
  // statement whose code was running.
  auto lines = lines_.find("btap_user/" + program);
  std::string near =
      lines == lines_.end() ? "" : NearInstruction(lines->second, interpreter_.fault_instruction());
  error_located_ = !near.empty();
  if (error_located_)
    *error = (interpreter_.limit_reached() ? "MAXACTION exceeded" : interpreter_.fault()) + near;
  return false;
}

UserSide::MapRef* UserSide::Map(uint64_t handle, std::string* error) {
  for (auto& m : maps_)
    if (reinterpret_cast<uint64_t>(m.get()) == handle) return m.get();
  *error = "not a map";
  return nullptr;
}

uint64_t UserSide::Lookup(const uint64_t a[5], std::string* error) {
  MapRef* m = Map(a[0], error);
  if (!m) return 0;
  if (!m->local.empty()) return reinterpret_cast<uint64_t>(m->local.data());
  if (!interpreter_.Accessible(a[1], m->key_size, false)) {
    *error = "map lookup: key out of bounds";
    return 0;
  }
  const auto* key = reinterpret_cast<const uint8_t*>(a[1]);
  for (auto& c : cache_)
    if (c->live && c->map == m && std::equal(c->key.begin(), c->key.end(), key))
      return reinterpret_cast<uint64_t>(c->value.data());
  auto c = std::make_unique<Cached>();
  c->map = m;
  c->key.assign(key, key + m->key_size);
  // A text may stand for elements a kernel probe keyed by addresses, besides an element
  // of its own: this run's read of every element merges them.
  if (m->tag_keys) m->MergedOrRead(c->key.data());
  if (!m->Read(c->key.data(), c->value)) return 0;
  c->original = c->value;
  interpreter_.AddRegion(c->value.data(), c->value.size(), true);
  cache_.push_back(std::move(c));
  return reinterpret_cast<uint64_t>(cache_.back()->value.data());
}

uint64_t UserSide::Update(const uint64_t a[5], std::string* error) {
  MapRef* m = Map(a[0], error);
  if (!m) return 0;
  if (!interpreter_.Accessible(a[1], m->key_size, false) ||
      !interpreter_.Accessible(a[2], m->value_size, false)) {
    *error = "map update: key or value out of bounds";
    return 0;
  }
  const auto* key = reinterpret_cast<const uint8_t*>(a[1]);
  const auto* value = reinterpret_cast<const uint8_t*>(a[2]);
  if (MapRef::Merged* merged = m->MergedOrRead(key)) {
    // The text of elements a kernel probe keyed by addresses: the value is theirs.
    for (const std::vector<uint8_t>& kept : merged->keys) m->Write(kept.data(), value, BPF_EXIST);
    merged->value.assign(value, value + m->value_size);
  } else if (m->Write(key, value, a[3]) != 0) {
    return static_cast<uint64_t>(-errno);
  }
  for (auto& c : cache_)
    if (c->live && c->map == m && std::equal(c->key.begin(), c->key.end(), key)) {
      std::memmove(c->value.data(), value, m->value_size);
      c->original = c->value;
    }
  return 0;
}

uint64_t UserSide::Delete(const uint64_t a[5], std::string* error) {
  MapRef* m = Map(a[0], error);
  if (!m) return 0;
  if (!interpreter_.Accessible(a[1], m->key_size, false)) {
    *error = "map delete: key out of bounds";
    return 0;
  }
  const auto* key = reinterpret_cast<const uint8_t*>(a[1]);
  for (auto& c : cache_)
    if (c->map == m && std::equal(c->key.begin(), c->key.end(), key)) c->live = false;
  std::vector<uint8_t> k(key, key + m->key_size);
  size_t had = m->shadow.erase(k);
  if (MapRef::Merged* merged = m->MergedOrRead(key)) {  // the kernel's keys it stands for
    for (const std::vector<uint8_t>& kept : merged->keys) {
      bpf_map_delete_elem(m->fd, kept.data());
      m->shadow.erase(kept);
    }
    m->merged.erase(k);
    return 0;
  }
  if (bpf_map_delete_elem(m->fd, key) == 0 || had) return 0;
  return static_cast<uint64_t>(-errno);
}

// Kernel probes may have changed an element since this run looked it up, so only the
// change is applied: a long gets the difference added to its current value, statistics
// add to the first CPU's copy (other CPUs keep theirs); strings are replaced.
void UserSide::Flush() {
  for (auto& c : cache_) {
    if (!c->live || c->value == c->original) continue;
    MapRef& m = *c->map;
    if (m.stats) {
      AddToShadow(m, c->key, c->original, c->value);
    } else if (m.global && m.global->value == meta::ValueType::Long && m.value_size == 8) {
      int64_t before, after, now = 0;
      std::memcpy(&before, c->original.data(), 8);
      std::memcpy(&after, c->value.data(), 8);
      if (MapRef::Merged* merged = m.MergedFor(c->key.data())) {
        // Elements merged by their symbol text: what is added is an element of its own,
        // under the text, which the next read adds to them; a value set is theirs.
        if (m.global->adds_only) {
          if (bpf_map_lookup_elem(m.fd, c->key.data(), &now) == 0) {
            now += after - before;
            bpf_map_update_elem(m.fd, c->key.data(), &now, BPF_EXIST);
          } else {
            now = after - before;
            bpf_map_update_elem(m.fd, c->key.data(), &now, BPF_NOEXIST);
          }
        } else {
          for (const std::vector<uint8_t>& kept : merged->keys)
            bpf_map_update_elem(m.fd, kept.data(), c->value.data(), BPF_EXIST);
        }
        merged->value = c->value;
      } else if (bpf_map_lookup_elem(m.fd, c->key.data(), &now) == 0) {
        now += after - before;
        bpf_map_update_elem(m.fd, c->key.data(), &now, BPF_EXIST);
      }
    } else if (MapRef::Merged* merged = m.MergedFor(c->key.data())) {
      for (const std::vector<uint8_t>& kept : merged->keys)
        m.Write(kept.data(), c->value.data(), BPF_EXIST);
      merged->value = c->value;
    } else {
      m.Write(c->key.data(), c->value.data(), BPF_EXIST);
    }
    c->original = c->value;
  }
}

// Adds what a run added to a statistics value (after - before) to the user-side part.
void UserSide::AddToShadow(MapRef& m, const std::vector<uint8_t>& key,
                           const std::vector<uint8_t>& before, const std::vector<uint8_t>& after) {
  size_t slots = m.value_size / 8;
  std::vector<int64_t> old(slots), now(slots);
  std::memcpy(old.data(), before.data(), slots * 8);
  std::memcpy(now.data(), after.data(), slots * 8);
  int64_t added = now[stats::kCount] - old[stats::kCount];
  if (added <= 0) return;  // only `<<<` changes a statistics value here
  std::vector<int64_t> delta(slots, 0);
  delta[stats::kCount] = added;
  delta[stats::kSum] = now[stats::kSum] - old[stats::kSum];
  delta[stats::kSumSquares] = now[stats::kSumSquares] - old[stats::kSumSquares];
  // The merged min and max include this run's values; they are at least as wide.
  delta[stats::kMin] = now[stats::kMin];
  delta[stats::kMax] = now[stats::kMax];
  for (size_t i = stats::kBuckets; i < slots; ++i) delta[i] = now[i] - old[i];
  std::vector<int64_t>& own = m.shadow[key];
  own.resize(slots, 0);
  stats::Merge(own, delta);
}

void UserSide::EndRun() {
  Flush();
  cache_.clear();
  iterators_.clear();
  interpreter_.ClearRegions();
  for (const Persistent& p : persistent_) interpreter_.AddRegion(p.base, p.size, p.writable);
}

uint64_t UserSide::Output(const uint64_t a[5], std::string* error) {
  if (!interpreter_.Accessible(a[1], a[2], false)) {
    *error = "ringbuf_output: record out of bounds";
    return 0;
  }
  sink_(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(a[1]), a[2]));
  return 0;
}

uint64_t UserSide::ReadString(const uint64_t a[5], std::string* error) {
  uint64_t dst = a[0], size = a[1], src = a[2];
  if (size == 0) return 0;
  if (!interpreter_.Accessible(dst, size, true)) {
    *error = "probe_read_str: destination out of bounds";
    return 0;
  }
  auto* out = reinterpret_cast<char*>(dst);
  for (uint64_t i = 0; i + 1 < size; ++i) {
    if (!interpreter_.Accessible(src + i, 1, false)) {
      out[0] = 0;
      return static_cast<uint64_t>(-kEfault);
    }
    char c = *reinterpret_cast<const char*>(src + i);
    out[i] = c;
    if (!c) return i + 1;
  }
  out[size - 1] = 0;
  return size;
}

uint64_t UserSide::Read(const uint64_t a[5], std::string* error) {
  uint64_t dst = a[0], size = a[1], src = a[2];
  if (!interpreter_.Accessible(dst, size, true)) {
    *error = "probe_read: destination out of bounds";
    return 0;
  }
  if (!interpreter_.Accessible(src, size, false)) {
    std::memset(reinterpret_cast<void*>(dst), 0, size);
    return static_cast<uint64_t>(-kEfault);
  }
  std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), size);
  return 0;
}

uint64_t UserSide::ForeachBegin(const uint64_t a[5], std::string* error) {
  MapRef* m = Map(a[0], error);
  if (!m) return 0;
  Flush();  // the snapshot sees this run's changes
  auto it = std::make_unique<Iterator>();
  it->map = m;
  it->entries = m->Entries(meta_->limits.max_string_len);
  const Elements& e = it->entries;
  it->order.resize(e.count);
  for (size_t i = 0; i < e.count; ++i) it->order[i] = static_cast<uint32_t>(i);
  uint64_t how = a[1];
  unsigned column = (how >> 16) & 0xff;
  int direction = static_cast<int>((how >> 24) & 0xff);
  const meta::Global* g = m->global;
  // An unsorted foreach goes in key order too: stap promises no order, a stable one is
  // friendlier than the hash table's.
  if (g) {
    // Columns: the value, then each key part; ties fall back to the keys in order.
    const auto& keys = m->key_parts;
    auto compare_keys = [&](uint32_t x, uint32_t y) {
      for (auto [type, at] : keys) {
        int c = Compare(type, e.key(x) + at, e.key(y) + at, e.key_size - at);
        if (c) return c;
      }
      return 0;
    };
    std::stable_sort(it->order.begin(), it->order.end(), [&](uint32_t x, uint32_t y) {
      int c = 0;
      if (direction == 0) {
        c = 0;
      } else if (column == 0 && m->stats) {
        int64_t ax = 0, ay = 0;
        std::vector<int64_t> vx(e.value_size / 8), vy(e.value_size / 8);
        std::memcpy(vx.data(), e.value(x), vx.size() * 8);
        std::memcpy(vy.data(), e.value(y), vy.size() * 8);
        auto op = static_cast<stats::Op>((how >> 32) & 0xff);
        bool hx = stats::Aggregate(vx, op, &ax), hy = stats::Aggregate(vy, op, &ay);
        c = hx != hy ? (hx ? 1 : -1) : ax < ay ? -1 : ax > ay;
      } else if (column == 0) {
        c = Compare(g->value, e.value(x), e.value(y), e.value_size);
      } else if (column <= keys.size()) {
        size_t at = keys[column - 1].second;
        c = Compare(keys[column - 1].first, e.key(x) + at, e.key(y) + at, e.key_size - at);
      }
      if (direction == 2) c = -c;
      if (!c) c = compare_keys(x, y);
      return c < 0;
    });
  }
  auto limit = static_cast<int64_t>(a[2]);
  if (limit >= 0 && static_cast<size_t>(limit) < it->order.size()) it->order.resize(limit);
  if (it->order.empty()) return 0;
  uint64_t id = next_iterator_++;
  iterators_[id] = std::move(it);
  return id;
}

uint64_t UserSide::ForeachNext(const uint64_t a[5], std::string* error) {
  auto found = iterators_.find(a[0]);
  if (found == iterators_.end()) return 0;
  Iterator& it = *found->second;
  if (it.next >= it.order.size()) {
    iterators_.erase(found);
    return 0;
  }
  uint32_t i = it.order[it.next++];
  const Elements& e = it.entries;
  if (!interpreter_.Accessible(a[1], e.key_size, true) ||
      !interpreter_.Accessible(a[2], e.value_size, true)) {
    *error = "foreach: buffers out of bounds";
    return 0;
  }
  std::memcpy(reinterpret_cast<void*>(a[1]), e.key(i), e.key_size);
  std::memcpy(reinterpret_cast<void*>(a[2]), e.value(i), e.value_size);
  return 1;
}

// [k, *] in a: the elements as a foreach reads them, scanned in the map's order up to the
// first match, with neither the iterator's copy nor its sort.
uint64_t UserSide::MapMatches(const uint64_t a[5], std::string* error) {
  MapRef* m = Map(a[0], error);
  if (!m) return 0;
  if (!interpreter_.Accessible(a[1], m->key_size, false)) {
    *error = "map_matches: key out of bounds";
    return 0;
  }
  Flush();  // the scan sees this run's changes
  const Elements e = m->Entries(meta_->limits.max_string_len);
  const auto* want = reinterpret_cast<const uint8_t*>(a[1]);
  const auto& parts = m->key_parts;
  for (size_t i = 0; i < e.count; ++i) {
    bool same = true;
    for (size_t p = 0; same && p < parts.size() && p < 64; ++p) {
      if (!((a[2] >> p) & 1)) continue;
      size_t at = parts[p].second, end = p + 1 < parts.size() ? parts[p + 1].second : e.key_size;
      same = std::memcmp(e.key(i) + at, want + at, end - at) == 0;
    }
    if (same) return 1;
  }
  return 0;
}

uint64_t UserSide::Sprintf(const uint64_t a[5], std::string* error) {
  uint64_t dst = a[0], size = a[1];
  if (!size || !interpreter_.Accessible(dst, size, true) ||
      !interpreter_.Accessible(a[2], a[3], false)) {
    *error = "sprintf: buffers out of bounds";
    return 0;
  }
  std::string text;
  if (!format_(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(a[2]), a[3]), &text)) {
    *error = "sprintf: " + text;
    return 0;
  }
  size_t n = std::min<size_t>(text.size(), size - 1);
  std::memcpy(reinterpret_cast<void*>(dst), text.data(), n);
  reinterpret_cast<char*>(dst)[n] = 0;
  return n;
}

// A procfs probe's `$value` (common/user_helpers.h): set, appended to or read.
uint64_t UserSide::Procfs(const uint64_t a[5], std::string* error) {
  if (!procfs_) {
    *error = "$value outside a procfs probe";
    return 0;
  }
  uint64_t text = a[1], size = a[2];
  if (a[0] == user_helper::kProcfsGet) {
    if (!size || !interpreter_.Accessible(text, size, true)) {
      *error = "procfs value: buffer out of bounds";
      return 0;
    }
    size_t n = std::min<size_t>(procfs_->written.size(), size - 1);
    std::memcpy(reinterpret_cast<void*>(text), procfs_->written.data(), n);
    reinterpret_cast<char*>(text)[n] = 0;
    return n;
  }
  std::string s;
  for (uint64_t i = 0; i < size; ++i) {
    if (!interpreter_.Accessible(text + i, 1, false)) {
      *error = "procfs value: string out of bounds";
      return 0;
    }
    char c = reinterpret_cast<const char*>(text)[i];
    if (!c) break;
    s += c;
  }
  std::string& value = procfs_->text;
  if (a[0] == user_helper::kProcfsSet) value.clear();
  size_t room = procfs_->max > value.size() + 1 ? procfs_->max - 1 - value.size() : 0;
  if (s.size() <= room) {
    value += s;
    return 0;
  }
  // stap keeps what fits and names the size that would have held it all.
  uint64_t needed = value.size() + s.size() + 1;
  value.append(s, 0, room);
  procfs_->overflowed = true;
  return needed;
}

uint64_t UserSide::PrintHistogram(const uint64_t a[5], std::string* error) {
  stats::Shape shape;
  shape.hist = static_cast<stats::Hist>(a[1] & 0xff);
  uint32_t buckets = static_cast<uint32_t>((a[1] >> 8) & 0x7fffff);
  uint64_t dst = a[4], size = a[1] >> 32;
  shape.start = static_cast<int64_t>(a[2]);
  shape.interval = static_cast<int64_t>(a[3]);
  if (buckets > 2000) {
    *error = "print_histogram: too many buckets";
    return 0;
  }
  if (shape.hist == stats::Hist::Linear) {
    int64_t span = 0;
    if (shape.interval <= 0 || buckets < 3 ||
        __builtin_mul_overflow(static_cast<int64_t>(buckets - 3), shape.interval, &span) ||
        __builtin_add_overflow(shape.start, span, &shape.stop)) {
      *error = "print_histogram: bad shape";
      return 0;
    }
  }
  if ((shape.hist != stats::Hist::Log && shape.hist != stats::Hist::Linear) ||
      shape.Buckets() != buckets || !interpreter_.Accessible(a[0], shape.Slots() * 8, false)) {
    *error = "print_histogram: bad value or shape";
    return 0;
  }
  std::vector<int64_t> value(shape.Slots());
  std::memcpy(value.data(), reinterpret_cast<const void*>(a[0]), value.size() * 8);
  std::string text = stats::RenderHistogram(value, shape);
  if ((a[1] >> 31) & 1) text += '\n';
  if (!dst) {
    text_(text);
    return 0;
  }
  if (!size || !interpreter_.Accessible(dst, size, true)) {
    *error = "print_histogram: buffer out of bounds";
    return 0;
  }
  size_t n = std::min<size_t>(text.size(), size - 1);
  std::memcpy(reinterpret_cast<void*>(dst), text.data(), n);
  reinterpret_cast<char*>(dst)[n] = 0;
  return n;
}

uint64_t UserSide::Clear(const uint64_t a[5], std::string* error) {
  MapRef* m = Map(a[0], error);
  if (!m) return 0;
  for (auto& c : cache_)
    if (c->map == m) c->live = false;
  m->shadow.clear();
  m->merged.clear();
  std::vector<uint8_t> key(m->key_size);
  if (m->type == BPF_MAP_TYPE_ARRAY || m->type == BPF_MAP_TYPE_PERCPU_ARRAY) {
    // Array elements cannot be deleted: clearing zeroes them.
    std::vector<uint8_t> zeros(m->value_size, 0);
    uint32_t index = 0;
    std::memcpy(key.data(), &index, std::min<size_t>(4, key.size()));
    m->Write(key.data(), zeros.data(), BPF_ANY);
    return 0;
  }
  while (bpf_map_get_next_key(m->fd, nullptr, key.data()) == 0)
    if (bpf_map_delete_elem(m->fd, key.data()) != 0) break;
  return 0;
}

}  // namespace btap::runtime
