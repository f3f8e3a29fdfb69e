// Passes 3 and 4, probe placement: which probes run in the runtime's interpreter (user
// side) and which in the kernel, by what their bodies and the functions they call reach,
// and whether a kernel probe holds a loop or foreach made into a callback.
#include "codegen/lowering.h"

#include <functional>
#include <set>

namespace btap::codegen::lowering {

// begin/end/error probes that read nothing of the kernel, and timers that touch nothing
// of the interrupted task, run in the runtime's interpreter.
bool Lowering::UserSide(const sema::Probe& p) {
  switch (p.spec.family) {
    case sema::Family::Begin:
    case sema::Family::End:
    case sema::Family::Error:
      // One that reads kernel memory runs in the kernel, in the runtime's own task (a
      // syscall program the runtime runs), as stap's runs in staprun's.
      return !NeedsKernel(p.body) && !NeedsKernel(p.condition);
    case sema::Family::Timer:
      return !UsesTask(p.body) && !UsesTask(p.condition);
    case sema::Family::Procfs:  // the runtime serves the file; LowerProbe checks the body
      return true;
    default:
      return false;
  }
}

// Whether `direct` holds for a node of `root` or of a script function it calls, directly
// or not. Each body is walked once (recursive functions' cycles included).
bool Lowering::Reaches(ast::Node* root, const std::function<bool(ast::Node*)>& direct) {
  std::vector<ast::Node*> work = {root};
  std::set<const ast::Node*> seen = {root};
  while (!work.empty()) {
    ast::Node* body = work.back();
    work.pop_back();
    bool found = false;
    ast::WalkTree(body, [&](ast::Node* n) {
      if (found) return;
      if (direct(n)) {
        found = true;
        return;
      }
      auto* c = ast::As<ast::Call>(n);
      const sema::Function* f = c ? c->callee : nullptr;
      if (f && f->intrinsic < 0 && f->decl && f->decl->body && seen.insert(f->decl->body).second)
        work.push_back(f->decl->body);
    });
    if (found) return true;
  }
  return false;
}

bool Lowering::UsesTask(ast::Node* root) {
  return Reaches(root, [&](ast::Node* n) {
    // (@var reads kernel memory, which only a kernel-side program can.)
    if (ReadsThroughContext(n)) return true;
    auto* c = ast::As<ast::Call>(n);
    if (c && ReadsMemory(c)) return true;  // printf's %m/%M read memory
    return c && c->callee && c->callee->intrinsic >= 0 &&
           sema::Intrinsics()[c->callee->intrinsic].task;
  });
}

bool Lowering::NeedsKernel(ast::Node* root) {
  return Reaches(root, [&](ast::Node* n) {
    if (auto* d = ast::As<ast::Deref>(n)) return !d->user;
    // @cast reads memory unless only its address is taken (&@cast(0, "T")->m).
    if (auto* c = ast::As<ast::Cast>(n))
      return !c->lowered && !c->addressof && (c->module.empty() || c->module.starts_with("kernel"));
    if (ast::Is<ast::AtVar>(n) || ast::Is<ast::Autocast>(n)) return true;
    auto* c = ast::As<ast::Call>(n);
    if (c && ReadsMemory(c)) return true;  // printf's %m/%M
    if (!c || !c->callee) return false;
    const sema::Function* f = c->callee;
    if (f->intrinsic >= 0) {
      auto which = static_cast<Intrinsic>(f->intrinsic);
      return which == Intrinsic::task_current || which == Intrinsic::send_signal ||
             which == Intrinsic::find_task || which == Intrinsic::env_var ||
             which == Intrinsic::buffer_quoted || which == Intrinsic::buffer_hex ||
             which == Intrinsic::kernel_read || which == Intrinsic::kernel_string ||
             which == Intrinsic::kernel_string_n || which == Intrinsic::utf_kernel;
    }
    return f->decl && !f->decl->embedded.empty() && UsesCurrent(f->decl->embedded);
  });
}

bool Lowering::HasKernelForeach(ast::Node* root, int depth) {
  bool found = false;
  ast::WalkTree(root, [&](ast::Node* n) {
    if (found) return;
    if (auto* f = ast::As<ast::Foreach>(n); f && ast::Is<ast::Symbol>(f->array)) found = true;
    // KernelLoop's test (a loop at any depth may be a callback: the first found makes
    // the handler keep its locals in scratch).
    if (!found && (ast::Is<ast::While>(n) || ast::Is<ast::For>(n)) && LoopAsCallback(n))
      found = true;
    auto* c = ast::As<ast::Call>(n);
    if (found || !c || !c->callee || !c->callee->decl || !c->callee->decl->body || depth >= 64)
      return;
    auto [it, fresh] =
        kernel_foreach_.try_emplace({c->callee->decl->body, contextless_handler_}, false);
    if (fresh) it->second = HasKernelForeach(c->callee->decl->body, depth + 1);
    found = it->second;
  });
  return found;
}

}  // namespace btap::codegen::lowering
