// Syscall probe bodies that compute the same, or the same but for integer constants they
// store (a string literal's words in a map key, a printf's format id), made one function
// (merge_bodies.cpp; lower_syscall.cpp dispatches to them).
#pragma once

#include <llvm/IR/Function.h>
#include <llvm/Transforms/Utils/FunctionComparator.h>

#include <functional>
#include <map>
#include <vector>

namespace btap::codegen {

// Whether two bodies compute the same: LLVM's comparison for merging functions, and the
// same metadata on every instruction but its debug location (the CO-RE accesses' types,
// which that comparison leaves out).
bool SameBody(const llvm::Function& a, const llvm::Function& b, llvm::GlobalNumberState& globals);

// What a dispatcher calls for a body: the function, and the values after its context.
struct BodyCall {
  llvm::Function* fn = nullptr;
  std::vector<llvm::Value*> args;
};

// Bodies `fns` (distinct internal functions `i32 (ptr ctx)`, in script order) that are the
// same but for integer constants stored to memory become one function that takes those
// constants: as arguments, or past the four a BPF call has beside the context, as the
// address of a constant row in .rodata. Only bodies `mergeable` accepts take part. Says
// what to call for each given function; the functions merged away are erased.
std::map<llvm::Function*, BodyCall> MergeByStoredConstants(
    const std::vector<llvm::Function*>& fns,
    const std::function<bool(const llvm::Function&)>& mergeable);

}  // namespace btap::codegen
