// Passes 3 and 4 from the elaborated program to a sealed object (lower.h's Compile):
// lowering, the runtime library, the metadata, emission, and the BPF backend's errors
// reported at the probe they are in.
#include "codegen/lowering.h"
#include "codegen/seal.h"
#include "codegen/stack_chain.h"

#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/IR/InstrTypes.h>

#include <algorithm>
#include <set>

namespace btap::codegen {

namespace {

// The BPF backend's errors (a program whose stack passes 512 bytes, say), kept with the
// function they are in, instead of LLVM's own printing.
struct BackendErrors : llvm::DiagnosticHandler {
  struct Error {
    const llvm::Function* function = nullptr;
    std::string text;
  };
  std::vector<Error>* out;
  explicit BackendErrors(std::vector<Error>* errors) : out(errors) {}
  bool handleDiagnostics(const llvm::DiagnosticInfo& info) override {
    if (info.getSeverity() != llvm::DS_Error) return false;  // LLVM's own handling
    Error e;
    if (auto* u = llvm::dyn_cast<llvm::DiagnosticInfoUnsupported>(&info)) {
      e.function = &u->getFunction();
      e.text = u->getMessage().str();
    } else {
      llvm::raw_string_ostream text(e.text);
      llvm::DiagnosticPrinterRawOStream printer(text);
      info.print(printer);
    }
    out->push_back(std::move(e));
    return true;
  }
};

// Where the probe whose program is `fn` begins in the script (its subprogram's line).
SourceRange ProbeLine(const llvm::Function* fn, const SourceManager& sm) {
  const llvm::DISubprogram* sp = fn ? fn->getSubprogram() : nullptr;
  if (!sp || !sp->getFile()) return {};
  for (FileId id = 0; id < sm.size(); ++id) {
    const SourceFile& f = sm.file(id);
    if (f.name() != sp->getFile()->getFilename()) continue;
    std::string_view text = f.text();
    uint32_t line = 1, at = 0;
    while (line < sp->getLine() && at < text.size())
      if (text[at++] == '\n') ++line;
    uint32_t end = at;
    while (end < text.size() && text[end] != '\n') ++end;
    return {id, at, end};
  }
  return {};
}

// Whether only probes that btap's interpreter runs (user-side: begin, end, error,
// task-free timers) reach `fn`: its stack may pass the kernel's 512 bytes there.
bool OnlyUserSide(const llvm::Function* fn, const meta::Meta& meta) {
  std::set<const llvm::Function*> seen;
  std::vector<const llvm::Function*> work = {fn};
  bool reached = false;
  while (!work.empty()) {
    const llvm::Function* f = work.back();
    work.pop_back();
    if (!seen.insert(f).second) continue;
    std::string name = f->getName().str();
    auto probe = std::find_if(meta.probes.begin(), meta.probes.end(), [&](const meta::Probe& p) {
      return p.program == name || p.fentry_program == name;
    });
    if (probe != meta.probes.end()) {
      if (!probe->user_side) return false;
      reached = true;
      continue;
    }
    if (f->user_empty()) return false;
    for (const llvm::User* u : f->users()) {
      auto* call = llvm::dyn_cast<llvm::CallBase>(u);
      if (!call) return false;  // kept somewhere else: who calls it is not known
      work.push_back(call->getFunction());
    }
  }
  return reached;
}

// The verifier adds the stacks along a chain of calls (a program, its callbacks, the
// library's functions they call) and refuses one past 512 bytes at load, without saying
// where: found here, in the object, by the target kernel's own rule, and reported at the
// probe. False when some chain does not fit.
bool CheckStackChains(const llvm::Module& module, const SourceManager& sm,
                      const CompileOptions& options, const Compiled& out, DiagnosticSink& diags) {
  StackRule rule = StackRuleFor(options.kernel_release);
  std::vector<StackChain> chains = ChainsPastLimit(out.object, "btap_user", rule);
  for (const StackChain& c : chains) {
    SourceRange at;
    std::string frames;
    for (size_t i = 0; i < c.frames.size(); ++i) {
      frames += (i ? " -> " : "") + c.frames[i] + " (" + std::to_string(c.depths[i]) + ")";
      // A syscall probe's body is a function its dispatcher calls: located by that.
      if (!at.valid()) at = ProbeLine(module.getFunction(c.frames[i]), sm);
    }
    std::string kernel = rule.kernel.empty() ? "the kernel" : "Linux " + rule.kernel;
    diags.Report(
        Diag::CodegenFailed, at,
        {"this probe needs " + std::to_string(c.total) + " bytes of stack along its calls " +
         frames + "; " + kernel +
         " allows 512 for a whole chain of calls (each frame rounded up to " +
         std::to_string(rule.granule) + " bytes): keep fewer locals in the probe, or split it"});
  }
  return chains.empty();
}

}  // namespace

bool Compile(const sema::Program& program, const SourceManager& sm, const CompileOptions& options,
             DiagnosticSink& diags, Compiled* out) {
  llvm::LLVMContext context;
  std::vector<BackendErrors::Error> backend_errors;
  context.setDiagnosticHandler(std::make_unique<BackendErrors>(&backend_errors));
  auto module = std::make_unique<llvm::Module>(options.script_name, context);
  std::string error;
  if (!ConfigureModule(*module, &error)) {
    diags.Report(Diag::CodegenFailed, SourceRange{}, {error});
    return false;
  }
  lowering::Lowering lowering(program, sm, options, diags, *module);
  if (!lowering.Run(&out->meta)) return false;
  if (!LinkRuntimeLibrary(*module, &error)) {
    diags.Report(Diag::CodegenFailed, SourceRange{}, {error});
    return false;
  }
  AddMetaSection(*module, meta::Encode(out->meta));
  bool emitted = EmitObject(*module, out->object, &error,
                            options.want_assembly ? &out->assembly : nullptr, &out->meta.probes);
  // The interpreter's frames are larger than the kernel's: LLVM's code for a user-side
  // probe past 512 bytes is what it would be without the check.
  std::erase_if(backend_errors, [&](const BackendErrors::Error& e) {
    return e.text.find("stack limit") != std::string::npos && e.function &&
           OnlyUserSide(e.function, out->meta);
  });
  for (const BackendErrors::Error& e : backend_errors) {
    std::string name = e.function ? e.function->getName().str() : "", point;
    for (const meta::Probe& p : out->meta.probes)
      if (!name.empty() && (p.program == name || p.fentry_program == name)) point = p.point;
    std::string what = point.empty() ? "the program" : "the probe `" + point + "`";
    if (e.text.find("stack limit") != std::string::npos)
      diags.Report(Diag::CodegenFailed, ProbeLine(e.function, sm),
                   {what + " needs more than the 512 bytes of stack a BPF program has (its " +
                    "locals, array keys, and what the functions it calls keep); keep large " +
                    "values in global arrays, or split the probe"});
    else
      diags.Report(Diag::CodegenFailed, ProbeLine(e.function, sm),
                   {"the BPF backend refused " + what + ": " + e.text});
  }
  if (!backend_errors.empty()) return false;
  if (emitted && !CheckStackChains(*module, sm, options, *out, diags)) return false;
  if (!emitted || !SealObject(out->object, out->meta, &error)) {
    diags.Report(Diag::CodegenFailed, SourceRange{}, {error});
    return false;
  }
  if (options.want_ir) {
    llvm::raw_string_ostream ir(out->ir);
    module->print(ir, nullptr);
  }
  return true;
}

}  // namespace btap::codegen
