// CO-RE member accesses (see core_access.h).
#include "codegen/core_access.h"

#include "semantic/machine/kernel_functions.h"

#include <bpf/btf.h>
#include <llvm/IR/IntrinsicsBPF.h>

namespace btap::codegen {

uint32_t StripModifiers(const struct btf* btf, uint32_t type) {
  return sema::StripBtfModifiers(btf, type);
}

std::string KernelTypeName(const struct btf* btf, uint32_t type) {
  const btf_type* t = btf__type_by_id(btf, type);
  for (int guard = 0; t && btf_is_mod(t) && guard < 16; ++guard) t = btf__type_by_id(btf, t->type);
  if (!t || type == 0) return "void";
  std::string name = btf__name_by_offset(btf, t->name_off);
  if (btf_is_typedef(t)) return name;                       // sigset_t, as the source spells it
  if (name.empty() && btf_is_composite(t)) name = "{...}";  // as the DWARF side names it
  if (btf_is_struct(t)) return "struct " + name;
  if (btf_is_union(t)) return "union " + name;
  if (btf_is_ptr(t)) return KernelTypeName(btf, t->type) + "*";
  return name.empty() ? "an unnamed type" : name;
}

namespace {

bool Find(const struct btf* btf, uint32_t type, std::string_view name, uint32_t base_bits,
          int depth, KernelMember* out) {
  const btf_type* t = btf__type_by_id(btf, StripModifiers(btf, type));
  if (!t || !btf_is_composite(t) || depth > 8) return false;
  const btf_member* m = btf_members(t);
  for (uint32_t i = 0; i < btf_vlen(t); ++i) {
    std::string_view member = btf__name_by_offset(btf, m[i].name_off);
    uint32_t bits = base_bits + btf_member_bit_offset(t, i);
    if (member.empty()) {  // an anonymous struct or union: its members are the outer's
      if (Find(btf, m[i].type, name, bits, depth + 1, out)) return true;
      continue;
    }
    if (member != name) continue;
    *out = {std::string(member), m[i].type, bits, btf_member_bitfield_size(t, i)};
    return true;
  }
  return false;
}

void Names(const struct btf* btf, uint32_t type, int depth, std::vector<std::string>* out) {
  const btf_type* t = btf__type_by_id(btf, StripModifiers(btf, type));
  if (!t || !btf_is_composite(t) || depth > 8) return;
  const btf_member* m = btf_members(t);
  for (uint32_t i = 0; i < btf_vlen(t); ++i) {
    std::string member = btf__name_by_offset(btf, m[i].name_off);
    if (member.empty())
      Names(btf, m[i].type, depth + 1, out);
    else
      out->push_back(member);
  }
}

}  // namespace

bool FindKernelMember(const struct btf* btf, uint32_t type, std::string_view name,
                      KernelMember* out) {
  return Find(btf, type, name, 0, 0, out);
}

std::vector<std::string> KernelMemberNames(const struct btf* btf, uint32_t type) {
  std::vector<std::string> names;
  Names(btf, type, 0, &names);
  return names;
}

std::string KernelRootName(const struct btf* btf, uint32_t type) {
  std::string typedef_name;
  for (int guard = 0; guard < 64 && type; ++guard) {
    const btf_type* t = btf__type_by_id(btf, type);
    if (!t) return "";
    if (!btf_is_typedef(t) && !btf_is_mod(t)) {
      if (t->name_off) return btf__name_by_offset(btf, t->name_off);
      return typedef_name;
    }
    if (btf_is_typedef(t)) typedef_name = btf__name_by_offset(btf, t->name_off);
    type = t->type;
  }
  return "";
}

// A member's type as debug info, deep enough for libbpf's compatibility checks: scalars
// by size and sign, pointers to (forward-declared) structs, arrays of scalars, and
// embedded structs by name and size.
llvm::DIType* CoreAccess::Describe(uint32_t type, int depth) {
  type = StripModifiers(btf_, type);
  if (auto it = described_.find(type); it != described_.end()) return it->second;
  const btf_type* t = btf__type_by_id(btf_, type);
  llvm::DIType* out = nullptr;
  std::string name = t ? btf__name_by_offset(btf_, t->name_off) : "";
  if (!t || type == 0) {
    out = nullptr;  // void
  } else if (btf_is_int(t)) {
    bool is_signed = btf_int_encoding(t) & BTF_INT_SIGNED;
    bool is_char = btf_int_encoding(t) & BTF_INT_CHAR;
    out = di_.createBasicType(
        name, t->size * 8,
        is_char ? (is_signed ? llvm::dwarf::DW_ATE_signed_char : llvm::dwarf::DW_ATE_unsigned_char)
        : is_signed ? llvm::dwarf::DW_ATE_signed
                    : llvm::dwarf::DW_ATE_unsigned);
  } else if (btf_is_enum(t) || btf_is_enum64(t)) {
    // An enum, not an int: libbpf checks that a member keeps its kind.
    out = di_.createEnumerationType(nullptr, name, file_, 0, t->size * 8, 0,
                                    di_.getOrCreateArray({}), nullptr);
  } else if (btf_is_ptr(t)) {
    const btf_type* to = btf__type_by_id(btf_, StripModifiers(btf_, t->type));
    llvm::DIType* pointee = nullptr;
    // A struct without a name of its own (behind a typedef, as pgd_t) is described as
    // the type itself below (an anonymous struct of its size; void past two levels), not
    // as a forward declaration: the kernel refuses an object's whole BTF for one without a name
    // ("Invalid name"), and libbpf's checks of a pointer member look at no more than its
    // kind. Without that BTF, any program with a callback is refused ("missing btf
    // func_info": para-callgraph-verbose.stp's $$parms of walk_page_range).
    if (to && btf_is_composite(to) && to->name_off)
      pointee = di_.createForwardDecl(
          btf_is_union(to) ? llvm::dwarf::DW_TAG_union_type : llvm::dwarf::DW_TAG_structure_type,
          btf__name_by_offset(btf_, to->name_off), nullptr, file_, 0);
    else if (to && depth < 2)
      pointee = Describe(t->type, depth + 1);
    out = di_.createPointerType(pointee, 64);
  } else if (btf_is_array(t)) {
    const struct btf_array* a = btf_array(t);
    llvm::DIType* element = Describe(a->type, depth + 1);
    int64_t element_size = btf__resolve_size(btf_, a->type);
    llvm::Metadata* range = di_.getOrCreateSubrange(0, a->nelems);
    out = di_.createArrayType(
        static_cast<uint64_t>(element_size > 0 ? element_size : 1) * 8 * a->nelems, 0, element,
        di_.getOrCreateArray({range}));
  } else if (btf_is_composite(t)) {
    out = btf_is_union(t)
              ? static_cast<llvm::DIType*>(di_.createUnionType(nullptr, name, file_, 0, t->size * 8,
                                                               0, llvm::DINode::FlagZero,
                                                               di_.getOrCreateArray({})))
              : di_.createStructType(nullptr, name, file_, 0, t->size * 8, 0,
                                     llvm::DINode::FlagZero, nullptr, di_.getOrCreateArray({}));
  } else {
    out = di_.createBasicType("long", 64, llvm::dwarf::DW_ATE_signed);
  }
  described_[type] = out;
  return out;
}

// The member's index in its struct's copy: a number of its own per struct and member in
// the module. The BPF backend names a relocation by struct, kind, value and access string
// ("0:INDEX"), and merges relocations of one name: with every copy's member at index 0,
// two members' existence checks (whose value is 1 for both) would become one.
uint32_t CoreAccess::MemberIndex(const std::string& record, const std::string& member) {
  auto& members = indexes_[record];
  return members.emplace(member, static_cast<uint32_t>(members.size())).first->second;
}

llvm::DICompositeType* CoreAccess::OneMember(uint32_t record, const KernelMember& member,
                                             llvm::DIType* member_type, uint32_t index) {
  const btf_type* t = btf__type_by_id(btf_, StripModifiers(btf_, record));
  std::string name = btf__name_by_offset(btf_, t->name_off);
  int64_t member_size = btf__resolve_size(btf_, member.type);
  if (member_size <= 0) member_size = 8;
  uint64_t storage_bits = static_cast<uint64_t>(member_size) * 8;
  llvm::DIDerivedType* field =
      member.bitfield
          ? di_.createBitFieldMemberType(nullptr, member.name, file_, 0, member.bitfield,
                                         member.bit_offset,
                                         member.bit_offset / storage_bits * storage_bits,
                                         llvm::DINode::FlagZero, member_type)
          : di_.createMemberType(nullptr, member.name, file_, 0, storage_bits, 0, member.bit_offset,
                                 llvm::DINode::FlagZero, member_type);
  // Unnamed bytes stand before it; only the member accessed is matched by name.
  std::vector<llvm::Metadata*> members;
  llvm::DIBasicType* byte = di_.createBasicType("char", 8, llvm::dwarf::DW_ATE_signed_char);
  for (uint32_t i = 0; i < index; ++i)
    members.push_back(
        di_.createMemberType(nullptr, "", file_, 0, 8, 0, 0, llvm::DINode::FlagZero, byte));
  members.push_back(field);
  return btf_is_union(t)
             ? di_.createUnionType(nullptr, name, file_, 0, t->size * 8, 0, llvm::DINode::FlagZero,
                                   di_.getOrCreateArray(members))
             : di_.createStructType(nullptr, name, file_, 0, t->size * 8, 0, llvm::DINode::FlagZero,
                                    nullptr, di_.getOrCreateArray(members));
}

llvm::Value* CoreAccess::MemberAddress(llvm::Value* base, uint32_t type,
                                       const KernelMember& member) {
  return MemberPath(base, {{type, member}});
}

// Each struct is a copy with the one member accessed, at its offset: libbpf matches the
// member by name in the target kernel's struct (looking through anonymous ones). The
// copies nest (a member's type is the next copy), which LLVM needs to see one chain.
llvm::Value* CoreAccess::MemberPath(llvm::Value* base, const std::vector<Step>& path) {
  std::vector<llvm::DICompositeType*> records(path.size());
  std::vector<uint32_t> indexes(path.size());
  llvm::DIType* inner = Describe(path.back().member.type, 0);
  for (size_t k = path.size(); k-- > 0;) {
    indexes[k] = MemberIndex(KernelTypeName(btf_, path[k].record), path[k].member.name);
    records[k] = OneMember(path[k].record, path[k].member, inner, indexes[k]);
    inner = records[k];
  }
  // An unnamed root is reached through the typedef that names it: the relocation starts
  // there (LLVM's BPF backend takes a typedef in the metadata as the root).
  llvm::DIType* root = records[0];
  if (const btf_type* t = btf__type_by_id(btf_, StripModifiers(btf_, path[0].record));
      t && t->name_off == 0) {
    std::string name = KernelRootName(btf_, path[0].record);
    if (!name.empty()) root = di_.createTypedef(records[0], name, file_, 0, nullptr);
  }
  llvm::LLVMContext& context = b_.getContext();
  llvm::Value* pointer = b_.CreateIntToPtr(base, b_.getPtrTy());
  for (size_t k = 0; k < path.size(); ++k) {
    int64_t member_size = btf__resolve_size(btf_, path[k].member.type);
    if (member_size <= 0) member_size = 8;
    // Offsets here are within the step's own struct (a bitfield's: its storage unit's).
    uint32_t byte_offset = path[k].member.bit_offset / 8;
    if (path[k].member.bitfield)
      byte_offset = path[k].member.bit_offset / (member_size * 8) * member_size;
    llvm::StructType* layout = llvm::StructType::get(
        context,
        {llvm::ArrayType::get(b_.getInt8Ty(), byte_offset),
         llvm::ArrayType::get(b_.getInt8Ty(), static_cast<uint64_t>(member_size))},
        /*isPacked=*/true);
    pointer = b_.CreatePreserveStructAccessIndex(layout, pointer, 1, indexes[k],
                                                 k == 0 ? root : records[k]);
  }
  return pointer;
}

CoreAccess::BitfieldInfo CoreAccess::Bitfield(llvm::Value* base, const std::vector<Step>& path) {
  llvm::Value* access = MemberPath(base, path);
  llvm::Module* module = b_.GetInsertBlock()->getModule();
  llvm::Function* info = llvm::Intrinsic::getDeclaration(
      module, llvm::Intrinsic::bpf_preserve_field_info, {access->getType()});
  // The kinds of LLVM's BPFCoreSharedInfo (and libbpf's bpf_field_info_kind).
  auto kind = [&](int64_t k) {
    return b_.CreateZExt(b_.CreateCall(info, {access, b_.getInt64(k)}), b_.getInt64Ty());
  };
  return {kind(0), kind(1), kind(4), kind(5)};
}

llvm::Value* CoreAccess::Exists(const std::vector<Step>& path) {
  llvm::Value* access = MemberPath(b_.getInt64(0), path);  // nothing is read through it
  llvm::Function* info = llvm::Intrinsic::getDeclaration(b_.GetInsertBlock()->getModule(),
                                                         llvm::Intrinsic::bpf_preserve_field_info,
                                                         {access->getType()});
  return b_.CreateZExt(b_.CreateCall(info, {access, b_.getInt64(2)}), b_.getInt64Ty());
}

}  // namespace btap::codegen
