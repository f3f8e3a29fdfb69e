// Wildcard kernel-function and user probes that share one program (DESIGN decision 12):
// the probes one probe point expands to have the same body, so when that body reads no
// `$vars`, `@entry` or `@var`s (the only things that differ per function) they become one
// program that the runtime attaches with one multi-kprobe or multi-uprobe link over all the
// functions (or one link per function, each with its cookie, where the kernel has no multi
// link). pp(), ppfunc() and probefunc() then come from tables indexed by the cookie.
#include "codegen/lowering.h"
#include "frontend/ast_walk.h"

namespace btap::codegen::lowering {

namespace {

constexpr int64_t kGetAttachCookie = 174;

// The probe's body reads nothing that differs between the functions of its point.
// User probes: of one file (and process(PID)), and without an SDT semaphore, which each
// mark has its own of.
bool Shareable(const sema::Probe& p) {
  if (sema::IsUserSpace(p.spec.family)) {
    if (p.spec.numbers[1] != 0 || p.spec.target.empty() ||
        p.spec.target.find('\n') != std::string::npos)
      return false;
  } else if (!sema::IsKernelFunction(p.spec.family) || p.spec.numbers[0] != 1) {
    return false;
  }
  bool per_function = false;
  for (ast::Node* root : {static_cast<ast::Node*>(p.body), static_cast<ast::Node*>(p.condition)})
    ast::WalkTree(root, [&](ast::Node* n) {
      // (@var("x") is placed in each function's own unit.)
      // (A user probe's load bias is its own address less the run-time one.)
      auto* r = ast::As<ast::Register>(n);
      per_function |= ast::Is<ast::TargetSymbol>(n) || ast::Is<ast::Entry>(n) ||
                      ast::Is<ast::AtVar>(n) || (r && r->load_bias);
    });
  return !per_function;
}

}  // namespace

void Lowering::GroupSharedProbes() {
  std::map<std::tuple<const ast::Probe*, std::string, bool, int, std::string>, KprobeGroup*>
      by_point;
  for (const sema::Probe* p : program_.probes) {
    if (!Shareable(*p)) continue;
    // A user probe's file (a `.library`'s own), its build and process(PID) are the group's.
    std::string file =
        sema::IsUserSpace(p->spec.family)
            ? p->spec.target + '\n' + p->spec.build_id + '\n' + std::to_string(p->spec.numbers[2])
            : "";
    auto key = std::make_tuple(p->decl, p->origin, p->spec.is_return,
                               static_cast<int>(p->spec.family), file);
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
// User probes: the file's path, then the file offset of each probe, one per line; the
// cookie of each is its line number less one.
std::string Lowering::GroupTargets(const KprobeGroup& group) {
  std::string targets;
  if (sema::IsUserSpace(group.members.front()->spec.family)) {
    targets = group.members.front()->spec.target;
    for (const sema::Probe* p : group.members) targets += '\n' + std::to_string(p->spec.numbers[0]);
    return targets;
  }
  for (const sema::Probe* p : group.members)
    targets += (targets.empty() ? "" : "\n") + p->spec.target;
  return targets;
}

// pp(), probefunc() or pn() of the function whose kprobe fired: a rodata table of string
// slots, indexed by the attach cookie.
Value Lowering::GroupString(GroupText which) {
  KprobeGroup& g = *const_cast<KprobeGroup*>(frame_->group);
  llvm::GlobalVariable*& table = which == GroupText::Point           ? g.points
                                 : which == GroupText::Function      ? g.functions
                                 : which == GroupText::PointFunction ? g.point_functions
                                                                     : g.names;
  auto* slot_type = llvm::ArrayType::get(b_.getInt8Ty(), slot_);
  auto* type = llvm::ArrayType::get(slot_type, g.members.size());
  if (!table) {
    std::vector<llvm::Constant*> rows;
    for (const sema::Probe* p : g.members)
      rows.push_back(PaddedString(which == GroupText::Point           ? p->spec.point
                                  : which == GroupText::Function      ? FunctionOf(p->spec, true)
                                  : which == GroupText::PointFunction ? FunctionOf(p->spec, false)
                                  : p->listed.empty()                 ? p->spec.point
                                                                      : p->listed));
    const char* name = which == GroupText::Point           ? "kprobe_points"
                       : which == GroupText::Function      ? "kprobe_functions"
                       : which == GroupText::PointFunction ? "kprobe_point_functions"
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
