// CO-RE relocations against the loading kernel (see core_relocations.h). The matching
// follows libbpf's rules far enough to be certain of a miss: a root type found by its
// essential name and kind, members by name through anonymous structs and unions, array
// elements through arrays. Whatever libbpf would check beyond that (the member types'
// compatibility) it still checks when the object loads.
#include "runtime/core_relocations.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <dirent.h>

#include <cstring>
#include <set>

#include "runtime/btf_ext.h"
#include "runtime/object.h"

namespace btap::runtime {
namespace {

// enum bpf_core_relo_kind
enum : uint32_t {
  kFieldByteOffset = 0,
  kFieldByteSize = 1,
  kFieldExists = 2,
  kFieldSigned = 3,
  kFieldLshift = 4,
  kFieldRshift = 5,
  kTypeIdLocal = 6,
  kTypeIdTarget = 7,
  kTypeExists = 8,
  kTypeSize = 9,
  kEnumvalExists = 10,
  kEnumvalValue = 11,
  kTypeMatches = 12,
};

bool IsFieldKind(uint32_t kind) { return kind <= kFieldRshift && kind != kFieldExists; }

uint32_t Resolve(const struct btf* btf, uint32_t id) {
  for (int depth = 0; depth < 64; ++depth) {
    const btf_type* t = btf__type_by_id(btf, id);
    if (!t || !(btf_is_mod(t) || btf_is_typedef(t))) return id;
    id = t->type;
  }
  return id;
}

// libbpf's essential name: without the "___flavour" of `X___Y` (X and Y not `_`).
std::string_view Essential(std::string_view name) {
  for (size_t i = name.size() >= 5 ? name.size() - 5 + 1 : 0; i-- > 0;)
    if (name[i] != '_' && name.substr(i + 1, 3) == "___" && name[i + 4] != '_')
      return name.substr(0, i + 1);
  return name;
}

// Kinds libbpf takes for one another: enum and enum64 (a struct and a union are not).
uint16_t KindClass(uint16_t kind) {
  if (kind == BTF_KIND_ENUM64) return BTF_KIND_ENUM;
  return kind;
}

std::vector<uint32_t> AccessIndexes(const std::string& access) {
  std::vector<uint32_t> indexes;
  uint64_t n = 0;
  bool digits = false;
  for (char c : access + ":") {
    if (c >= '0' && c <= '9') {
      n = n * 10 + static_cast<uint64_t>(c - '0');
      digits = n <= UINT32_MAX;
      if (!digits) return {};
    } else if (c == ':' && digits) {
      indexes.push_back(static_cast<uint32_t>(n));
      n = 0;
      digits = false;
    } else {
      return {};
    }
  }
  return indexes;
}

// A step of a field relocation's path in the object's BTF: a named member, an anonymous
// one, or an array element.
struct Step {
  enum class Kind { Member, Anonymous, Element } kind;
  std::string name;
};

// The path of a field relocation; false when the access string does not fit the object's
// types (nothing to check, then).
bool FieldPath(const struct btf* btf, const CoreRelocation& r, std::vector<Step>* path) {
  std::vector<uint32_t> indexes = AccessIndexes(r.access);
  if (indexes.empty()) return false;
  uint32_t type = r.type;
  for (size_t i = 1; i < indexes.size(); ++i) {
    const btf_type* t = btf__type_by_id(btf, Resolve(btf, type));
    if (!t) return false;
    if (btf_is_composite(t)) {
      if (indexes[i] >= btf_vlen(t)) return false;
      const btf_member& m = btf_members(t)[indexes[i]];
      const char* name = btf__name_by_offset(btf, m.name_off);
      if (name && *name)
        path->push_back({Step::Kind::Member, name});
      else
        path->push_back({Step::Kind::Anonymous, ""});
      type = m.type;
    } else if (btf_is_array(t)) {
      path->push_back({Step::Kind::Element, ""});
      type = btf_array(t)->type;
    } else {
      return false;
    }
  }
  return true;
}

// The member `name` of composite `id`, looked for through anonymous members as a C
// compiler (and libbpf) does; its type, or 0.
uint32_t FindMember(const struct btf* btf, uint32_t id, const std::string& name, int depth = 0) {
  const btf_type* t = btf__type_by_id(btf, Resolve(btf, id));
  if (!t || !btf_is_composite(t) || depth > 16) return 0;
  const btf_member* m = btf_members(t);
  for (uint16_t i = 0; i < btf_vlen(t); ++i) {
    const char* n = btf__name_by_offset(btf, m[i].name_off);
    if (n && name == n) return m[i].type ? m[i].type : 0;
    if (!n || !*n)
      if (uint32_t inner = FindMember(btf, m[i].type, name, depth + 1)) return inner;
  }
  return 0;
}

bool PathFits(const struct btf* btf, uint32_t id, const std::vector<Step>& path) {
  for (const Step& s : path) {
    if (s.kind == Step::Kind::Anonymous) continue;  // the next name is found through it
    if (s.kind == Step::Kind::Member) {
      id = FindMember(btf, id, s.name);
      if (!id) return false;
      continue;
    }
    const btf_type* t = btf__type_by_id(btf, Resolve(btf, id));
    if (!t || !btf_is_array(t)) return false;
    id = btf_array(t)->type;
  }
  return true;
}

// What a spec names that this kernel lacks: "this kernel's `struct x` has no member `m`"
// (`sentence`), or "`struct x` has no member `m`" (a list item); a type: "... no `struct x`".
std::string Missing(const std::string& spec, bool sentence) {
  size_t dot = spec.find('.');
  if (dot == std::string::npos) return (sentence ? "this kernel has no `" : "no `") + spec + "`";
  return (sentence ? "this kernel's `" : "`") + spec.substr(0, dot) + "` has no member `" +
         spec.substr(dot + 1) + "`";
}

}  // namespace

bool ReadCoreRelocations(std::string_view ext, const struct btf* btf,
                         std::vector<CoreRelocation>* out, std::string* error) {
  std::vector<BtfExtBlock> blocks;
  if (!BtfExtBlocks(ext, btf, BtfExtKind::kCoreRelocations, 16, &blocks, error)) return false;
  for (const BtfExtBlock& b : blocks) {
    for (uint32_t i = 0; i < b.count; ++i) {
      size_t at = size_t{i} * b.record_size;
      const char* access = btf__name_by_offset(btf, Le32(b.records, at + 8));
      if (!access) {
        *error = "malformed object: its .BTF.ext section names a string outside the object's BTF";
        return false;
      }
      out->push_back({b.section, Le32(b.records, at + 12), Le32(b.records, at + 4), access,
                      Le32(b.records, at)});
    }
  }
  return true;
}

KernelTypes::KernelTypes(Loader vmlinux, ModuleLoader modules)
    : load_vmlinux_(std::move(vmlinux)), load_modules_(std::move(modules)) {}

KernelTypes::~KernelTypes() {
  for (struct btf* m : modules_) btf__free(m);
  if (vmlinux_) btf__free(vmlinux_);
}

KernelTypes KernelTypes::Running() {
  return KernelTypes(
      [] {
        struct btf* btf = btf__load_vmlinux_btf();
        return libbpf_get_error(btf) ? nullptr : btf;
      },
      [](struct btf* vmlinux) {
        std::vector<struct btf*> modules;
        DIR* dir = opendir("/sys/kernel/btf");
        if (!dir) return modules;
        while (dirent* e = readdir(dir)) {
          if (e->d_name[0] == '.' || std::strcmp(e->d_name, "vmlinux") == 0) continue;
          std::string path = std::string("/sys/kernel/btf/") + e->d_name;
          struct btf* m = btf__parse_split(path.c_str(), vmlinux);
          if (!libbpf_get_error(m)) modules.push_back(m);
        }
        closedir(dir);
        return modules;
      });
}

void KernelTypes::Scan(const struct btf* btf, uint32_t first, const std::string& name,
                       std::vector<Type>* found) const {
  uint32_t end = btf__type_cnt(btf);
  for (uint32_t id = first; id < end; ++id) {
    const btf_type* t = btf__type_by_id(btf, id);
    if (!t || t->name_off == 0) continue;
    const char* n = btf__name_by_offset(btf, t->name_off);
    if (n && Essential(n) == name) found->push_back({btf, id});
  }
}

std::vector<KernelTypes::Type> KernelTypes::Named(std::string_view name, uint16_t kind) {
  if (!vmlinux_loaded_) {
    vmlinux_loaded_ = true;
    if (load_vmlinux_) vmlinux_ = load_vmlinux_();
  }
  std::string key(Essential(name));
  auto it = by_name_.find(key);
  if (it == by_name_.end()) {
    it = by_name_.emplace(key, Found{}).first;
    if (vmlinux_) Scan(vmlinux_, 1, key, &it->second.types);
  }
  auto of_kind = [&]() {
    std::vector<Type> found;
    for (const Type& t : it->second.types)
      if (KindClass(btf_kind(btf__type_by_id(t.btf, t.id))) == KindClass(kind)) found.push_back(t);
    return found;
  };
  std::vector<Type> found = of_kind();
  // As libbpf: the modules are searched when vmlinux has no candidate of this kind.
  if (found.empty() && vmlinux_ && !it->second.modules) {
    it->second.modules = true;
    if (!modules_loaded_ && load_modules_) modules_ = load_modules_(vmlinux_);
    modules_loaded_ = true;
    for (struct btf* m : modules_) Scan(m, btf__type_cnt(vmlinux_), key, &it->second.types);
    found = of_kind();
  }
  return found;
}

std::string CoreSpec(const struct btf* btf, const CoreRelocation& r) {
  const btf_type* root = btf__type_by_id(btf, r.type);
  const char* name = root ? btf__name_by_offset(btf, root->name_off) : nullptr;
  std::string spec = !root                   ? ""
                     : btf_is_union(root)    ? "union "
                     : btf_is_struct(root)   ? "struct "
                     : btf_is_any_enum(root) ? "enum "
                                             : "";
  spec += name ? name : "";
  if (IsFieldKind(r.kind) || r.kind == kFieldExists) {
    std::vector<Step> path;
    if (FieldPath(btf, r, &path))
      for (const Step& s : path)
        if (s.kind == Step::Kind::Member) spec += "." + s.name;
  } else if (r.kind == kEnumvalValue || r.kind == kEnumvalExists) {
    std::vector<uint32_t> indexes = AccessIndexes(r.access);
    if (root && btf_is_enum(root) && !indexes.empty() && indexes[0] < btf_vlen(root))
      if (const char* e = btf__name_by_offset(btf, btf_enum(root)[indexes[0]].name_off))
        spec += std::string("::") + e;
  }
  return spec;
}

bool Satisfied(const struct btf* btf, const CoreRelocation& r, KernelTypes& kernel) {
  if (!IsFieldKind(r.kind) && r.kind != kTypeIdTarget && r.kind != kTypeSize &&
      r.kind != kEnumvalValue)
    return true;  // an existence test, or the object's own type id
  const btf_type* root = btf__type_by_id(btf, r.type);
  const char* name = root ? btf__name_by_offset(btf, root->name_off) : nullptr;
  if (!root || !name || !*name) return true;  // libbpf decides what has no name
  std::vector<KernelTypes::Type> candidates = kernel.Named(name, btf_kind(root));
  if (!kernel.Known()) return true;  // no BTF to check against: libbpf says so
  if (r.kind == kTypeIdTarget || r.kind == kTypeSize) return !candidates.empty();
  if (r.kind == kEnumvalValue) {
    std::vector<uint32_t> indexes = AccessIndexes(r.access);
    if (!btf_is_enum(root) || indexes.empty() || indexes[0] >= btf_vlen(root)) return true;
    std::string_view wanted = btf__name_by_offset(btf, btf_enum(root)[indexes[0]].name_off);
    for (const KernelTypes::Type& c : candidates) {
      const btf_type* t = btf__type_by_id(c.btf, c.id);
      for (uint16_t i = 0; i < btf_vlen(t); ++i) {
        uint32_t off = btf_is_enum(t) ? btf_enum(t)[i].name_off : btf_enum64(t)[i].name_off;
        if (const char* e = btf__name_by_offset(c.btf, off); e && wanted == e) return true;
      }
    }
    return false;
  }
  std::vector<Step> path;
  if (!FieldPath(btf, r, &path)) return true;
  for (const KernelTypes::Type& c : candidates)
    if (PathFits(c.btf, c.id, path)) return true;
  return false;
}

std::string UnsatisfiedCoreRelocations(std::span<const uint8_t> object, const meta::Meta& meta,
                                       KernelTypes& kernel,
                                       std::function<bool(const CoreRelocation&)> loaded) {
  std::string_view btf_bytes, ext;
  std::string error;
  if (!ObjectSection(object, ".BTF.ext", &ext, &error) || ext.empty()) return error;
  if (!ObjectSection(object, ".BTF", &btf_bytes, &error) || btf_bytes.empty()) return error;
  struct btf* btf = btf__new(btf_bytes.data(), static_cast<uint32_t>(btf_bytes.size()));
  if (libbpf_get_error(btf)) return "malformed object: libbpf cannot read its .BTF section";
  std::unique_ptr<struct btf, void (*)(struct btf*)> owned(btf, btf__free);
  std::vector<CoreRelocation> relocations;
  if (!ReadCoreRelocations(ext, btf, &relocations, &error)) return error;
  // What the object itself tests for (`@defined`, bpf_core_field_exists in embedded C).
  std::set<std::pair<uint32_t, std::string>> tested;
  for (const CoreRelocation& r : relocations)
    if (r.kind == kFieldExists || r.kind == kTypeExists || r.kind == kEnumvalExists)
      tested.insert({r.type, r.access});
  // Each miss: what is missing, as a sentence about this kernel and as a list item.
  std::vector<std::pair<std::string, std::string>> misses;
  std::set<std::string> named;
  for (const CoreRelocation& r : relocations) {
    if ((loaded && !loaded(r)) || Satisfied(btf, r, kernel)) continue;
    std::string spec = CoreSpec(btf, r);
    const meta::CoreSite* site = nullptr;
    for (const meta::CoreSite& s : meta.core_sites)
      if (s.spec == spec) site = &s;
    if (site ? site->guarded : tested.count({r.type, r.access}) > 0) continue;
    if (!named.insert(spec).second) continue;
    std::string where = site ? ", read at " + site->where : ", read by embedded C";
    misses.push_back({Missing(spec, true) + where, Missing(spec, false) + where});
  }
  if (misses.empty()) return "";
  if (misses.size() == 1)
    return misses[0].first +
           " (the object was compiled for a kernel that has it: compile the script for this "
           "kernel, or read it under @defined)";
  std::string message = "this kernel lacks " + std::to_string(misses.size()) +
                        " types or members the object reads (it was compiled for a kernel that "
                        "has them: compile the script for this kernel, or read them under "
                        "@defined):";
  for (const auto& m : misses) message += "\n  " + m.second;
  return message;
}

std::string ExplainCoreFailure(const std::string& log, const meta::Meta& meta) {
  // "failed to resolve CO-RE relocation <byte_off> [22] struct task_struct.user_dumpable (...)"
  size_t at = log.find("failed to resolve CO-RE relocation");
  if (at == std::string::npos) return "";
  size_t close = log.find(']', at);
  size_t end = close == std::string::npos ? close : log.find_first_of("(\n", close);
  if (end == std::string::npos) return "";
  std::string spec = log.substr(close + 1, end - close - 1);
  while (!spec.empty() && spec.front() == ' ') spec.erase(0, 1);
  while (!spec.empty() && spec.back() == ' ') spec.pop_back();
  if (spec.empty()) return "";
  std::string message = Missing(spec, true);
  for (const meta::CoreSite& site : meta.core_sites)
    if (site.spec == spec) return message + ", read at " + site.where;
  return message;
}

}  // namespace btap::runtime
