// The kernel's types as a C header (see kernel_header.h), with libbpf's btf_dump.
#include "codegen/kernel_header.h"

#include "codegen/embedded_c.h"

#include <bpf/btf.h>
#include <clang/Basic/Version.h>
#include <fcntl.h>
#include <llvm/Support/xxhash.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "common/private_cache.h"

namespace btap::codegen {
namespace {

// Bumped when the header's text changes, so that older cached copies are not used.
// 4: named by an xxHash64 of the BTF (before, FNV-1a)
constexpr const char* kFormat = "4";

void Append(void* out, const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return;
  auto* s = static_cast<std::string*>(out);
  size_t at = s->size();
  s->resize(at + n + 1);
  std::vsnprintf(s->data() + at, n + 1, format, args);
  s->resize(at + n);
}

bool Dump(const struct btf* btf, std::string* header, std::string* error) {
  std::string body;
  struct btf_dump* d = btf_dump__new(btf, Append, &body, nullptr);
  if (!d) {
    *error = std::string("cannot write the kernel's types as C: ") + std::strerror(errno);
    return false;
  }
  for (uint32_t id = 1; id < btf__type_cnt(btf); ++id)
    if (btf_dump__dump_type(d, id) < 0) {
      btf_dump__free(d);
      *error = "cannot write the kernel's type " + std::to_string(id) + " as C";
      return false;
    }
  btf_dump__free(d);
  *header =
      "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
      body + "#pragma clang attribute pop\n";
  return true;
}

}  // namespace

bool KernelTypesHeader(const struct btf* btf, KernelTypes* out, std::string* error) {
  uint32_t size = 0;
  const void* raw = btf__raw_data(btf, &size);
  if (!raw) {
    *error = "the kernel's BTF is unreadable";
    return false;
  }
  uint64_t hash = llvm::xxHash64(llvm::ArrayRef(static_cast<const uint8_t*>(raw), size));
  char name[96];
  // A precompiled header is only good for the Clang that made it.
  std::snprintf(name, sizeof name, "/vmlinux-%s-clang%s-%016llx.h", kFormat, CLANG_VERSION_STRING,
                static_cast<unsigned long long>(hash));
  std::string dir = UserCacheDir("headers");
  std::string header = dir + name, pch = header + ".pch";
  if (!dir.empty() && MakePrivateDirs(dir)) {
    // Clang refuses a precompiled header older than its header: then both are made again.
    struct stat h, p;
    if (stat(header.c_str(), &h) == 0 && S_ISREG(h.st_mode) && stat(pch.c_str(), &p) == 0 &&
        S_ISREG(p.st_mode) && p.st_mtim.tv_sec >= h.st_mtim.tv_sec) {
      out->pch = pch;
      return true;
    }
    if (!Dump(btf, &out->text, error)) return false;
    std::string temp = pch + ".XXXXXX";  // a name of our own, which Clang then writes
    int fd = mkostemp(temp.data(), O_CLOEXEC);
    if (fd >= 0) close(fd);
    std::string ignored;
    if (fd >= 0 && WriteWhole(header, out->text) && PrecompileHeader(header, temp, &ignored) &&
        rename(temp.c_str(), pch.c_str()) == 0) {
      out->pch = pch;
      out->text.clear();
      return true;
    }
    unlink(temp.c_str());
    return true;  // the text serves
  }
  return Dump(btf, &out->text, error);
}

}  // namespace btap::codegen

namespace btap::codegen {
namespace {

// The trimmed copy of the kernel's BTF that KernelTypesFor dumps.
class Trimmer {
 public:
  Trimmer(const struct btf* src, const std::set<std::string>& words, struct btf* dst)
      : src_(src), words_(words), dst_(dst) {}

  bool Run(std::string* error) {
    uint32_t count = btf__type_cnt(src_);
    for (uint32_t id = 1; id < count; ++id) {
      const struct btf_type* t = btf__type_by_id(src_, id);
      std::string name = Name(t);
      if (name.empty() || !words_.count(name)) continue;
      int kind = btf_kind(t);
      if (kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION) Want(id);
      if (kind == BTF_KIND_TYPEDEF || kind == BTF_KIND_ENUM || kind == BTF_KIND_ENUM64)
        roots_.push_back(id);
    }
    for (uint32_t root : roots_) Emit(root);
    for (size_t i = 0; i < wanted_.size(); ++i) Emit(wanted_[i]);
    if (failed_) *error = "cannot rewrite the kernel's types";
    return !failed_;
  }

 private:
  std::string Name(const struct btf_type* t) const {
    const char* n = btf__name_by_offset(src_, t->name_off);
    return n ? n : "";
  }

  // The type below typedefs and qualifiers.
  uint32_t Under(uint32_t id) const {
    for (int guard = 0; guard < 64 && id; ++guard) {
      const struct btf_type* t = btf__type_by_id(src_, id);
      int kind = btf_kind(t);
      if (kind != BTF_KIND_TYPEDEF && kind != BTF_KIND_CONST && kind != BTF_KIND_VOLATILE &&
          kind != BTF_KIND_RESTRICT && kind != BTF_KIND_TYPE_TAG)
        return id;
      id = t->type;
    }
    return id;
  }

  bool Composite(uint32_t id) const {
    if (!id) return false;
    int kind = btf_kind(btf__type_by_id(src_, id));
    return kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION;
  }

  // A struct or union to define whole (its members trimmed), with what its members reach.
  void Want(uint32_t id) {
    if (!wanted_set_.insert(id).second) return;
    wanted_.push_back(id);
    const struct btf_type* t = btf__type_by_id(src_, id);
    const struct btf_member* m = btf_members(t);
    for (uint16_t i = 0; i < btf_vlen(t); ++i, ++m) {
      std::string name = btf__name_by_offset(src_, m->name_off);
      uint32_t u = Under(m->type);
      const struct btf_type* ut = btf__type_by_id(src_, u);
      uint32_t reached = 0;
      if (Composite(u)) reached = u;
      if (u && btf_is_array(ut) && Composite(Under(btf_array(ut)->type)))
        reached = Under(btf_array(ut)->type);
      if (u && btf_is_ptr(ut) && Composite(Under(ut->type))) {
        uint32_t pointee = Under(ut->type);
        if (words_.count(name) || words_.count(Name(btf__type_by_id(src_, pointee)))) Want(pointee);
        continue;
      }
      if (reached && (name.empty() || words_.count(name) ||
                      words_.count(Name(btf__type_by_id(src_, reached)))))
        Want(reached);
    }
  }

  // A member whose type is not kept: bytes of its size.
  int Opaque(uint32_t size) {
    if (!byte_) byte_ = btf__add_int(dst_, "unsigned char", 1, 0);
    auto it = opaque_.find(size);
    if (it != opaque_.end()) return it->second;
    return opaque_[size] = btf__add_array(dst_, byte_, byte_, size);
  }

  // Whether a member's type is kept: scalars, pointers, and composites defined whole.
  bool Kept(uint32_t type) {
    uint32_t u = Under(type);
    if (!u) return true;
    const struct btf_type* t = btf__type_by_id(src_, u);
    if (btf_is_array(t)) return Kept(btf_array(t)->type);
    if (Composite(u)) return wanted_set_.count(u) || Name(t).empty();
    return true;
  }

  int Emit(uint32_t id) {
    if (!id) return 0;
    auto known = ids_.find(id);
    if (known != ids_.end()) return known->second;
    const struct btf_type* t = btf__type_by_id(src_, id);
    std::string name = Name(t);
    int out = -1;
    switch (btf_kind(t)) {
      case BTF_KIND_INT:
        out = btf__add_int(dst_, name.c_str(), t->size, btf_int_encoding(t));
        break;
      case BTF_KIND_FLOAT:
        out = btf__add_float(dst_, name.c_str(), t->size);
        break;
      case BTF_KIND_ENUM: {
        out = btf__add_enum(dst_, name.c_str(), t->size);
        const struct btf_enum* e = btf_enum(t);
        for (uint16_t i = 0; i < btf_vlen(t) && out > 0; ++i, ++e)
          if (btf__add_enum_value(dst_, btf__name_by_offset(src_, e->name_off), e->val) < 0)
            out = -1;
        break;
      }
      case BTF_KIND_ENUM64: {
        out = btf__add_enum64(dst_, name.c_str(), t->size, btf_kflag(t));
        const struct btf_enum64* e = btf_enum64(t);
        for (uint16_t i = 0; i < btf_vlen(t) && out > 0; ++i, ++e)
          if (btf__add_enum64_value(dst_, btf__name_by_offset(src_, e->name_off),
                                    btf_enum64_value(e)) < 0)
            out = -1;
        break;
      }
      case BTF_KIND_FWD:
        out = btf__add_fwd(dst_, name.c_str(), btf_kflag(t) ? BTF_FWD_UNION : BTF_FWD_STRUCT);
        break;
      case BTF_KIND_TYPEDEF: {
        int under = Emit(t->type);
        out = under < 0 ? -1 : btf__add_typedef(dst_, name.c_str(), under);
        break;
      }
      case BTF_KIND_CONST:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_RESTRICT: {
        int under = Emit(t->type);
        out = under < 0                          ? -1
              : btf_kind(t) == BTF_KIND_CONST    ? btf__add_const(dst_, under)
              : btf_kind(t) == BTF_KIND_VOLATILE ? btf__add_volatile(dst_, under)
                                                 : btf__add_restrict(dst_, under);
        break;
      }
      case BTF_KIND_TYPE_TAG:
        out = Emit(t->type);  // tags (__user, __rcu) change nothing for CO-RE
        break;
      case BTF_KIND_PTR: {
        // To a declaration only: what is defined whole is defined apart (no cycles).
        uint32_t u = Under(t->type);
        const struct btf_type* ut = u ? btf__type_by_id(src_, u) : nullptr;
        int under = 0;
        if (ut && Composite(u) && !Name(ut).empty())
          under = Declaration(u);
        else if (ut && !Composite(u) && !btf_is_func_proto(ut))
          under = Emit(t->type);
        out = under < 0 ? -1 : btf__add_ptr(dst_, under);
        break;
      }
      case BTF_KIND_ARRAY: {
        const struct btf_array* a = btf_array(t);
        int elem = Emit(a->type), index = Emit(a->index_type);
        out = elem < 0 || index < 0 ? -1 : btf__add_array(dst_, index, elem, a->nelems);
        break;
      }
      case BTF_KIND_STRUCT:
      case BTF_KIND_UNION:
        out = Define(t);
        break;
      default:  // functions, variables, sections, tags: nothing C here reads
        out = 0;
    }
    if (out < 0) failed_ = true;
    ids_[id] = out;
    return out;
  }

  int Declaration(uint32_t id) {
    auto known = declarations_.find(id);
    if (known != declarations_.end()) return known->second;
    const struct btf_type* t = btf__type_by_id(src_, id);
    int out = btf__add_fwd(dst_, Name(t).c_str(),
                           btf_kind(t) == BTF_KIND_UNION ? BTF_FWD_UNION : BTF_FWD_STRUCT);
    return declarations_[id] = out;
  }

  // A struct or union with the kernel's members in place: kept types, or bytes.
  int Define(const struct btf_type* t) {
    std::vector<int> types;
    const struct btf_member* m = btf_members(t);
    for (uint16_t i = 0; i < btf_vlen(t); ++i, ++m) {
      if (Kept(m->type)) {
        types.push_back(Emit(m->type));
      } else {
        __s64 size = btf__resolve_size(src_, m->type);
        types.push_back(size >= 0 ? Opaque(static_cast<uint32_t>(size)) : -1);
      }
      if (types.back() < 0) return -1;
    }
    std::string name = Name(t);
    int out = btf_kind(t) == BTF_KIND_UNION ? btf__add_union(dst_, name.c_str(), t->size)
                                            : btf__add_struct(dst_, name.c_str(), t->size);
    m = btf_members(t);
    for (uint16_t i = 0; i < btf_vlen(t) && out > 0; ++i, ++m)
      if (btf__add_field(dst_, btf__name_by_offset(src_, m->name_off), types[i],
                         btf_member_bit_offset(t, i), btf_member_bitfield_size(t, i)) < 0)
        out = -1;
    return out;
  }

  const struct btf* src_;
  const std::set<std::string>& words_;
  struct btf* dst_;
  std::vector<uint32_t> roots_, wanted_;
  std::set<uint32_t> wanted_set_;
  std::map<uint32_t, int> ids_, declarations_;
  std::map<uint32_t, int> opaque_;
  int byte_ = 0;
  bool failed_ = false;
};

}  // namespace

bool KernelTypesFor(const struct btf* btf, const std::set<std::string>& words, std::string* text,
                    std::string* error) {
  struct btf* trimmed = btf__new_empty();
  if (!trimmed) {
    *error = std::string("cannot make a BTF: ") + std::strerror(errno);
    return false;
  }
  bool ok = Trimmer(btf, words, trimmed).Run(error) && Dump(trimmed, text, error);
  btf__free(trimmed);
  return ok;
}

}  // namespace btap::codegen
