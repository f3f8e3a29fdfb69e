// Syscall probe bodies that compute the same, or the same but for stored integer
// constants, made one function (see merge_bodies.h): a script of many syscalls:* points
// whose bodies differ only in a name literal (its words stored into a map key) and a
// folded printf (its format id) is then one body that LLVM optimises and the BPF backend
// selects once, called by each case of the dispatch with its own values.
#include "codegen/merge_bodies.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/InstIterator.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <set>

namespace btap::codegen {

bool SameBody(const llvm::Function& a, const llvm::Function& b, llvm::GlobalNumberState& globals) {
  if (llvm::FunctionComparator(&a, &b, &globals).compare() != 0) return false;
  auto in_a = llvm::instructions(a), in_b = llvm::instructions(b);
  auto x = in_a.begin(), y = in_b.begin();
  llvm::SmallVector<std::pair<unsigned, llvm::MDNode*>, 4> meta_a, meta_b;
  for (; x != in_a.end() && y != in_b.end(); ++x, ++y) {
    x->getAllMetadataOtherThanDebugLoc(meta_a);
    y->getAllMetadataOtherThanDebugLoc(meta_b);
    if (meta_a != meta_b) return false;
  }
  return x == in_a.end() && y == in_b.end();
}

namespace {

constexpr size_t kComparedPerHash = 8;  // groups of one structural hash tried per body
constexpr size_t kDirectArgs = 4;       // a BPF call's five argument registers, less the context

// A string literal (or other constant data) of the script's .rodata, which a call may take
// as an argument of the body instead: the address of a map value to the verifier.
bool RodataConstant(const llvm::Value* v) {
  auto* g = llvm::dyn_cast<llvm::GlobalVariable>(v);
  return g && g->isConstant() && g->hasLocalLinkage() && g->hasInitializer() &&
         g->getSection() == ".rodata";
}

// Whether two constants at operand `operand` of `insn` may be one run-time value: the
// integers a store writes, and the .rodata addresses a call passes. Not a size, index,
// switch case or immediate argument, which the verifier or the backend need as constants;
// nor the whole slot of a local variable, which SROA would turn back into the value itself
// for uses that may need a constant.
bool Parameterisable(const llvm::Instruction& insn, unsigned operand, const llvm::Constant* a,
                     const llvm::Constant* b) {
  if (a->getType() != b->getType()) return false;
  if (auto* call = llvm::dyn_cast<llvm::CallInst>(&insn)) {
    const llvm::Function* callee = call->getCalledFunction();
    return operand < call->arg_size() && !call->isInlineAsm() &&
           (!callee || !callee->isIntrinsic()) && RodataConstant(a) && RodataConstant(b);
  }
  auto* store = llvm::dyn_cast<llvm::StoreInst>(&insn);
  if (!store || operand != 0 || !store->isSimple()) return false;
  auto* ia = llvm::dyn_cast<llvm::ConstantInt>(a);
  if (!ia || !llvm::isa<llvm::ConstantInt>(b) || ia->getBitWidth() > 64) return false;
  llvm::Type* type = store->getValueOperand()->getType();
  auto* slot = llvm::dyn_cast<llvm::AllocaInst>(store->getPointerOperand());
  return !slot || slot->getAllocatedType() != type;
}

// An operand of `b` whose constant differs from the one at the same place of another body.
struct Difference {
  size_t index;  // the instruction's position in its function
  unsigned operand;
  llvm::Instruction* insn;
  llvm::Constant* value;
};

// Where `b` has other constants than `a` that may be parameters, walking both instruction
// by instruction; nullopt when they differ in shape or in a constant that must stay one.
// (Other operands are left to SameBody.)
std::optional<std::vector<Difference>> StoredDifferences(const llvm::Function& a,
                                                         llvm::Function& b) {
  std::vector<Difference> out;
  auto in_a = llvm::instructions(a);
  auto in_b = llvm::instructions(b);
  auto x = in_a.begin();
  auto y = in_b.begin();
  for (size_t index = 0; x != in_a.end() && y != in_b.end(); ++x, ++y, ++index) {
    if (x->getOpcode() != y->getOpcode() || x->getType() != y->getType() ||
        x->getNumOperands() != y->getNumOperands())
      return std::nullopt;
    for (unsigned k = 0; k < x->getNumOperands(); ++k) {
      auto* cx = llvm::dyn_cast<llvm::Constant>(x->getOperand(k));
      auto* cy = llvm::dyn_cast<llvm::Constant>(y->getOperand(k));
      if (!cx || !cy || cx == cy) continue;
      bool scalar = llvm::isa<llvm::ConstantInt>(cx) && llvm::isa<llvm::ConstantInt>(cy);
      if (!scalar && !(RodataConstant(cx) && RodataConstant(cy))) continue;  // SameBody's
      if (!Parameterisable(*x, k, cx, cy)) return std::nullopt;
      out.push_back({index, k, &*y, cy});
    }
  }
  if (x != in_a.end() || y != in_b.end()) return std::nullopt;
  return out;
}

// Bodies the same but for stored constants: the first (the representative) and the
// others, each with its own constants where they differ from the first's.
struct Group {
  llvm::Function* first;
  std::vector<llvm::Instruction*> insns;  // the first's, by position
  std::vector<llvm::Function*> members;   // the first included
  // Each member's constants where they differ from the first's, by (position, operand).
  std::vector<std::map<std::pair<size_t, unsigned>, llvm::Constant*>> own;
};

// Whether `b` is the group's first but for `diffs`: compared with the first's constants in
// their place, then put back.
bool SameButStored(const Group& g, llvm::Function& b, const std::vector<Difference>& diffs,
                   llvm::GlobalNumberState& globals) {
  std::vector<llvm::Value*> saved;
  for (const Difference& d : diffs) {
    saved.push_back(d.insn->getOperand(d.operand));
    d.insn->setOperand(d.operand, g.insns[d.index]->getOperand(d.operand));
  }
  bool same = SameBody(*g.first, b, globals);
  for (size_t i = 0; i < diffs.size(); ++i) diffs[i].insn->setOperand(diffs[i].operand, saved[i]);
  return same;
}

// The group's one function: the first's body, with each varying operand a parameter (or,
// for integers past the arguments a call has, a word of a .rodata row that one parameter
// points to); says each member's arguments. False, and nothing changed, when the
// parameters do not fit (.rodata holds no addresses: those are always arguments).
bool Parameterise(Group& g, llvm::Function** merged,
                  std::vector<std::vector<llvm::Value*>>* member_args) {
  using Place = std::pair<size_t, unsigned>;  // position, operand
  // Places that vary, and for each the members' constants; places whose constants are the
  // same in every member share a parameter.
  std::set<Place> varying;
  for (const auto& own : g.own)
    for (const auto& [place, value] : own) varying.insert(place);
  std::vector<std::vector<llvm::Constant*>> params;  // [parameter][member]
  std::map<Place, size_t> param_of;
  for (const Place& place : varying) {
    std::vector<llvm::Constant*> values;
    auto* base = llvm::cast<llvm::Constant>(g.insns[place.first]->getOperand(place.second));
    for (const auto& own : g.own) {
      auto it = own.find(place);
      values.push_back(it == own.end() ? base : it->second);
    }
    auto same = std::find(params.begin(), params.end(), values);
    param_of[place] = static_cast<size_t>(same - params.begin());
    if (same == params.end()) params.push_back(std::move(values));
  }
  size_t addresses = 0;
  for (const auto& values : params) addresses += !llvm::isa<llvm::ConstantInt>(values[0]);
  bool direct = params.size() <= kDirectArgs;
  if (!direct && addresses + 1 > kDirectArgs) return false;
  llvm::Function* first = g.first;
  llvm::Module& module = *first->getParent();
  llvm::LLVMContext& context = module.getContext();
  llvm::Type* i64 = llvm::Type::getInt64Ty(context);
  // Each parameter's argument (after the context), and its word in the row (or -1).
  std::vector<unsigned> arg_of(params.size());
  std::vector<int> word_of(params.size(), -1);
  std::vector<llvm::Type*> types = {first->getArg(0)->getType()};
  int words = 0;
  for (size_t k = 0; k < params.size(); ++k) {
    if (!direct && llvm::isa<llvm::ConstantInt>(params[k][0])) {
      word_of[k] = words++;
      continue;
    }
    arg_of[k] = static_cast<unsigned>(types.size());
    types.push_back(params[k][0]->getType());
  }
  unsigned row_arg = static_cast<unsigned>(types.size());
  if (words) types.push_back(llvm::PointerType::get(context, 0));
  auto* fn = llvm::Function::Create(llvm::FunctionType::get(first->getReturnType(), types, false),
                                    first->getLinkage(), "", &module);
  fn->copyAttributesFrom(first);
  fn->setSubprogram(first->getSubprogram());
  fn->splice(fn->end(), first);
  first->getArg(0)->replaceAllUsesWith(fn->getArg(0));
  fn->takeName(first);
  fn->getArg(0)->setName("ctx");
  for (size_t k = 0; k < params.size(); ++k)
    if (word_of[k] < 0) fn->getArg(arg_of[k])->setName("c" + std::to_string(k));
  if (words) fn->getArg(row_arg)->setName("row");
  for (const Place& place : varying) {
    llvm::Instruction* insn = g.insns[place.first];
    size_t k = param_of[place];
    llvm::Value* value = nullptr;
    if (word_of[k] < 0) {
      value = fn->getArg(arg_of[k]);
    } else {
      llvm::IRBuilder<> b(insn);
      b.SetCurrentDebugLocation(insn->getDebugLoc());
      value = b.CreateLoad(i64, b.CreateConstGEP1_64(i64, fn->getArg(row_arg), word_of[k]));
      value = b.CreateTrunc(value, insn->getOperand(place.second)->getType());
    }
    insn->setOperand(place.second, value);
  }
  member_args->assign(g.members.size(), {});
  for (size_t m = 0; m < g.members.size(); ++m) {
    std::vector<llvm::Constant*> row;
    for (size_t k = 0; k < params.size(); ++k) {
      if (word_of[k] < 0)
        (*member_args)[m].push_back(params[k][m]);
      else
        row.push_back(llvm::ConstantInt::get(
            i64, llvm::cast<llvm::ConstantInt>(params[k][m])->getZExtValue()));
    }
    if (row.empty()) continue;
    auto* type = llvm::ArrayType::get(i64, row.size());
    auto* global = new llvm::GlobalVariable(module, type, true, llvm::GlobalValue::InternalLinkage,
                                            llvm::ConstantArray::get(type, row), "args");
    global->setSection(".rodata");
    global->setAlignment(llvm::Align(8));
    (*member_args)[m].push_back(global);
  }
  for (llvm::Function* member : g.members) member->eraseFromParent();
  *merged = fn;
  return true;
}

}  // namespace

std::map<llvm::Function*, BodyCall> MergeByStoredConstants(
    const std::vector<llvm::Function*>& fns,
    const std::function<bool(const llvm::Function&)>& mergeable) {
  std::map<llvm::Function*, BodyCall> calls;
  std::deque<Group> groups;
  std::map<uint64_t, std::vector<Group*>> by_hash;
  llvm::GlobalNumberState globals;
  for (llvm::Function* fn : fns) {
    calls[fn] = {fn, {}};
    if (!mergeable(*fn)) continue;
    std::vector<Group*>& alike = by_hash[llvm::FunctionComparator::functionHash(*fn)];
    bool placed = false;
    for (Group* g : alike) {
      std::optional<std::vector<Difference>> diffs = StoredDifferences(*g->first, *fn);
      if (!diffs || diffs->empty() || !SameButStored(*g, *fn, *diffs, globals)) continue;
      g->members.push_back(fn);
      auto& own = g->own.emplace_back();
      for (const Difference& d : *diffs) own[{d.index, d.operand}] = d.value;
      placed = true;
      break;
    }
    if (placed || alike.size() >= kComparedPerHash) continue;
    Group& g = groups.emplace_back();
    g.first = fn;
    for (llvm::Instruction& insn : llvm::instructions(*fn)) g.insns.push_back(&insn);
    g.members = {fn};
    g.own.emplace_back();
    alike.push_back(&g);
  }
  for (Group& g : groups) {
    if (g.members.size() < 2) continue;
    std::vector<llvm::Function*> members = g.members;
    llvm::Function* merged = nullptr;
    std::vector<std::vector<llvm::Value*>> args;
    if (!Parameterise(g, &merged, &args)) continue;
    for (size_t m = 0; m < members.size(); ++m) calls[members[m]] = {merged, std::move(args[m])};
  }
  return calls;
}

}  // namespace btap::codegen
