// Reads the tracepoint list from tracefs (BTF when tracefs is absent) and the bare tracepoints
// from BTF, and each one's arguments from BTF `btf_trace_<name>` prototypes or tracefs format
// files, loading BTF at most once.
#include "semantic/machine/tracepoints.h"

#include "common/tracefs.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace btap::sema {
namespace {

constexpr std::string_view kBtfTracePrefix = "btf_trace_";
// Per-tracepoint functions with the same parameters as the prototype; unlike the typedef's
// anonymous func proto, a function's parameters keep their names.
constexpr std::string_view kNamedProtoPrefixes[] = {"__traceiter_", "__probestub_"};
// Bounds recursion on BTF read from an arbitrary file, which may contain type cycles.
constexpr int kMaxTypeDepth = 32;

// tracefs files report size 0, so read until EOF rather than trusting stat.
bool ReadFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[16384];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return n == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

template <typename Fn>
void ForEachLine(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    fn(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// "sys:name" lines of available_events.
std::vector<Tracepoint> ParseAvailableEvents(std::string_view text) {
  std::vector<Tracepoint> out;
  ForEachLine(text, [&](std::string_view line) {
    line = Trim(line);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == line.size()) return;
    out.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  });
  return out;
}

// events/<sys>/<name>/ directories; the files beside them (enable, filter, ...) are not events.
std::vector<Tracepoint> ListEventsDir(const std::string& root) {
  namespace fs = std::filesystem;
  std::vector<Tracepoint> out;
  std::error_code ec;
  for (const fs::directory_entry& sys : fs::directory_iterator(root + "/events", ec)) {
    if (!sys.is_directory(ec)) continue;
    std::error_code sys_ec;
    for (const fs::directory_entry& ev : fs::directory_iterator(sys.path(), sys_ec))
      if (ev.is_directory(sys_ec))
        out.push_back({sys.path().filename().string(), ev.path().filename().string()});
  }
  return out;
}

void SortUnique(std::vector<Tracepoint>* tps) {
  std::sort(tps->begin(), tps->end());
  tps->erase(std::unique(tps->begin(), tps->end()), tps->end());
}

// "const char *" → "const char*": SystemTap glues the stars to the type.
std::string NormalizeCType(std::string_view s) {
  std::string out;
  bool pending_space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space && c != '*' && c != '[') out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// "char prev_comm[16]" → name, type "char", dims "[16]"; "__data_loc char[] name" keeps its
// brackets in the type because they precede the name.
bool ParseFieldDecl(std::string_view decl, TracepointArg* arg) {
  std::string dims;
  decl = Trim(decl);
  while (!decl.empty() && decl.back() == ']') {
    size_t open = decl.rfind('[');
    if (open == std::string_view::npos) return false;
    dims.insert(0, NormalizeCType(decl.substr(open)));
    decl = Trim(decl.substr(0, open));
  }
  size_t start = decl.size();
  while (start > 0 && IsIdentChar(decl[start - 1])) --start;
  std::string type = NormalizeCType(decl.substr(0, start));
  if (start == decl.size() || type.empty()) return false;
  arg->name = std::string(decl.substr(start));
  arg->is_dynamic = type.starts_with("__data_loc ") || type.starts_with("__rel_loc ");
  arg->is_array = !dims.empty() && !arg->is_dynamic;
  arg->is_pointer = dims.empty() && type.back() == '*';
  arg->c_type = type + dims;
  return true;
}

// The number after "key:" up to the next ';', or nullopt.
std::optional<uint32_t> FieldAttr(std::string_view line, std::string_view key) {
  size_t at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = Trim(line.substr(at + key.size()));
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;"; old kernels spell the
// header fields "field special:".
std::optional<TracepointArg> ParseFieldLine(std::string_view line) {
  line = Trim(line);
  std::string_view rest;
  for (std::string_view prefix : {"field:", "field special:"})
    if (line.starts_with(prefix)) rest = line.substr(prefix.size());
  size_t semi = rest.find(';');
  if (semi == std::string_view::npos) return std::nullopt;
  TracepointArg arg;
  if (!ParseFieldDecl(rest.substr(0, semi), &arg)) return std::nullopt;
  std::string_view attrs = rest.substr(semi);
  arg.offset = FieldAttr(attrs, "offset:").value_or(0);
  arg.size = FieldAttr(attrs, "size:").value_or(0);
  arg.is_signed = FieldAttr(attrs, "signed:").value_or(0) != 0;
  return arg;
}

std::string Tagged(const char* tag, const char* name) {
  return std::string(tag) + " " + (name && *name ? name : "{...}");
}

std::string Spell(const struct btf* b, uint32_t id, int depth);

// C puts a qualifier of a pointer after the star ("char* const"), any other before the type.
std::string Qualified(const struct btf* b, const char* qual, uint32_t target, int depth) {
  int resolved = btf__resolve_type(b, target);
  const btf_type* t = resolved >= 0 ? btf__type_by_id(b, resolved) : nullptr;
  if (t && btf_is_ptr(t)) return Spell(b, target, depth + 1) + " " + qual;
  return std::string(qual) + " " + Spell(b, target, depth + 1);
}

std::string Spell(const struct btf* b, uint32_t id, int depth) {
  if (id == 0) return "void";
  const btf_type* t = btf__type_by_id(b, id);
  if (!t || depth > kMaxTypeDepth) return "?";
  const char* name = btf__name_by_offset(b, t->name_off);
  switch (btf_kind(t)) {
    case BTF_KIND_INT:
    case BTF_KIND_FLOAT:
    case BTF_KIND_TYPEDEF:
      return name && *name ? name : "?";
    case BTF_KIND_STRUCT:
      return Tagged("struct", name);
    case BTF_KIND_UNION:
      return Tagged("union", name);
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
      return Tagged("enum", name);
    case BTF_KIND_FWD:
      return Tagged(btf_kflag(t) ? "union" : "struct", name);
    case BTF_KIND_PTR:
      return Spell(b, t->type, depth + 1) + "*";
    case BTF_KIND_CONST:
      return Qualified(b, "const", t->type, depth);
    case BTF_KIND_VOLATILE:
      return Qualified(b, "volatile", t->type, depth);
    case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPE_TAG:  // __user, __rcu: invisible in C spelling
      return Spell(b, t->type, depth + 1);
    case BTF_KIND_ARRAY:
      return Spell(b, btf_array(t)->type, depth + 1) + "[" + std::to_string(btf_array(t)->nelems) +
             "]";
    case BTF_KIND_FUNC_PROTO:
      return "<function>";
    default:
      return "?";
  }
}

bool IsSignedBtf(const btf_type* t) {
  if (btf_is_int(t)) return (btf_int_encoding(t) & BTF_INT_SIGNED) != 0;
  if (btf_is_any_enum(t)) return btf_kflag(t);  // kflag marks a signed enum
  return false;
}

// `name` may be empty: then the argument is `argN`, N counted from 1 (as the tapset counts
// `int_arg(N)`; stap itself reads named parameters from the tracepoint headers).
TracepointArg ArgFromBtfParam(const struct btf* b, const btf_param& p, const char* name, int n) {
  TracepointArg arg;
  arg.name = name && *name ? name : "arg" + std::to_string(n);
  arg.c_type = BtfCType(b, p.type);
  arg.btf_type = p.type;
  int64_t size = btf__resolve_size(b, p.type);
  arg.size = size > 0 ? static_cast<uint32_t>(size) : 0;
  int resolved = btf__resolve_type(b, p.type);
  if (const btf_type* t = resolved >= 0 ? btf__type_by_id(b, resolved) : nullptr) {
    arg.is_pointer = btf_is_ptr(t);
    arg.is_array = btf_is_array(t);
    arg.is_signed = IsSignedBtf(t);
  }
  return arg;
}

}  // namespace

struct TracepointCatalog::BtfIndex {
  SharedBtf data;
  // Event name → id of its `btf_trace_<name>` typedef, and of a function whose parameters
  // name the arguments. Views point into the BTF string section.
  std::unordered_map<std::string_view, uint32_t> protos;
  std::unordered_map<std::string_view, uint32_t> named_funcs;

  static std::unique_ptr<BtfIndex> Open(SharedBtf btf) {
    if (!btf) return nullptr;
    auto index = std::make_unique<BtfIndex>();
    index->data = std::move(btf);
    index->Build();
    return index;
  }

  // One pass over all types: btf__find_by_name_kind is a linear scan per call, far too slow
  // for thousands of events.
  void Build() {
    const struct btf* b = data.get();
    uint32_t count = btf__type_cnt(b);
    for (uint32_t id = 1; id < count; ++id) {
      const btf_type* t = btf__type_by_id(b, id);
      if (btf_is_typedef(t))
        AddIfPrefixed(btf__name_by_offset(b, t->name_off), kBtfTracePrefix, id, &protos);
      if (!btf_is_func(t)) continue;
      for (std::string_view prefix : kNamedProtoPrefixes)
        AddIfPrefixed(btf__name_by_offset(b, t->name_off), prefix, id, &named_funcs);
    }
  }

  static void AddIfPrefixed(std::string_view name, std::string_view prefix, uint32_t id,
                            std::unordered_map<std::string_view, uint32_t>* map) {
    if (name.starts_with(prefix) && name.size() > prefix.size())
      map->emplace(name.substr(prefix.size()), id);
  }

  // Parameter names from the event's named function, when it has the prototype's arity.
  std::vector<const char*> ParamNames(std::string_view event, uint32_t arity) const {
    std::vector<const char*> names(arity, nullptr);
    auto it = named_funcs.find(event);
    if (it == named_funcs.end()) return names;
    const struct btf* b = data.get();
    const btf_type* proto = btf__type_by_id(b, btf__type_by_id(b, it->second)->type);
    if (!proto || !btf_is_func_proto(proto) || btf_vlen(proto) != arity) return names;
    for (uint32_t i = 0; i < arity; ++i)
      names[i] = btf__name_by_offset(b, btf_params(proto)[i].name_off);
    return names;
  }
};

std::string Tracepoint::Spelling() const { return system.empty() ? name : system + ":" + name; }

TracepointCatalog::TracepointCatalog() = default;
TracepointCatalog::TracepointCatalog(TracepointCatalog&&) noexcept = default;
TracepointCatalog& TracepointCatalog::operator=(TracepointCatalog&&) noexcept = default;
TracepointCatalog::~TracepointCatalog() = default;

TracepointCatalog TracepointCatalog::Load(const std::string& tracefs_root,
                                          const std::string& btf_path, BtfSource btf) {
  TracepointCatalog catalog;
  catalog.btf_path_ = btf_path;
  catalog.btf_source_ = std::move(btf);
  std::string root = tracefs_root.empty() ? FindTracefs() : tracefs_root;
  if (!root.empty() && catalog.ListFromTracefs(root)) return catalog;
  catalog.error_ = root.empty() ? "tracefs not found (tried " + std::string(kTracefs) + ", " +
                                      kDebugTracefs + ")"
                                : "no tracefs events under `" + root + "`";
  catalog.ListFromBtf();
  return catalog;
}

// available_events is one read; walking events/ costs a getdents per system, so it is the
// fallback.
bool TracepointCatalog::ListFromTracefs(const std::string& root) {
  std::string text;
  if (ReadFile(root + "/available_events", &text)) all_ = ParseAvailableEvents(text);
  if (all_.empty()) all_ = ListEventsDir(root);
  if (all_.empty()) return false;
  SortUnique(&all_);
  tracefs_root_ = root;
  return true;
}

void TracepointCatalog::ListFromBtf() {
  const BtfIndex* index = Btf();
  if (!index) return;
  for (const auto& [name, id] : index->protos) all_.push_back({"", std::string(name)});
  SortUnique(&all_);
  if (!all_.empty()) error_.clear();  // BTF stood in for tracefs; nothing is missing
}

const TracepointCatalog::BtfIndex* TracepointCatalog::Btf() const {
  if (btf_tried_) return btf_.get();
  btf_tried_ = true;
  std::string error;
  btf_ = BtfIndex::Open(btf_source_ ? btf_source_(&error) : ParseKernelBtf(btf_path_, &error));
  if (!btf_) error_ += (error_.empty() ? "" : "; ") + error;
  return btf_.get();
}

// A bare tracepoint's name is never an event's (an event's tracepoint has the event's name), so
// a literal name that tracefs lists needs no BTF.
std::vector<const Tracepoint*> TracepointCatalog::Match(std::string_view pattern) const {
  size_t colon = pattern.find(':');
  bool qualified = colon != std::string_view::npos;
  std::string sys_glob = qualified ? std::string(pattern.substr(0, colon)) : "*";
  std::string name_glob(qualified ? pattern.substr(colon + 1) : pattern);
  std::vector<const Tracepoint*> out;
  for (const Tracepoint& tp : all_)
    if (fnmatch(sys_glob.c_str(), tp.system.c_str(), 0) == 0 &&
        fnmatch(name_glob.c_str(), tp.name.c_str(), 0) == 0)
      out.push_back(&tp);
  bool literal = name_glob.find_first_of("*?[\\") == std::string::npos;
  bool any_system = fnmatch(sys_glob.c_str(), "", 0) == 0 || literal;
  if (!any_system || (literal && !out.empty()) || tracefs_root_.empty()) return out;
  for (const Tracepoint& tp : bare())
    if (fnmatch(name_glob.c_str(), tp.name.c_str(), 0) == 0) out.push_back(&tp);
  return out;
}

const std::vector<Tracepoint>& TracepointCatalog::bare() const {
  if (bare_listed_ || tracefs_root_.empty()) return bare_;
  bare_listed_ = true;
  const BtfIndex* index = Btf();
  if (!index) return bare_;
  std::unordered_set<std::string_view> events;
  for (const Tracepoint& tp : all_) events.insert(tp.name);
  for (const auto& [name, id] : index->protos)
    if (!events.contains(name)) bare_.push_back({"", std::string(name)});
  SortUnique(&bare_);
  return bare_;
}

const std::vector<TracepointArg>* TracepointCatalog::Args(const Tracepoint& tp,
                                                          ArgSource* source) const {
  auto [it, inserted] = args_cache_.try_emplace(tp);
  CachedArgs& cached = it->second;
  if (inserted) {
    if (ArgsFromBtf(tp.name, &cached.args)) {
      cached.found = true;
      cached.source = ArgSource::Btf;
    } else if (ArgsFromFormat(tp, &cached.args)) {
      cached.found = true;
      cached.source = ArgSource::Format;
    }
  }
  if (!cached.found) return nullptr;
  if (source) *source = cached.source;
  return &cached.args;
}

// The typedef is `void (*)(void *__data, <tracepoint args>)`; the first parameter is the
// probe's context and not an argument of the event. Its func proto has no parameter names.
bool TracepointCatalog::ArgsFromBtf(const std::string& name,
                                    std::vector<TracepointArg>* args) const {
  const BtfIndex* index = Btf();
  if (!index) return false;
  auto it = index->protos.find(name);
  if (it == index->protos.end()) return false;
  const struct btf* b = index->data.get();
  const btf_type* ptr = btf__type_by_id(b, btf__type_by_id(b, it->second)->type);
  const btf_type* proto = ptr && btf_is_ptr(ptr) ? btf__type_by_id(b, ptr->type) : nullptr;
  if (!proto || !btf_is_func_proto(proto)) return false;
  const btf_param* params = btf_params(proto);
  std::vector<const char*> names = index->ParamNames(name, btf_vlen(proto));
  for (int i = 1; i < btf_vlen(proto) && params[i].type != 0; ++i)  // type 0: a `...`
    args->push_back(ArgFromBtfParam(b, params[i], names[i], i));
  return true;
}

bool TracepointCatalog::ArgsFromFormat(const Tracepoint& tp,
                                       std::vector<TracepointArg>* args) const {
  if (tp.system.empty() || tracefs_root_.empty()) return false;
  // Names reach a path; one from a caller's pattern must not climb out of events/.
  for (const std::string* part : {&tp.system, &tp.name})
    if (part->find('/') != std::string::npos || *part == "." || *part == "..") return false;
  std::string text;
  if (!ReadFile(tracefs_root_ + "/events/" + tp.system + "/" + tp.name + "/format", &text))
    return false;
  *args = ParseFormatFields(text);
  return true;
}

std::vector<TracepointArg> ParseFormatFields(std::string_view format_text) {
  std::vector<TracepointArg> out;
  ForEachLine(format_text, [&](std::string_view line) {
    std::optional<TracepointArg> arg = ParseFieldLine(line);
    if (arg && !arg->name.starts_with("common_")) out.push_back(std::move(*arg));
  });
  return out;
}

std::string BtfCType(const struct btf* btf, uint32_t type_id) { return Spell(btf, type_id, 0); }

}  // namespace btap::sema
