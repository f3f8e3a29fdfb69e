// The optimisation pipeline every module runs before emission (see pipeline.h): a pipeline
// fitted to small BPF programs, with the BPF target's own IR passes where O2 has them.
#include "codegen/pipeline.h"

#include <llvm/Analysis/CFG.h>
#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/PassManager.h>
#include <llvm/Passes/OptimizationLevel.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/IPO/AlwaysInliner.h>
#include <llvm/Transforms/IPO/DeadArgumentElimination.h>
#include <llvm/Transforms/IPO/GlobalDCE.h>
#include <llvm/Transforms/IPO/SCCP.h>
#include <llvm/Transforms/InstCombine/InstCombine.h>
#include <llvm/Transforms/Scalar/ADCE.h>
#include <llvm/Transforms/Scalar/CorrelatedValuePropagation.h>
#include <llvm/Transforms/Scalar/DeadStoreElimination.h>
#include <llvm/Transforms/Scalar/EarlyCSE.h>
#include <llvm/Transforms/Scalar/GVN.h>
#include <llvm/Transforms/Scalar/IndVarSimplify.h>
#include <llvm/Transforms/Scalar/JumpThreading.h>
#include <llvm/Transforms/Scalar/LoopDeletion.h>
#include <llvm/Transforms/Scalar/LoopPassManager.h>
#include <llvm/Transforms/Scalar/LoopRotation.h>
#include <llvm/Transforms/Scalar/LoopUnrollPass.h>
#include <llvm/Transforms/Scalar/SCCP.h>
#include <llvm/Transforms/Scalar/SROA.h>
#include <llvm/Transforms/Scalar/SimplifyCFG.h>

namespace btap::codegen {
namespace {

// Per function, after inlining: O2's function simplification without what these programs
// never have or never gain from (vectorisers, LICM, loop idioms, the CGSCC inliner's
// repeated simplification, the optimiser's tail), InstCombine three times instead of ~8.
llvm::FunctionPassManager FunctionPasses() {
  llvm::FunctionPassManager fpm;
  fpm.addPass(llvm::SROAPass(llvm::SROAOptions::ModifyCFG));
  fpm.addPass(llvm::EarlyCSEPass(/*UseMemorySSA=*/true));
  fpm.addPass(llvm::SimplifyCFGPass());
  fpm.addPass(llvm::InstCombinePass());
  // Bounded loops with a constant trip count (the runtime library's, foreach over a
  // small range) unrolled as O2 does: without it some programs grew by half.
  llvm::LoopPassManager loops;
  loops.addPass(llvm::LoopRotatePass());
  loops.addPass(llvm::IndVarSimplifyPass());
  loops.addPass(llvm::LoopFullUnrollPass(/*OptLevel=*/2));
  fpm.addPass(llvm::createFunctionToLoopPassAdaptor(std::move(loops)));
  fpm.addPass(llvm::SROAPass(llvm::SROAOptions::ModifyCFG));
  fpm.addPass(llvm::GVNPass());
  fpm.addPass(llvm::SCCPPass());
  fpm.addPass(llvm::InstCombinePass());
  fpm.addPass(llvm::JumpThreadingPass());
  fpm.addPass(llvm::CorrelatedValuePropagationPass());
  fpm.addPass(llvm::ADCEPass());
  fpm.addPass(llvm::DSEPass());
  // What the BPF target adds after O2's InstCombine runs (its peephole extension point,
  // which only a default pipeline reaches) is SimplifyCFG hoisting common instructions;
  // this one hoists and sinks them, as O2's last SimplifyCFG does.
  fpm.addPass(llvm::SimplifyCFGPass(
      llvm::SimplifyCFGOptions().hoistCommonInsts(true).sinkCommonInsts(true)));
  fpm.addPass(llvm::InstCombinePass());
  return fpm;
}

// For a function with a loop (after inlining): the same passes, then its loops rotated
// again, as O2's optimisation tail rotates them. Jump threading and SimplifyCFG after the
// first rotation may leave a loop in while form again: its exit tests at the top, the
// body on their fall-through side and an unconditional jump back. The verifier walks a
// bounded loop round by round, following each conditional jump's fall-through first and
// keeping the jump's target pending: in while form every round leaves its exits pending,
// and `tapset_utf_kernel`'s 255-round loop passed the 8,192 pending states the verifier
// keeps ("the sequence of 8193 jumps is too complex"). Rotated, the test is at the bottom,
// the next round is the pending side and the exit is walked first.
llvm::FunctionPassManager LoopFunctionPasses() {
  llvm::FunctionPassManager fpm = FunctionPasses();
  llvm::LoopPassManager loops;
  loops.addPass(llvm::LoopRotatePass());
  loops.addPass(llvm::LoopDeletionPass());
  fpm.addPass(llvm::createFunctionToLoopPassAdaptor(std::move(loops)));
  return fpm;
}

// Runs `plain` on a function without a loop and `loops` on one with a loop (a back edge).
class ByLoops : public llvm::PassInfoMixin<ByLoops> {
 public:
  ByLoops(llvm::FunctionPassManager plain, llvm::FunctionPassManager loops)
      : plain_(std::move(plain)), loops_(std::move(loops)) {}
  llvm::PreservedAnalyses run(llvm::Function& fn, llvm::FunctionAnalysisManager& fam) {
    llvm::SmallVector<std::pair<const llvm::BasicBlock*, const llvm::BasicBlock*>, 4> edges;
    llvm::FindFunctionBackedges(fn, edges);
    return edges.empty() ? plain_.run(fn, fam) : loops_.run(fn, fam);
  }
  static bool isRequired() { return true; }

 private:
  llvm::FunctionPassManager plain_;
  llvm::FunctionPassManager loops_;
};

}  // namespace

void Optimise(llvm::Module& module, llvm::TargetMachine& machine) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cam, mam);
  // The BPF target adds its IR passes at extension points (the CO-RE field accesses and
  // type queries at the pipeline's start, BPFAdjustOpt at early simplification) that only
  // a default pipeline invokes: the O0 one runs them and then the always-inliner. The
  // fitted passes join at early simplification, after the target's, so that inlining
  // there (with lifetime markers, which O0's inliner leaves out, so that stack slots of
  // inlined library functions can share bytes) comes after BPFAdjustOpt as in O2's.
  builder.registerPipelineEarlySimplificationEPCallback([](llvm::ModulePassManager& mpm,
                                                           llvm::OptimizationLevel) {
    mpm.addPass(llvm::AlwaysInlinerPass(/*InsertLifetime=*/true));
    mpm.addPass(llvm::GlobalDCEPass());
    // Constants through arguments and unused results (a syscall body's return
    // value, which O2 drops), as O2's module simplification has them.
    mpm.addPass(llvm::IPSCCPPass());
    mpm.addPass(llvm::DeadArgumentEliminationPass());
    mpm.addPass(
        llvm::createModuleToFunctionPassAdaptor(ByLoops(FunctionPasses(), LoopFunctionPasses())));
  });
  builder.buildO0DefaultPipeline(llvm::OptimizationLevel::O0).run(module, mam);
}

}  // namespace btap::codegen
