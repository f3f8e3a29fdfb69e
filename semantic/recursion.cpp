// Pass 2c: recursion. A cycle in the call graph of the script's and the library's
// functions marks its functions recursive. Probes that run in user space (begin, end,
// error, timers; the runtime's interpreter runs them) may reach them: codegen calls them
// as functions of their own, each call with its own frame, as deep as MAXNESTING. A
// probe of any other family runs in the kernel, whose verifier refuses recursion: a
// cycle it reaches is an error, reported once per cycle at the call that closes it, with
// the chain of calls and the probe.
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

struct Cycle {
  CallSite closing;
  std::string chain;
  std::vector<Function*> members;
  bool reported = false;
};

class CycleFinder {
 public:
  explicit CycleFinder(Elab& e) : e_(e) {}

  void Run() {
    for (Function* f : e_.program.functions)
      if (f->visited && f->decl && f->decl->body) Visit(f);
    if (cycles_.empty()) return;
    for (const Cycle& c : cycles_)
      for (Function* f : c.members) f->recursive = true;
    for (Probe* p : e_.program.probes)
      if (!UserSideFamily(p->spec.family)) CheckKernelProbe(*p);
  }

 private:
  // The families whose probes may run in user space (codegen places them; one that
  // reads kernel memory or the interrupted task still runs in the kernel, and codegen
  // refuses its recursion then).
  static bool UserSideFamily(Family f) {
    return f == Family::Begin || f == Family::End || f == Family::Error || f == Family::Timer ||
           f == Family::Procfs;
  }

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
        Record(c);
        continue;
      }
      Visit(c.callee);
    }
    on_stack_.erase(f);
    stack_.pop_back();
    done_.insert(f);
  }

  void Record(const CallSite& c) {
    Cycle cycle{c, "", {}};
    bool in_cycle = false;
    for (Function* f : stack_) {
      in_cycle |= f == c.callee;
      if (!in_cycle) continue;
      cycle.chain += std::string(f->name) + " -> ";
      cycle.members.push_back(f);
    }
    cycle.chain += std::string(c.callee->name);
    cycles_.push_back(std::move(cycle));
  }

  // The functions a kernel probe reaches: each cycle among them is an error.
  void CheckKernelProbe(const Probe& p) {
    std::set<Function*> reached;
    std::vector<Function*> work;
    auto calls_in = [&](ast::Node* root) {
      if (!root) return;
      ast::WalkTree(root, [&](ast::Node* n) {
        if (auto* c = ast::As<ast::Call>(n); c && c->callee && c->callee->decl)
          work.push_back(c->callee);
      });
    };
    calls_in(p.body);
    calls_in(p.condition);
    while (!work.empty()) {
      Function* f = work.back();
      work.pop_back();
      if (!reached.insert(f).second || !f->decl->body) continue;
      for (const CallSite& c : Calls(f)) work.push_back(c.callee);
    }
    for (Cycle& c : cycles_) {
      if (c.reported || !reached.count(c.closing.callee)) continue;
      c.reported = true;
      e_.diags.Report(Diag::RecursiveCall, c.closing.range,
                      {c.chain, p.origin.empty() ? p.spec.point : p.origin});
    }
  }

  Elab& e_;
  std::map<Function*, std::vector<CallSite>> calls_;
  std::vector<Function*> stack_;
  std::set<Function*> on_stack_, done_;
  std::vector<Cycle> cycles_;
};

}  // namespace

void CheckRecursion(Elab& e) { CycleFinder(e).Run(); }

}  // namespace btap::sema
