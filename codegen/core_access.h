// Kernel struct members as CO-RE relocations (DESIGN decision 7): an access names the
// member of a struct as the compiling kernel's BTF describes it, with LLVM's
// preserve-access-index intrinsic and a debug-info copy of that struct; the BPF backend
// records a field relocation in `.BTF.ext` and libbpf fixes the offset for the kernel it
// loads on, finding the member by name.
#pragma once

#include <llvm/IR/DIBuilder.h>
#include <llvm/IR/IRBuilder.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

struct btf;

namespace btap::codegen {

// A member found in a struct or union, anonymous members looked through.
struct KernelMember {
  std::string name;
  uint32_t type = 0;        // its BTF type
  uint32_t bit_offset = 0;  // from the start of the outer struct
  uint32_t bitfield = 0;    // bits, for a bitfield
};

// BTF type helpers.
uint32_t StripModifiers(const struct btf* btf, uint32_t type);  // typedefs, const, volatile
std::string KernelTypeName(const struct btf* btf, uint32_t type);
// Finds `name` in struct/union `type` (modifiers stripped first).
bool FindKernelMember(const struct btf* btf, uint32_t type, std::string_view name,
                      KernelMember* out);
std::vector<std::string> KernelMemberNames(const struct btf* btf, uint32_t type);
// The name a relocation can start from at `type`: the struct's or union's own, else that
// of the typedef that names an unnamed one (`pte_t` of `typedef struct { ... } pte_t`;
// libbpf matches a typedef root by name and looks through it); "" when neither has one.
std::string KernelRootName(const struct btf* btf, uint32_t type);

class CoreAccess {
 public:
  // `indexes`: the module's member indexes (MapBuilder::core_indexes), kept across accesses.
  CoreAccess(llvm::IRBuilder<>& b, llvm::DIBuilder& di, llvm::DIFile* file, const struct btf* btf,
             std::map<std::string, std::map<std::string, uint32_t>>& indexes)
      : b_(b), di_(di), file_(file), btf_(btf), indexes_(indexes) {}

  // The address of `member` of the struct or union `type` at `base`, relocated at load.
  llvm::Value* MemberAddress(llvm::Value* base, uint32_t type, const KernelMember& member);
  // The same through embedded structs (`cred->uid->val`: `uid` lies in `cred`): one
  // relocation from the named outer struct, since libbpf cannot match an unnamed one.
  struct Step {
    uint32_t record;  // the struct or union the member is in
    KernelMember member;
  };
  llvm::Value* MemberPath(llvm::Value* base, const std::vector<Step>& path);
  // A bitfield at the end of `path`, as field-info relocations (LLVM's
  // preserve-field-info): where its storage lies from `base` and how many bytes to read
  // (both i64), and the shifts that leave its value in a u64 read from there (i64).
  struct BitfieldInfo {
    llvm::Value* byte_offset;
    llvm::Value* byte_size;
    llvm::Value* left_shift;
    llvm::Value* right_shift;
  };
  BitfieldInfo Bitfield(llvm::Value* base, const std::vector<Step>& path);
  // Whether the kernel the object loads on has the member at the end of `path` (an i64,
  // 0 or 1): a field-existence relocation.
  llvm::Value* Exists(const std::vector<Step>& path);

 private:
  llvm::DICompositeType* OneMember(uint32_t record, const KernelMember& member,
                                   llvm::DIType* member_type, uint32_t index);
  uint32_t MemberIndex(const std::string& record, const std::string& member);
  llvm::DIType* Describe(uint32_t type, int depth);  // a member's type, shallowly
  llvm::IRBuilder<>& b_;
  llvm::DIBuilder& di_;
  llvm::DIFile* file_;
  const struct btf* btf_;
  std::map<uint32_t, llvm::DIType*> described_;
  std::map<std::string, std::map<std::string, uint32_t>>& indexes_;
};

}  // namespace btap::codegen
