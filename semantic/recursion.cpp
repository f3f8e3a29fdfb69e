// Pass 2c: recursion. BPF programs cannot recurse without bound, so any cycle in the
// call graph of the script's and the library's functions is an error, reported once per
// cycle at the call that closes it, with the chain of calls.
#include <map>
#include <set>

#include "frontend/ast_walk.h"
#include "semantic/elab.h"

namespace btap::sema {
namespace {

struct CallSite {
  Function* callee;
  SourceRange range;
};

class CycleFinder {
 public:
  explicit CycleFinder(Elab& e) : e_(e) {}

  void Run() {
    for (Function* f : e_.program.functions)
      if (f->visited && f->decl && f->decl->body) Visit(f);
  }

 private:
  const std::vector<CallSite>& Calls(Function* f) {
    auto [it, fresh] = calls_.try_emplace(f);
    if (fresh)
      ast::WalkTree(f->decl->body, [&](ast::Node* n) {
        if (auto* c = ast::As<ast::Call>(n); c && c->callee && c->callee->decl)
          it->second.push_back({c->callee, c->name_range});
      });
    return it->second;
  }

  void Visit(Function* f) {
    if (done_.count(f)) return;
    stack_.push_back(f);
    on_stack_.insert(f);
    for (const CallSite& c : Calls(f)) {
      if (on_stack_.count(c.callee)) {
        Report(c);
        continue;
      }
      Visit(c.callee);
    }
    on_stack_.erase(f);
    stack_.pop_back();
    done_.insert(f);
  }

  void Report(const CallSite& c) {
    std::string chain;
    bool in_cycle = false;
    for (Function* f : stack_) {
      in_cycle |= f == c.callee;
      if (in_cycle) chain += std::string(f->name) + " -> ";
    }
    chain += std::string(c.callee->name);
    e_.diags.Report(Diag::RecursiveCall, c.range, {chain});
  }

  Elab& e_;
  std::map<Function*, std::vector<CallSite>> calls_;
  std::vector<Function*> stack_;
  std::set<Function*> on_stack_, done_;
};

}  // namespace

void CheckRecursion(Elab& e) { CycleFinder(e).Run(); }

}  // namespace btap::sema
