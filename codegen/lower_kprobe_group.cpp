// Wildcard kernel-function probes that share one program (DESIGN decision 12): the probes
// one probe point expands to have the same body, so when that body reads no `$vars` or
// `@var`s (the only things that differ per function) they become one program that the runtime
// attaches with one multi-kprobe link over all the functions. pp(), ppfunc() and
// probefunc() then come from tables indexed by the link's cookie.
#include "codegen/lowering.h"
#include "frontend/ast_walk.h"

namespace btap::codegen::lowering {

namespace {

constexpr int64_t kGetAttachCookie = 174;

// The probe's body reads nothing that differs between the functions of its point.
bool Shareable(const sema::Probe& p) {
  if (!sema::IsKernelFunction(p.spec.family) || p.spec.numbers[0] != 1) return false;
  bool per_function = false;
  for (ast::Node* root : {static_cast<ast::Node*>(p.body), static_cast<ast::Node*>(p.condition)})
    ast::WalkTree(root, [&](ast::Node* n) {
      // (@var("x") is placed in each function's own unit.)
      per_function |=
          ast::Is<ast::TargetSymbol>(n) || ast::Is<ast::Entry>(n) || ast::Is<ast::AtVar>(n);
    });
  return !per_function;
}

}  // namespace

void Lowering::GroupKernelProbes() {
  std::map<std::tuple<const ast::Probe*, std::string, bool, int>, KprobeGroup*> by_point;
  for (const sema::Probe* p : program_.probes) {
    if (!Shareable(*p)) continue;
    auto key =
        std::make_tuple(p->decl, p->origin, p->spec.is_return, static_cast<int>(p->spec.family));
    KprobeGroup*& group = by_point[key];
    if (!group) group = &kprobe_groups_.emplace_back();
    group->members.push_back(p);
    kprobe_group_of_[p] = group;
  }
  // A point that matched one function is an ordinary probe.
  for (KprobeGroup& g : kprobe_groups_)
    if (g.members.size() == 1) kprobe_group_of_.erase(g.members[0]);
}

// The names the runtime attaches to, one per line; the cookie of each is its line number.
std::string Lowering::GroupTargets(const KprobeGroup& group) {
  std::string targets;
  for (const sema::Probe* p : group.members)
    targets += (targets.empty() ? "" : "\n") + p->spec.target;
  return targets;
}

// pp(), probefunc() or pn() of the function whose kprobe fired: a rodata table of string
// slots, indexed by the attach cookie.
Value Lowering::GroupString(GroupText which) {
  KprobeGroup& g = *const_cast<KprobeGroup*>(frame_->group);
  llvm::GlobalVariable*& table = which == GroupText::Point      ? g.points
                                 : which == GroupText::Function ? g.functions
                                                                : g.names;
  auto* slot_type = llvm::ArrayType::get(b_.getInt8Ty(), slot_);
  auto* type = llvm::ArrayType::get(slot_type, g.members.size());
  if (!table) {
    std::vector<llvm::Constant*> rows;
    for (const sema::Probe* p : g.members)
      rows.push_back(PaddedString(which == GroupText::Point      ? p->spec.point
                                  : which == GroupText::Function ? p->spec.function
                                  : p->listed.empty()            ? p->spec.point
                                                                 : p->listed));
    const char* name = which == GroupText::Point      ? "kprobe_points"
                       : which == GroupText::Function ? "kprobe_functions"
                                                      : "kprobe_names";
    table = new llvm::GlobalVariable(module_, type, true, llvm::GlobalValue::InternalLinkage,
                                     llvm::ConstantArray::get(type, rows), name);
    table->setSection(".rodata");
    table->setAlignment(llvm::Align(8));
  }
  Value cookie = Helper(kGetAttachCookie, i64_, {frame_->ctx});
  Value n = b_.getInt64(static_cast<int64_t>(g.members.size()));
  Value index = b_.CreateSelect(b_.CreateICmpULT(cookie, n), cookie, b_.getInt64(0));
  return b_.CreateInBoundsGEP(type, table, {b_.getInt64(0), index});
}

}  // namespace btap::codegen::lowering
