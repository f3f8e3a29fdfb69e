// The optimisation pipeline (pass 4's first half): a module, verified, is optimised in
// place for the BPF target before emission. Deterministic for the same module.
#pragma once

namespace llvm {
class Module;
class TargetMachine;
}  // namespace llvm

namespace btap::codegen {

// Runs the pipeline fitted to btap's programs (codegen/README.md says which passes and
// how it was checked against O2) on `module`, for `machine`.
void Optimise(llvm::Module& module, llvm::TargetMachine& machine);

}  // namespace btap::codegen
