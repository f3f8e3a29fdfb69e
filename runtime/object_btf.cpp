// The `.BTF` check (see object_btf.h): one pass finds where every type starts and checks
// its size and names, a second checks every type id it refers to and the kinds that
// libbpf takes for granted (a function's prototype, a data section's variables).
#include "runtime/object_btf.h"

#include <linux/btf.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace btap::runtime {
namespace {

// Fixed-size records after a type's header, by kind (per `vlen` item when `per_item`).
bool TrailerSize(uint32_t kind, uint32_t vlen, uint64_t* size) {
  switch (kind) {
    case BTF_KIND_INT:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
      *size = 4;
      return true;
    case BTF_KIND_PTR:
    case BTF_KIND_FWD:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_FUNC:
    case BTF_KIND_FLOAT:
    case BTF_KIND_TYPE_TAG:
      *size = 0;
      return true;
    case BTF_KIND_ARRAY:
      *size = sizeof(btf_array);
      return true;
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
      *size = uint64_t(vlen) * sizeof(btf_member);
      return true;
    case BTF_KIND_ENUM:
      *size = uint64_t(vlen) * sizeof(btf_enum);
      return true;
    case BTF_KIND_ENUM64:
      *size = uint64_t(vlen) * sizeof(btf_enum64);
      return true;
    case BTF_KIND_FUNC_PROTO:
      *size = uint64_t(vlen) * sizeof(btf_param);
      return true;
    case BTF_KIND_DATASEC:
      *size = uint64_t(vlen) * sizeof(btf_var_secinfo);
      return true;
    default:
      return false;
  }
}

uint32_t U32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

bool FollowsChain(uint32_t kind) {
  return kind == BTF_KIND_TYPEDEF || kind == BTF_KIND_VOLATILE || kind == BTF_KIND_CONST ||
         kind == BTF_KIND_RESTRICT || kind == BTF_KIND_TYPE_TAG;
}

}  // namespace

bool CheckBtf(std::string_view btf, std::string* error) {
  auto fail = [&](const std::string& why) {
    *error = "malformed object: its .BTF section " + why;
    return false;
  };
  btf_header h;
  if (btf.size() < sizeof h) return fail("is truncated");
  std::memcpy(&h, btf.data(), sizeof h);
  if (h.magic != BTF_MAGIC || h.version != BTF_VERSION || h.hdr_len < sizeof h ||
      h.hdr_len > btf.size())
    return fail("has a bad header");
  std::string_view data = btf.substr(h.hdr_len);
  if (uint64_t(h.type_off) + h.type_len > data.size() ||
      uint64_t(h.str_off) + h.str_len > data.size() || h.type_off % 4 || h.type_len % 4)
    return fail("has types or strings outside it");
  std::string_view types = data.substr(h.type_off, h.type_len);
  std::string_view strings = data.substr(h.str_off, h.str_len);
  if (strings.empty() || strings.front() != '\0' || strings.back() != '\0')
    return fail("has a malformed string table");

  // Pass 1: where each type starts (id 0 is void and has no record).
  std::vector<uint32_t> at = {0};
  for (uint64_t pos = 0; pos < types.size();) {
    if (types.size() - pos < sizeof(btf_type)) return fail("ends inside a type");
    uint32_t name = U32(types.data() + pos), info = U32(types.data() + pos + 4);
    uint64_t trailer;
    if (!TrailerSize(BTF_INFO_KIND(info), BTF_INFO_VLEN(info), &trailer))
      return fail("has type " + std::to_string(at.size()) + " of unknown kind " +
                  std::to_string(BTF_INFO_KIND(info)));
    if (name >= strings.size())
      return fail("names type " + std::to_string(at.size()) + " outside its strings");
    if (types.size() - pos - sizeof(btf_type) < trailer) return fail("ends inside a type");
    at.push_back(static_cast<uint32_t>(pos));
    pos += sizeof(btf_type) + trailer;
  }
  const uint32_t count = static_cast<uint32_t>(at.size());
  auto kind_of = [&](uint32_t id) { return BTF_INFO_KIND(U32(types.data() + at[id] + 4)); };
  auto ref = [&](uint32_t id) { return U32(types.data() + at[id] + 8); };

  // Pass 2: every reference.
  for (uint32_t id = 1; id < count; ++id) {
    const char* t = types.data() + at[id];
    uint32_t kind = kind_of(id), vlen = BTF_INFO_VLEN(U32(t + 4));
    const char* items = t + sizeof(btf_type);
    std::string which = "type " + std::to_string(id);
    auto bad = [&](uint32_t target) { return target >= count; };
    switch (kind) {
      case BTF_KIND_PTR:
      case BTF_KIND_TYPEDEF:
      case BTF_KIND_VOLATILE:
      case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG:
      case BTF_KIND_VAR:
      case BTF_KIND_DECL_TAG:
      case BTF_KIND_FUNC_PROTO:
        if (bad(ref(id))) return fail("refers from " + which + " to a type it lacks");
        break;
      case BTF_KIND_FUNC:
        if (bad(ref(id)) || kind_of(ref(id)) != BTF_KIND_FUNC_PROTO)
          return fail("gives function " + which + " no prototype");
        break;
      case BTF_KIND_ARRAY: {
        btf_array a;
        std::memcpy(&a, items, sizeof a);
        if (bad(a.type) || bad(a.index_type))
          return fail("refers from " + which + " to a type it lacks");
        break;
      }
      default:
        break;
    }
    for (uint32_t i = 0; i < vlen; ++i) {
      uint32_t name = 0, target = 0;
      bool has_type = true;
      if (kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION) {
        name = U32(items + i * sizeof(btf_member));
        target = U32(items + i * sizeof(btf_member) + 4);
      } else if (kind == BTF_KIND_FUNC_PROTO) {
        name = U32(items + i * sizeof(btf_param));
        target = U32(items + i * sizeof(btf_param) + 4);
      } else if (kind == BTF_KIND_DATASEC) {
        target = U32(items + i * sizeof(btf_var_secinfo));
        if (!bad(target) && kind_of(target) != BTF_KIND_VAR)
          return fail("lists a non-variable in data section " + which);
      } else if (kind == BTF_KIND_ENUM || kind == BTF_KIND_ENUM64) {
        name = U32(items + i * (kind == BTF_KIND_ENUM ? sizeof(btf_enum) : sizeof(btf_enum64)));
        has_type = false;
      } else {
        break;
      }
      if (name >= strings.size()) return fail("names a part of " + which + " outside its strings");
      if (has_type && bad(target)) return fail("refers from " + which + " to a type it lacks");
    }
    // Typedefs and modifiers end in another kind of type within a few steps.
    uint32_t next = id;
    for (int depth = 0; FollowsChain(kind_of(next)); ++depth) {
      if (depth > 64) return fail("has a loop of typedefs or modifiers at " + which);
      next = ref(next);
      if (next == 0) break;
      if (bad(next)) return fail("refers from " + which + " to a type it lacks");
    }
  }
  return true;
}

}  // namespace btap::runtime
