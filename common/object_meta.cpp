// Encoding and validating decoding of `.btap.meta` (see object_meta.h). Layout:
// magic "BTAPMETA", u32 version, then fields in declaration order; strings and lists
// are u32 counts followed by their items; last, the FNV-1a checksum of everything before
// it. Counts are checked against the bytes left before anything is allocated.
#include "common/object_meta.h"

#include <cstring>

namespace btap::meta {
namespace {

constexpr char kMagic[8] = {'B', 'T', 'A', 'P', 'M', 'E', 'T', 'A'};
constexpr uint32_t kMaxString = 1 << 20;

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(v); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void I64(int64_t v) {
    auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(u >> (8 * i)));
  }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void U64(uint64_t v) { I64(static_cast<int64_t>(v)); }
  void Raw(const char* p, size_t n) { out_.insert(out_.end(), p, p + n); }
  std::string_view View() const {
    return {reinterpret_cast<const char*>(out_.data()), out_.size()};
  }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool Fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at byte " + std::to_string(pos_);
    return false;
  }
  bool Need(size_t n, const char* what) {
    if (bytes_.size() - pos_ < n) return Fail(std::string("truncated ") + what);
    return true;
  }
  bool U8(uint8_t* v, const char* what) {
    if (!Need(1, what)) return false;
    *v = static_cast<uint8_t>(bytes_[pos_++]);
    return true;
  }
  bool U32(uint32_t* v, const char* what) {
    if (!Need(4, what)) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v |= uint32_t(uint8_t(bytes_[pos_++])) << (8 * i);
    return true;
  }
  bool I64(int64_t* v, const char* what) {
    if (!Need(8, what)) return false;
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u |= uint64_t(uint8_t(bytes_[pos_++])) << (8 * i);
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool Str(std::string* s, const char* what) {
    uint32_t n;
    if (!U32(&n, what)) return false;
    if (n > kMaxString) return Fail(std::string(what) + " is too long");
    if (!Need(n, what)) return false;
    s->assign(bytes_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  // A list count, checked against the bytes left (each item takes at least `min` bytes).
  bool Count(uint32_t* n, size_t min, const char* what) {
    if (!U32(n, what)) return false;
    if (static_cast<uint64_t>(*n) * min > bytes_.size() - pos_)
      return Fail(std::string("impossible count of ") + what);
    return true;
  }
  bool Type(ValueType* t, const char* what) {
    uint8_t v;
    if (!U8(&v, what)) return false;
    if (v < 1 || v > 3) return Fail(std::string("bad type in ") + what);
    *t = static_cast<ValueType>(v);
    return true;
  }
  bool Bool(bool* b, const char* what) {
    uint8_t v;
    if (!U8(&v, what)) return false;
    if (v > 1) return Fail(std::string("bad flag in ") + what);
    *b = v;
    return true;
  }
  bool U64(uint64_t* v, const char* what) {
    int64_t s;
    if (!I64(&s, what)) return false;
    *v = static_cast<uint64_t>(s);
    return true;
  }
  size_t pos() const { return pos_; }
  bool AtEnd() { return pos_ == bytes_.size() || Fail("trailing bytes"); }
  std::string_view Take(size_t n) {
    std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  const std::string& error() const { return error_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
  std::string error_;
};

bool DecodeProbe(Reader& r, Probe* p) {
  return r.Str(&p->program, "probe program") && r.Str(&p->point, "probe point") &&
         r.U8(&p->family, "probe family") && r.Bool(&p->user_side, "probe") &&
         r.I64(&p->sequence, "probe sequence") && r.I64(&p->period_ns, "probe period") &&
         r.I64(&p->randomize_ns, "probe randomization") && r.Str(&p->target, "probe target") &&
         r.I64(&p->numbers[0], "probe numbers") && r.I64(&p->numbers[1], "probe numbers") &&
         r.I64(&p->numbers[2], "probe numbers") && r.Str(&p->build_id, "probe build id") &&
         r.Bool(&p->may_sleep, "probe") && r.Str(&p->fentry_program, "probe fentry program") &&
         r.Str(&p->where, "probe place") && r.Bool(&p->internal, "probe") &&
         r.Str(&p->helper_mark, "probe mark") && r.Str(&p->helper_args, "probe mark operands") &&
         r.Str(&p->python_filter, "probe python filter");
}

bool DecodeGlobal(Reader& r, Global* g) {
  if (!r.Str(&g->name, "global name") || !r.Str(&g->map, "global map") ||
      !r.Type(&g->value, "global type"))
    return false;
  uint32_t keys;
  if (!r.Count(&keys, 1, "global keys")) return false;
  g->keys.resize(keys);
  for (ValueType& k : g->keys)
    if (!r.Type(&k, "global key type")) return false;
  g->key_widths.resize(keys);
  for (uint32_t& w : g->key_widths)
    if (!r.U32(&w, "global key width")) return false;
  return r.Bool(&g->print_at_exit, "global") && r.Bool(&g->adds_only, "global");
}

bool DecodeSection(Reader& r, SectionDigest* s) {
  return r.Str(&s->name, "section name") && r.U64(&s->digest, "section digest");
}

}  // namespace

uint64_t Fnv1a(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

uint64_t DigestSection(std::string_view name, const SectionHeader& h, std::string_view contents) {
  Writer header;
  header.Str(name);
  header.U32(h.type);
  header.U64(h.flags);
  header.U64(h.address);
  header.U64(h.size);
  header.U32(h.link);
  header.U32(h.info);
  header.U64(h.addralign);
  header.U64(h.entsize);
  return Fnv1a(contents, Fnv1a(header.View()));
}

std::vector<uint8_t> Encode(const Meta& m) {
  Writer w;
  w.Raw(kMagic, sizeof kMagic);
  w.U32(kVersion);
  w.Str(m.script_name);
  w.Str(m.script_hash);
  w.U32(m.limits.max_string_len);
  w.U32(m.limits.max_map_entries);
  w.U32(m.limits.max_errors);
  w.U32(m.limits.max_action);
  w.U32(static_cast<uint32_t>(m.formats.size()));
  for (const std::string& f : m.formats) w.Str(f);
  w.U32(static_cast<uint32_t>(m.probes.size()));
  for (const Probe& p : m.probes) {
    w.Str(p.program);
    w.Str(p.point);
    w.U8(p.family);
    w.U8(p.user_side);
    w.I64(p.sequence);
    w.I64(p.period_ns);
    w.I64(p.randomize_ns);
    w.Str(p.target);
    for (int64_t n : p.numbers) w.I64(n);
    w.Str(p.build_id);
    w.U8(p.may_sleep);
    w.Str(p.fentry_program);
    w.Str(p.where);
    w.U8(p.internal);
    w.Str(p.helper_mark);
    w.Str(p.helper_args);
    w.Str(p.python_filter);
  }
  w.U32(static_cast<uint32_t>(m.globals.size()));
  for (const Global& g : m.globals) {
    w.Str(g.name);
    w.Str(g.map);
    w.U8(static_cast<uint8_t>(g.value));
    w.U32(static_cast<uint32_t>(g.keys.size()));
    for (ValueType k : g.keys) w.U8(static_cast<uint8_t>(k));
    for (size_t k = 0; k < g.keys.size(); ++k) w.U32(k < g.key_widths.size() ? g.key_widths[k] : 0);
    w.U8(g.print_at_exit);
    w.U8(g.adds_only);
  }
  w.U32(static_cast<uint32_t>(m.core_sites.size()));
  for (const CoreSite& site : m.core_sites) {
    w.Str(site.spec);
    w.Str(site.where);
    w.U8(site.guarded);
  }
  w.U32(static_cast<uint32_t>(m.kernel_terms.size()));
  for (const KernelTerm& t : m.kernel_terms) {
    w.Str(t.name);
    w.Str(t.op);
    w.Str(t.operand);
    w.U8(static_cast<uint8_t>(t.kind));
    w.U8(t.result);
    w.Str(t.where);
  }
  w.Str(m.kernel_build_id);
  w.U32(static_cast<uint32_t>(m.syscalls.size()));
  for (const NamedSyscall& s : m.syscalls) {
    w.Str(s.name);
    w.Str(s.point);
    w.Str(s.where);
  }
  w.U32(static_cast<uint32_t>(m.tail_slots.size()));
  for (const TailSlot& t : m.tail_slots) {
    w.Str(t.map);
    w.U32(t.slot);
    w.Str(t.program);
    w.Str(t.point);
  }
  w.U8(m.symbol_tags);
  w.U32(static_cast<uint32_t>(m.sections.size()));
  for (const SectionDigest& s : m.sections) {
    w.Str(s.name);
    w.U64(s.digest);
  }
  w.U64(Fnv1a(w.View()));
  return w.Take();
}

bool Decode(std::string_view bytes, Meta* m, std::string* error) {
  Reader r(bytes);
  // The structure is checked first (so that fuzzing reaches every field), the checksum
  // last; a checksum that does not match explains any structural error too.
  auto damaged = [&] {
    if (bytes.size() < 8) return false;
    uint64_t stored = 0;
    for (int i = 0; i < 8; ++i) stored |= uint64_t(uint8_t(bytes[bytes.size() - 8 + i])) << (8 * i);
    return stored != Fnv1a(bytes.substr(0, bytes.size() - 8));
  };
  auto fail = [&] {
    if (damaged())
      *error = "damaged object: its " + std::string(kSectionName) +
               " section does not match its checksum";
    else
      *error = "malformed " + std::string(kSectionName) + " section: " + r.error();
    return false;
  };
  if (!r.Need(sizeof kMagic, "header") ||
      std::memcmp(r.Take(sizeof kMagic).data(), kMagic, sizeof kMagic) != 0) {
    if (r.error().empty()) r.Fail("bad magic");
    return fail();
  }
  uint32_t version;
  if (!r.U32(&version, "version")) return fail();
  if (version != kVersion) {
    *error = "the object's " + std::string(kSectionName) + " version is " +
             std::to_string(version) + ", this btap reads version " + std::to_string(kVersion) +
             "; recompile the script";
    return false;
  }
  *m = Meta();
  if (!r.Str(&m->script_name, "script name") || !r.Str(&m->script_hash, "script hash") ||
      !r.U32(&m->limits.max_string_len, "limits") || !r.U32(&m->limits.max_map_entries, "limits") ||
      !r.U32(&m->limits.max_errors, "limits") || !r.U32(&m->limits.max_action, "limits"))
    return fail();
  uint32_t n;
  if (!r.Count(&n, 4, "formats")) return fail();
  m->formats.resize(n);
  for (std::string& f : m->formats)
    if (!r.Str(&f, "format")) return fail();
  if (!r.Count(&n, 66, "probes")) return fail();
  m->probes.resize(n);
  for (Probe& p : m->probes)
    if (!DecodeProbe(r, &p)) return fail();
  if (!r.Count(&n, 14, "globals")) return fail();
  m->globals.resize(n);
  for (Global& g : m->globals)
    if (!DecodeGlobal(r, &g)) return fail();
  if (!r.Count(&n, 9, "CO-RE sites")) return fail();
  m->core_sites.resize(n);
  for (CoreSite& site : m->core_sites)
    if (!r.Str(&site.spec, "CO-RE site") || !r.Str(&site.where, "CO-RE site") ||
        !r.Bool(&site.guarded, "CO-RE site"))
      return fail();
  if (!r.Count(&n, 18, "kernel conditions")) return fail();
  m->kernel_terms.resize(n);
  for (KernelTerm& t : m->kernel_terms) {
    uint8_t kind = 0;
    if (!r.Str(&t.name, "kernel condition") || !r.Str(&t.op, "kernel condition") ||
        !r.Str(&t.operand, "kernel condition") || !r.U8(&kind, "kernel condition") ||
        !r.Bool(&t.result, "kernel condition") || !r.Str(&t.where, "kernel condition"))
      return fail();
    if (kind > static_cast<uint8_t>(KernelTerm::Operand::Option)) return fail();
    t.kind = static_cast<KernelTerm::Operand>(kind);
  }
  if (!r.Str(&m->kernel_build_id, "kernel build id")) return fail();
  if (!r.Count(&n, 12, "named system calls")) return fail();
  m->syscalls.resize(n);
  for (NamedSyscall& s : m->syscalls)
    if (!r.Str(&s.name, "named system call") || !r.Str(&s.point, "named system call") ||
        !r.Str(&s.where, "named system call"))
      return fail();
  if (!r.Count(&n, 16, "tail call slots")) return fail();
  m->tail_slots.resize(n);
  for (TailSlot& t : m->tail_slots)
    if (!r.Str(&t.map, "tail call slot") || !r.U32(&t.slot, "tail call slot") ||
        !r.Str(&t.program, "tail call slot") || !r.Str(&t.point, "tail call slot"))
      return fail();
  if (!r.Bool(&m->symbol_tags, "symbol tags")) return fail();
  if (!r.Count(&n, 12, "sections")) return fail();
  m->sections.resize(n);
  for (SectionDigest& s : m->sections)
    if (!DecodeSection(r, &s)) return fail();
  uint64_t checksum;
  if (!r.U64(&checksum, "checksum") || !r.AtEnd() || damaged()) return fail();
  return true;
}

}  // namespace btap::meta
