// Loads through raw kernel addresses in embedded C become helper reads (see kernel_loads.h).
#include "codegen/kernel_loads.h"

#include <llvm/Analysis/ValueTracking.h>
#include <llvm/IR/DebugInfoMetadata.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace btap::codegen {
namespace {

constexpr uint64_t kProbeReadKernel = 113;

// Which values may hold a raw kernel address, found by propagating from integer-to-
// pointer casts until nothing changes (the module is one script's C: small).
class Addresses {
 public:
  explicit Addresses(llvm::Module& m) : module_(m) {}

  void Find() {
    bool changed = true;
    while (changed) {
      changed = false;
      for (llvm::Function& fn : module_)
        for (llvm::BasicBlock& block : fn)
          for (llvm::Instruction& i : block) changed |= Visit(i);
    }
  }

  // Whether `address` is certainly a raw address: made from an integer, or loaded from a
  // local that only such addresses are ever stored into and whose address goes nowhere
  // else. (Raw's "may be" suits reads, which any address survives; a write is refused at
  // compile time only when certain, else the verifier decides.)
  static bool Certain(const llvm::Value* address, int depth = 0) {
    const llvm::Value* base = Object(address);
    if (llvm::isa<llvm::IntToPtrInst>(base)) return true;
    if (auto* e = llvm::dyn_cast<llvm::ConstantExpr>(base))
      return e->getOpcode() == llvm::Instruction::IntToPtr;
    auto* load = llvm::dyn_cast<llvm::LoadInst>(base);
    auto* slot = load ? llvm::dyn_cast<llvm::AllocaInst>(load->getPointerOperand()) : nullptr;
    if (!slot || depth > 8 || Escapes(slot)) return false;
    bool stored = false;
    for (const llvm::User* user : slot->users()) {
      if (llvm::isa<llvm::LoadInst>(user) || llvm::isa<llvm::LifetimeIntrinsic>(user)) continue;
      auto* store = llvm::dyn_cast<llvm::StoreInst>(user);
      if (!store || store->getPointerOperand() != slot ||
          !Certain(store->getValueOperand(), depth + 1))
        return false;
      stored = true;
    }
    return stored;
  }

  bool Raw(const llvm::Value* v) const {
    if (raw_.count(v)) return true;
    auto* e = llvm::dyn_cast<llvm::ConstantExpr>(v);
    if (!e) return false;
    if (e->getOpcode() == llvm::Instruction::IntToPtr) return true;
    // Address arithmetic folded into a constant.
    if (e->getOpcode() == llvm::Instruction::GetElementPtr ||
        e->getOpcode() == llvm::Instruction::BitCast)
      return Raw(e->getOperand(0));
    return false;
  }

 private:
  bool Mark(const llvm::Value* v) { return raw_.insert(v).second; }

  // The memory at `address`, written in `fn`, now holds a raw address: its local, or the
  // argument it came through (its callers' objects then hold one). Through a pointer of
  // no known object (`*pp = raw` with `pp = &p`), any local whose address `fn` lets out.
  bool Holds(const llvm::Value* address, const llvm::Function* fn) {
    const llvm::Value* base = Object(address);
    if (llvm::isa<llvm::AllocaInst>(base)) return slots_.insert(base).second;
    if (auto it = argument_copies_.find(base); it != argument_copies_.end()) base = it->second;
    if (llvm::isa<llvm::Argument>(base)) return written_.insert(base).second;
    bool changed = false;
    for (const llvm::AllocaInst* local : Escaped(fn)) changed |= slots_.insert(local).second;
    return changed;
  }

  // The locals of `fn` whose address is kept or passed on.
  const std::vector<const llvm::AllocaInst*>& Escaped(const llvm::Function* fn) {
    auto [it, fresh] = escaped_.try_emplace(fn);
    if (fresh)
      for (const llvm::BasicBlock& block : *fn)
        for (const llvm::Instruction& i : block)
          if (auto* local = llvm::dyn_cast<llvm::AllocaInst>(&i); local && Escapes(local))
            it->second.push_back(local);
    return it->second;
  }

  // Whether `address` (a local's) is stored, passed to a call, made an integer, or
  // merged with other pointers, directly or after address arithmetic.
  static bool Escapes(const llvm::Value* address) {
    std::vector<const llvm::Value*> work = {address};
    std::set<const llvm::Value*> seen;
    while (!work.empty()) {
      const llvm::Value* v = work.back();
      work.pop_back();
      if (!seen.insert(v).second) continue;
      for (const llvm::User* user : v->users()) {
        if (llvm::isa<llvm::LoadInst>(user)) continue;
        if (auto* store = llvm::dyn_cast<llvm::StoreInst>(user)) {
          if (store->getValueOperand() == v) return true;
          continue;
        }
        if (llvm::isa<llvm::GetElementPtrInst>(user) || llvm::isa<llvm::BitCastInst>(user) ||
            llvm::isa<llvm::AddrSpaceCastInst>(user)) {
          work.push_back(user);
          continue;
        }
        auto* intrinsic = llvm::dyn_cast<llvm::IntrinsicInst>(user);
        if (!intrinsic) return true;
        switch (intrinsic->getIntrinsicID()) {
          case llvm::Intrinsic::preserve_struct_access_index:
          case llvm::Intrinsic::preserve_array_access_index:
          case llvm::Intrinsic::preserve_union_access_index:
            work.push_back(user);
            break;
          case llvm::Intrinsic::memcpy:
          case llvm::Intrinsic::memmove:
          case llvm::Intrinsic::memset:
          case llvm::Intrinsic::lifetime_start:
          case llvm::Intrinsic::lifetime_end:
            break;
          default:
            return true;
        }
      }
    }
    return false;
  }

  // A local (or an argument's memory) that a raw address was stored into: what is loaded
  // from it as a pointer may be one.
  const llvm::Value* Slot(const llvm::Value* address) const {
    const llvm::Value* base = Object(address);
    return llvm::isa<llvm::AllocaInst>(base) ? base : nullptr;
  }

  // The object `address` points into, through address arithmetic and CO-RE member
  // accesses (a local struct of a kernel type is reached through those too).
  static const llvm::Value* Object(const llvm::Value* address) {
    const llvm::Value* base = llvm::getUnderlyingObject(address);
    for (int depth = 0; depth < 32; ++depth) {
      auto* access = llvm::dyn_cast<llvm::IntrinsicInst>(base);
      if (!access || (access->getIntrinsicID() != llvm::Intrinsic::preserve_struct_access_index &&
                      access->getIntrinsicID() != llvm::Intrinsic::preserve_array_access_index &&
                      access->getIntrinsicID() != llvm::Intrinsic::preserve_union_access_index))
        break;
      base = llvm::getUnderlyingObject(access->getArgOperand(0));
    }
    return base;
  }

  bool Visit(llvm::Instruction& i) {
    // A call carries its arguments into its callee whether or not its result is known.
    if (raw_.count(&i) && !llvm::isa<llvm::CallInst>(i)) {
      // Already known; what it reaches through stores and returns is below.
    } else if (llvm::isa<llvm::IntToPtrInst>(i)) {
      return Mark(&i);
    } else if (auto* gep = llvm::dyn_cast<llvm::GetElementPtrInst>(&i)) {
      if (Raw(gep->getPointerOperand())) return Mark(&i);
    } else if (llvm::isa<llvm::BitCastInst>(i) || llvm::isa<llvm::AddrSpaceCastInst>(i) ||
               llvm::isa<llvm::FreezeInst>(i)) {
      if (Raw(i.getOperand(0))) return Mark(&i);
    } else if (auto* phi = llvm::dyn_cast<llvm::PHINode>(&i)) {
      for (const llvm::Value* in : phi->incoming_values())
        if (Raw(in)) return Mark(&i);
    } else if (auto* select = llvm::dyn_cast<llvm::SelectInst>(&i)) {
      if (Raw(select->getTrueValue()) || Raw(select->getFalseValue())) return Mark(&i);
    } else if (auto* load = llvm::dyn_cast<llvm::LoadInst>(&i)) {
      if (!load->getType()->isPointerTy()) return false;
      // A pointer read from kernel memory points into it; one read from a local that
      // held a raw address may be that address.
      const llvm::Value* slot = Slot(load->getPointerOperand());
      auto kept = slot ? argument_slots_.find(slot) : argument_slots_.end();
      bool copied =
          kept != argument_slots_.end() && argument_copies_.emplace(&i, kept->second).second;
      if (Raw(load->getPointerOperand()) || (slot && slots_.count(slot))) return Mark(&i) || copied;
      return copied;
    } else if (auto* call = llvm::dyn_cast<llvm::CallInst>(&i)) {
      if (auto* intrinsic = llvm::dyn_cast<llvm::IntrinsicInst>(call)) {
        switch (intrinsic->getIntrinsicID()) {
          case llvm::Intrinsic::preserve_struct_access_index:
          case llvm::Intrinsic::preserve_array_access_index:
          case llvm::Intrinsic::preserve_union_access_index:
            if (Raw(call->getArgOperand(0))) return Mark(&i);
            return false;
          case llvm::Intrinsic::memcpy:
          case llvm::Intrinsic::memmove:
            // A struct copied from kernel memory, or from a local that holds a raw
            // address (`b = a`), holds its pointers.
            if (Raw(call->getArgOperand(1)) || slots_.count(Object(call->getArgOperand(1))))
              return Holds(call->getArgOperand(0), call->getFunction());
            return false;
          default:
            return false;
        }
      }
      llvm::Function* callee = call->getCalledFunction();
      bool changed = false;
      if (callee && !callee->isDeclaration()) {
        for (unsigned a = 0; a < call->arg_size() && a < callee->arg_size(); ++a) {
          if (Raw(call->getArgOperand(a))) changed |= Mark(callee->getArg(a));
          // An out-parameter (or a struct returned through one) the callee stored a raw
          // address into: the caller's object holds it.
          if (written_.count(callee->getArg(a)))
            changed |= Holds(call->getArgOperand(a), call->getFunction());
        }
        if (returns_.count(callee)) changed |= Mark(&i);
      }
      return changed;
    }
    if (auto* store = llvm::dyn_cast<llvm::StoreInst>(&i)) {
      if (Raw(store->getValueOperand()))
        return Holds(store->getPointerOperand(), store->getFunction());
      // A pointer argument kept in a local (as Clang keeps every one at -O0).
      const llvm::Value* slot = Slot(store->getPointerOperand());
      if (slot && llvm::isa<llvm::Argument>(store->getValueOperand()) &&
          store->getValueOperand()->getType()->isPointerTy())
        return argument_slots_.emplace(slot, store->getValueOperand()).second;
    } else if (auto* ret = llvm::dyn_cast<llvm::ReturnInst>(&i)) {
      if (ret->getReturnValue() && Raw(ret->getReturnValue()))
        return returns_.insert(ret->getFunction()).second;
    }
    return false;
  }

  llvm::Module& module_;
  std::set<const llvm::Value*> raw_;
  std::set<const llvm::Value*> slots_;
  std::set<const llvm::Value*> written_;  // pointer arguments stored through
  // Locals holding a pointer argument, and the values loaded from them: that argument.
  std::map<const llvm::Value*, const llvm::Value*> argument_slots_, argument_copies_;
  std::set<const llvm::Function*> returns_;
  std::map<const llvm::Function*, std::vector<const llvm::AllocaInst*>> escaped_;
};

// bpf_probe_read_kernel(dst, size, src), called by helper number as Clang calls helpers.
llvm::CallInst* ReadKernel(llvm::IRBuilder<>& b, llvm::Value* dst, llvm::Value* size,
                           llvm::Value* src) {
  auto* ptr = b.getPtrTy();
  auto* type = llvm::FunctionType::get(b.getInt64Ty(), {ptr, b.getInt32Ty(), ptr}, false);
  llvm::Value* helper = llvm::ConstantExpr::getIntToPtr(b.getInt64(kProbeReadKernel), ptr);
  return b.CreateCall(type, helper, {dst, size, src});
}

// The struct or union a CO-RE member access `access` reads a member of, else null.
const llvm::DICompositeType* CompositeOf(const llvm::Value* access) {
  auto* call = llvm::dyn_cast<llvm::IntrinsicInst>(access);
  if (!call || (call->getIntrinsicID() != llvm::Intrinsic::preserve_struct_access_index &&
                call->getIntrinsicID() != llvm::Intrinsic::preserve_union_access_index))
    return nullptr;
  const llvm::DIType* type = llvm::dyn_cast_or_null<llvm::DIType>(
      call->getMetadata(llvm::LLVMContext::MD_preserve_access_index));
  // Through typedefs and qualifiers to the struct.
  while (auto* derived = llvm::dyn_cast_or_null<llvm::DIDerivedType>(type))
    type = derived->getBaseType();
  return llvm::dyn_cast_or_null<llvm::DICompositeType>(type);
}

// The member a load reads when its address is a CO-RE struct member access (Clang at -O0
// loads straight from the access), when that member is a bitfield: it, and the name of
// the nearest named struct holding it (an anonymous one's holder), else null.
const llvm::DIDerivedType* BitfieldOf(const llvm::LoadInst* load, std::string* holder) {
  auto* access =
      llvm::dyn_cast<llvm::IntrinsicInst>(load->getPointerOperand()->stripPointerCasts());
  if (!access || access->getIntrinsicID() != llvm::Intrinsic::preserve_struct_access_index)
    return nullptr;
  const llvm::DICompositeType* composite = CompositeOf(access);
  auto* index = llvm::dyn_cast<llvm::ConstantInt>(access->getArgOperand(2));
  if (!composite || !index || index->getZExtValue() >= composite->getElements().size())
    return nullptr;
  auto* member =
      llvm::dyn_cast<llvm::DIDerivedType>(composite->getElements()[index->getZExtValue()]);
  if (!member || !member->isBitField()) return nullptr;
  const llvm::Value* at = access;
  for (int depth = 0; depth < 32 && composite && composite->getName().empty(); ++depth) {
    at = llvm::cast<llvm::CallInst>(at)->getArgOperand(0)->stripPointerCasts();
    composite = CompositeOf(at);
  }
  *holder = composite ? composite->getName().str() : "";
  return member;
}

// Records a write through a raw kernel address, where the C makes it.
void Written(const llvm::Instruction* write, KernelLoads* result) {
  KernelWrite& at = result->writes.emplace_back();
  if (const llvm::DebugLoc& loc = write->getDebugLoc()) {
    at.file = loc->getFilename().str();
    at.line = loc.getLine();
    at.column = loc.getCol();
  }
}

}  // namespace

KernelLoads ReadKernelAddressesByHelper(llvm::Module& c) {
  KernelLoads result;
  Addresses addresses(c);
  addresses.Find();
  std::vector<llvm::LoadInst*> loads;
  std::vector<llvm::MemTransferInst*> copies;
  for (llvm::Function& fn : c)
    for (llvm::BasicBlock& block : fn)
      for (llvm::Instruction& i : block) {
        if (auto* load = llvm::dyn_cast<llvm::LoadInst>(&i)) {
          if (!addresses.Raw(load->getPointerOperand())) continue;
          // Clang's shifts count from the bitfield's storage unit, which the read's
          // relocated address no longer starts: not rewritten, reported.
          std::string holder;
          if (const llvm::DIDerivedType* member = BitfieldOf(load, &holder)) {
            BitfieldRead& read = result.bitfields.emplace_back();
            read.member = member->getName().str();
            read.holder = holder;
            if (const llvm::DebugLoc& at = load->getDebugLoc()) {
              read.file = at->getFilename().str();
              read.line = at.getLine();
              read.column = at.getCol();
            }
            continue;
          }
          loads.push_back(load);
        } else if (auto* store = llvm::dyn_cast<llvm::StoreInst>(&i)) {
          if (Addresses::Certain(store->getPointerOperand())) Written(store, &result);
        } else if (auto* fill = llvm::dyn_cast<llvm::MemIntrinsic>(&i);
                   fill && Addresses::Certain(fill->getRawDest())) {
          Written(fill, &result);
        } else if (auto* copy = llvm::dyn_cast<llvm::MemTransferInst>(&i)) {
          if (addresses.Raw(copy->getRawSource())) copies.push_back(copy);
        }
      }
  const llvm::DataLayout& layout = c.getDataLayout();
  // One copy per function, as large as its largest read: each read's value is loaded from
  // it at once, before the next read (one slot per read would not fit 512 bytes of stack).
  std::map<llvm::Function*, uint64_t> largest;
  for (llvm::LoadInst* load : loads) {
    uint64_t& size = largest[load->getFunction()];
    size = std::max<uint64_t>(size, layout.getTypeStoreSize(load->getType()));
  }
  std::map<llvm::Function*, llvm::AllocaInst*> copies_of;
  for (auto [fn, size] : largest) {
    llvm::IRBuilder<> entry(&fn->getEntryBlock(), fn->getEntryBlock().begin());
    llvm::AllocaInst* copy =
        entry.CreateAlloca(llvm::ArrayType::get(entry.getInt8Ty(), size), nullptr, "kernel_read");
    copy->setAlignment(llvm::Align(8));
    copies_of[fn] = copy;
  }
  for (llvm::LoadInst* load : loads) {
    llvm::AllocaInst* copy = copies_of[load->getFunction()];
    llvm::IRBuilder<> b(load);
    b.SetCurrentDebugLocation(load->getDebugLoc());
    uint64_t size = layout.getTypeStoreSize(load->getType());
    // A fault leaves the copy zeroed (the helper clears it), as a BTF pointer's load does.
    ReadKernel(b, copy, b.getInt32(static_cast<uint32_t>(size)), load->getPointerOperand());
    llvm::LoadInst* value = b.CreateLoad(load->getType(), copy);
    value->setDebugLoc(load->getDebugLoc());
    load->replaceAllUsesWith(value);
    load->eraseFromParent();
  }
  for (llvm::MemTransferInst* copy : copies) {
    llvm::IRBuilder<> b(copy);
    b.SetCurrentDebugLocation(copy->getDebugLoc());
    llvm::Value* size = b.CreateIntCast(copy->getLength(), b.getInt32Ty(), false);
    ReadKernel(b, copy->getRawDest(), size, copy->getRawSource());
    copy->eraseFromParent();
  }
  result.rewritten = static_cast<int>(loads.size() + copies.size());
  return result;
}

}  // namespace btap::codegen
