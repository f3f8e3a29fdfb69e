// Embedded C through Clang in process (codegen/embedded_c.h): a translation unit becomes
// a BPF module in the caller's context, Clang's errors land on the script text they point
// into; and through the driver, tapsets' C needs no -g unless it is marked `/* guru */`.
#include "codegen/embedded_c.h"
#include "codegen/kernel_loads.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Passes/PassBuilder.h>

#include "../driver/run_btap.h"

namespace btap::codegen {
namespace {

// -D as a macro: stap's NAME[=VALUE], btap's function-like NAME(ARGS)[=VALUE], and the
// refusals of what would not be one macro line.
TEST(EmbeddedC, DefinesBecomeMacroLines) {
  std::string name, directive, error;
  auto define = [&](std::string_view option) {
    name.clear();
    directive.clear();
    error.clear();
    return CDefine(option, &name, &directive, &error);
  };
  ASSERT_TRUE(define("STP_NO_OVERLOAD")) << error;
  EXPECT_EQ(directive, "#define STP_NO_OVERLOAD 1");
  ASSERT_TRUE(define("MAXACTION=-5")) << error;
  EXPECT_EQ(name, "MAXACTION");
  EXPECT_EQ(directive, "#define MAXACTION -5");
  ASSERT_TRUE(define("SUM( a , b )=((a) + (b))")) << error;
  EXPECT_EQ(name, "SUM");
  EXPECT_EQ(directive, "#define SUM(a, b) ((a) + (b))");
  ASSERT_TRUE(define("LOG(fmt, ...)=f(fmt, __VA_ARGS__)")) << error;
  EXPECT_EQ(directive, "#define LOG(fmt, ...) f(fmt, __VA_ARGS__)");
  ASSERT_TRUE(define("NONE()")) << error;
  EXPECT_EQ(directive, "#define NONE() 1");
  ASSERT_TRUE(define("X=f(1)")) << error;  // parentheses in the value only
  EXPECT_EQ(directive, "#define X f(1)");
  ASSERT_TRUE(define("URL=\"http://x\" /* closed */")) << error;  // comments that end
  EXPECT_EQ(directive, "#define URL \"http://x\" /* closed */");
  ASSERT_TRUE(define("CR=1\r+1\n")) << error;  // line ends become spaces
  EXPECT_EQ(directive, "#define CR 1 +1");
  for (std::string_view bad :
       {"", "2X=1", "X Y=1", "X-Y=1", "F(x=1", "F(x)y=1", "F(a,)=1", "F(..., b)=1", "F(a b)=1",
        "F(x,x)=x", "A=1\\", "A=1 /*", "A=1 \\ \n", "A=/* x */ 1 /* y"}) {
    EXPECT_FALSE(define(bad)) << bad;
    EXPECT_NE(error.find("-D `" + std::string(bad) + "`"), std::string::npos) << error;
  }
}

// The C of `script`, "x %{ C %}", compiled in `context` after `generated` text.
std::unique_ptr<llvm::Module> CompileBlock(const std::string& script, llvm::LLVMContext& context,
                                           DiagnosticSink& diags, std::string_view generated = "") {
  SourceManager sm;
  FileId file = sm.AddFile("t.stp", script);
  CSource source;
  source.Add(generated);
  std::string_view code = sm.file(file).text().substr(4, script.size() - 6);
  source.AddScript(code, {file, 4, static_cast<uint32_t>(4 + code.size())}, sm);
  return CompileC(source, context, sm, diags, {file, 0, 1});
}

TEST(EmbeddedC, CompilesToABpfModuleInTheCallersContext) {
  llvm::LLVMContext context;
  DiagnosticSink diags;
  std::unique_ptr<llvm::Module> module = CompileBlock(
      "x %{ long twice(long v) { return 2 * v; } %}", context, diags, "typedef long i64;\n");
  ASSERT_TRUE(module);
  EXPECT_TRUE(diags.diagnostics().empty());
  EXPECT_EQ(&module->getContext(), &context);
  EXPECT_EQ(module->getTargetTriple(), "bpfel");
  llvm::Function* twice = module->getFunction("twice");
  ASSERT_TRUE(twice && !twice->isDeclaration());
  EXPECT_TRUE(twice->getSubprogram()) << "debug info, for BTF line info";
}

// Loads through an address made from a number become bpf_probe_read_kernel calls, and so
// do loads through what they read and through locals and arguments that hold such
// addresses; loads of the program's own memory stay loads.
TEST(EmbeddedC, LoadsThroughMadeAddressesReadKernelMemory) {
  std::string script =
      "x %{ struct node { struct node *next; long value; };\n"
      "long second(struct node *n) { return n->next->value; }\n"
      "long f(long address, long *mine) {\n"
      "  struct node *n = (struct node *)address;\n"
      "  struct node *kept[1];\n"
      "  kept[0] = n;\n"
      "  char copy[8];\n"
      "  __builtin_memcpy(copy, n, 8);\n"
      "  return second(kept[0]) + *mine + copy[0];\n"
      "} %}";
  llvm::LLVMContext context;
  DiagnosticSink diags;
  std::unique_ptr<llvm::Module> module = CompileBlock(script, context, diags);
  ASSERT_TRUE(module);
  // n->next, ->value (in `second`, through its argument) and the memcpy.
  EXPECT_EQ(ReadKernelAddressesByHelper(*module).rewritten, 3);
  int helper_reads = 0, copies = 0;
  bool mine_loaded = false;
  for (llvm::Function& fn : *module)
    for (llvm::BasicBlock& block : fn)
      for (llvm::Instruction& i : block) {
        if (auto* call = llvm::dyn_cast<llvm::CallInst>(&i)) {
          auto* callee = llvm::dyn_cast<llvm::ConstantExpr>(call->getCalledOperand());
          if (callee && callee->getOpcode() == llvm::Instruction::IntToPtr) ++helper_reads;
          if (llvm::isa<llvm::MemTransferInst>(call)) ++copies;
        }
        // `*mine` is a load of an i64 through the argument's pointer, loaded from its slot.
        if (auto* load = llvm::dyn_cast<llvm::LoadInst>(&i);
            load && fn.getName() == "f" && load->getType()->isIntegerTy(64) &&
            llvm::isa<llvm::LoadInst>(load->getPointerOperand()))
          mine_loaded = true;
      }
  EXPECT_EQ(helper_reads, 3);
  EXPECT_EQ(copies, 0);
  EXPECT_TRUE(mine_loaded);
}

// The prelude's strcmp/strncmp in a function body (with a compare area) are straight code:
// the verifier kept a branch per byte pending, and past 8,192 refused the program. What is
// left: the loop over the words (its one back-edge), and the bound on the size; no compare
// of bytes, no select (BPF has no select: each would be a branch). A helper outside a
// function's body (the file's null area) keeps its byte loop.
TEST(EmbeddedC, PreludeStringComparesHaveNoBranchPerByte) {
  std::string script =
      "x %{ int in_body(char *area, const char *a, const char *b, unsigned long n) {\n"
      "  char *const __btap_compare_area = area;\n"
      "  return strncmp(a, b, n) + strcmp(a, b);\n"
      "}\n"
      "int in_helper(const char *a, const char *b) { return strcmp(a, b); } %}";
  llvm::LLVMContext context;
  DiagnosticSink diags;
  std::unique_ptr<llvm::Module> module = CompileBlock(
      script, context, diags,
      std::string("#define MAXSTRINGLEN 128\n#define __BTAP_SLOT 128\n") + kEmbeddedPrelude);
  ASSERT_TRUE(module) << (diags.diagnostics().empty() ? "" : diags.diagnostics()[0].message);
  // Clang leaves optimising to the script's pipeline; -O2 here, as there.
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager sccs;
  llvm::ModuleAnalysisManager modules;
  llvm::PassBuilder builder;
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(sccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, sccs, modules);
  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(*module, modules);
  auto branches = [&](const char* name) {
    int n = 0;
    llvm::Function* fn = module->getFunction(name);
    EXPECT_TRUE(fn && !fn->isDeclaration()) << name;
    if (!fn) return -1;
    for (llvm::BasicBlock& block : *fn)
      for (llvm::Instruction& i : block) {
        auto* br = llvm::dyn_cast<llvm::BranchInst>(&i);
        if ((br && br->isConditional()) || llvm::isa<llvm::SelectInst>(i) ||
            llvm::isa<llvm::MinMaxIntrinsic>(i))
          ++n;
      }
    return n;
  };
  // Two compares: each its word loop's back-edge; strncmp's unknown size its bound.
  EXPECT_LE(branches("in_body"), 3);
  // The byte loop: more than one branch for each byte's exit.
  EXPECT_GE(branches("in_helper"), 2);
}

TEST(EmbeddedC, ClangErrorsAreLocatedInTheScript) {
  SourceManager sm;
  std::string script = "function f() %{\n  return nope;\n%}\n";
  FileId file = sm.AddFile("t.stp", script);
  size_t begin = script.find("%{") + 2, end = script.find("%}");
  CSource source;
  source.Add("int generated;\n");
  source.AddScript(std::string_view(sm.file(file).text()).substr(begin, end - begin),
                   {file, static_cast<uint32_t>(begin), static_cast<uint32_t>(end)}, sm,
                   "void f(void) { ", "}");
  llvm::LLVMContext context;
  DiagnosticSink diags;
  EXPECT_FALSE(CompileC(source, context, sm, diags, {file, 0, 1}));
  ASSERT_FALSE(diags.diagnostics().empty());
  const Diagnostic& d = diags.diagnostics()[0];
  EXPECT_EQ(d.severity, Severity::Error);
  EXPECT_EQ(d.message, "in embedded C: use of undeclared identifier `nope`");
  EXPECT_EQ(d.range.begin, script.find("nope"));
}

TEST(EmbeddedC, GeneratedTextIsNotTheScripts) {
  CSource source;
  source.Add("int a;\n");
  EXPECT_FALSE(source.Origin(2).valid());
}

// A tapset folder with C functions, one marked `/* guru */`.
class EmbeddedCTapsets : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/btap-cembed-XXXXXX";
    ASSERT_TRUE(mkdtemp(pattern));
    root_ = pattern;
    std::ofstream(root_ / "c.stp") << "function safe:long () %{ STAP_RETVALUE = 8; %}\n"
                                      "function danger:long () %{ /* guru */ STAP_RETVALUE = 7; "
                                      "%}\n"
                                      "function wrapped:long () { return danger() }\n";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  driver::Ran Compile(const std::string& script, bool guru) {
    std::vector<std::string> argv = {"--disable-cache",         "-p4", "-o",
                                     (root_ / "x.bo").string(), "-I",  root_.string()};
    if (guru) argv.push_back("-g");
    argv.insert(argv.end(), {"-e", script});
    return driver::RunBtap(argv);
  }
  std::filesystem::path root_;
};

TEST_F(EmbeddedCTapsets, TapsetCNeedsNoGuruMode) {
  driver::Ran r = Compile("probe begin { println(safe()) }", false);
  EXPECT_EQ(r.status, 0) << r.err;
  r = Compile("probe begin { println(wrapped()) }", false);
  EXPECT_EQ(r.status, 0) << "a tapset may call its own guru C: " << r.err;
}

TEST_F(EmbeddedCTapsets, GuruMarkedCNeedsGuruModeFromTheScript) {
  driver::Ran r = Compile("probe begin { println(danger()) }", false);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("1:23: error: a call to `danger` (its C is marked `/* guru */`) needs "
                       "guru mode (`-g`)"),
            std::string::npos)
      << r.err;
  r = Compile("probe begin { println(danger()) }", true);
  EXPECT_EQ(r.status, 0) << r.err;
}

// The C's debug info joins the script's: the object stays the same byte for byte (a line
// table mixing files with and without embedded source once made it vary). The point has no
// CO-RE access (a syscalls:* point's compat check is one): LLVM 16's CO-RE pass cannot emit
// the same access twice in one process, and this test compiles in-process twice.
TEST_F(EmbeddedCTapsets, ObjectsWithCAreDeterministic) {
  std::string script =
      "function greet:string (who:string) %{\n"
      "  strlcpy(STAP_RETVALUE, \"hello, \", MAXSTRINGLEN);\n"
      "  strlcat(STAP_RETVALUE, STAP_ARG_who, MAXSTRINGLEN);\n"
      "%}\n"
      "probe kernel.trace(\"sched:sched_process_exit\") { println(greet(execname()), safe()) }";
  driver::Ran r = Compile(script, true);
  ASSERT_EQ(r.status, 0) << r.err;
  std::string first = driver::ReadAll(root_ / "x.bo");
  r = Compile(script, true);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(first.empty());
  EXPECT_TRUE(first == driver::ReadAll(root_ / "x.bo"));
}

}  // namespace
}  // namespace btap::codegen
