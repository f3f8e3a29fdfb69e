// The lowering of an elaborated program to LLVM IR (lower.h's Compile), shared by its
// files: lower.cpp (module, globals, programs), lower_stmt.cpp (records, errors,
// variables, statements), lower_expr.cpp (expressions, statistics), lower_call.cpp (calls,
// printing, intrinsics); what they share beside the class is in lowering_common.h. Internal
// to codegen.
#pragma once

#include "codegen/core_access.h"
#include "codegen/embedded_c.h"
#include "codegen/lower.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DIBuilder.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Transforms/Utils/ModuleUtils.h>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include "codegen/bpflib.h"
#include "codegen/emit.h"
#include "codegen/lowering_common.h"
#include "codegen/maps.h"
#include "common/output_record.h"
#include "common/printf_format.h"
#include "common/stats.h"
#include "common/user_helpers.h"
#include "frontend/ast_walk.h"
#include "semantic/intrinsics.h"
#include "semantic/program.h"

namespace btap::codegen::lowering {

using ast::Kind;
using ast::Tok;
using ast::Type;
using sema::Intrinsic;

class Lowering {
 public:
  Lowering(const sema::Program& program, const SourceManager& sm, const CompileOptions& options,
           DiagnosticSink& diags, llvm::Module& module)
      : program_(program),
        sm_(sm),
        options_(options),
        diags_(diags),
        context_(module.getContext()),
        module_(module),
        maps_(module),
        b_(context_) {
    limit_ = std::max<uint32_t>(options.max_string_len, 16);
    slot_ = NextPow2(limit_);
  }

  bool Run(meta::Meta* meta);

  // Each while/for that KernelLoop made a bpf_loop callback: the callback's symbol, its
  // handler's, and the loop (compile.cpp lowers such a loop plain when its chain of
  // frames does not fit; CompileOptions::plain_loops).
  struct LoopCallback {
    std::string callback, handler;
    SourceRange loop;
  };
  const std::vector<LoopCallback>& loop_callbacks() const { return loop_callbacks_; }

 private:
  void Unsupported(SourceRange at, std::string what, std::string where = "");
  // False, after an error at the script's call, unless -g: writes to the probed task's
  // memory and signals are guru mode's, as in stap.
  bool Guru(ast::Call* c, const std::string& what);
  const sema::Function* OutermostCall() const;
  SourceRange target_range_;  // the kernel `$var` whose DWARF value is being computed

  std::string Text(SourceRange r) const;

  // stap's " near <token> at file:line:col" for run-time errors.
  std::string Near(std::string_view token_kind, std::string_view token, SourceRange at) const;
  // Near("identifier", ...) of the call `name` at `at`, or inside an inlined function
  // (a tapset's) of the probe's own call that led there.
  std::string NearCall(std::string_view name, SourceRange at) const;
  std::string Location(SourceRange at) const;

  llvm::GlobalVariable* RuntimeVar(const char* name, uint32_t bytes = 8);

  void DefineRuntimeData();

  void DefineGlobal(const sema::Variable* v);

  llvm::Constant* InitialValue(const sema::Variable* v, llvm::Type* type);
  // A statistics variable keeps the one histogram and the slots its readers ask for.
  void ScanStatistics();
  static stats::Op AggregateOf(ast::AtWord word);  // @count for none (a sort without @op)
  // String keys that only ever hold short strings get narrow key fields (see lower.cpp).
  void ScanKeyWidths();
  static uint32_t BoundedWidth(const ast::Expr* e);
  // Locals that hold one literal wherever they are read (constant_locals.cpp).
  void ScanConstantLocals();
  const ast::StringLit* KnownLiteral(const ast::Expr* e) const;
  bool StoreLiteralKey(Value dst, uint32_t width, const ast::Expr* index);

  static const sema::Variable* AggregateVar(ast::Expr* operand);

  std::string UniqueName(std::string name);

  llvm::Constant* PaddedString(std::string_view s);

  // A string literal: read-only data, padded to a whole slot so that every string
  // pointer has a slot's worth of readable bytes behind it.
  Value Literal(std::string_view s);

  uint32_t FormatId(const std::string& format);

  static std::string EscapePercent(std::string_view s);

  // The largest record any print statement can write: the record area is twice the next
  // power of two above it, so masked offsets keep every write inside.
  uint32_t MaxRecordSize();
  uint32_t PrintRecordBytes(ast::Call* c, bool kernel);

  void FinishScratch();

  static meta::ProbeKind KindOf(sema::Family f);

  // begin/end/error, and timers that touch nothing of the interrupted task, run in the
  // runtime's interpreter.
  bool UserSide(const sema::Probe& p);

  bool UsesTask(ast::Node* root);
  // Whether a begin, end or error probe reads what only the kernel can give: kernel
  // memory, the current task's pointer, or C that names `current`.
  bool NeedsKernel(ast::Node* root);
  bool Reaches(ast::Node* root, const std::function<bool(ast::Node*)>& direct);

  void LowerProbe(const sema::Probe& p);

  void ProcessFilter(const sema::Probe& p);
  void SyscallProcessFilter(const sema::Probe& p);
  void ProcessIs(Value pid, const std::string& what, bool is_pid, bool ran = false);
  // Whether the current task runs (RunsFile) or, for .end after exit_mm, ran (RanFile)
  // the file PATH (lower_process_exe.cpp).
  Value RunsFile(const std::string& path);
  Value RanFile(Value pid, const std::string& path);
  bool CurrentFile(Value* mm, Value* ino, Value* dev);
  Value IsFile(Value ino, Value dev, const std::string& path);
  llvm::GlobalVariable* ExeVariable(const std::string& path);
  uint64_t ExeIndex(const std::string& path);
  void EmitExeTrackers();

  struct Frame;
  llvm::Instruction* StartFrame(Frame& frame, llvm::Function* fn, const sema::Probe* p,
                                bool user_side);
  // `fn`'s entry block (the builder left there, past the allocas' place) and its exit
  // block, which returns `exit_value`.
  void BeginFunctionFrame(Frame& frame, llvm::Function* fn, Value exit_value);
  void FinishFrame(Frame& frame, llvm::Instruction* has_scratch);

  // @entry(expr) in return probes (see EntryLayout).
  struct EntryValues {
    llvm::GlobalVariable* map = nullptr;
    std::map<const ast::Entry*, uint32_t> offsets;  // into the saved values
    std::vector<const ast::Entry*> order;           // as they appear
    uint32_t size = 0;  // the values, then the saving frame's stack pointer
  };
  EntryValues EntryLayout(const sema::Probe& p);
  Value EntryKey(const sema::Probe& p, Value tid, Value depth);
  bool ReturnsWithEntry(const sema::Probe& p) const;
  EntryValues SaveEntryValues(const sema::Probe& p);
  Value EntryThread();
  std::optional<meta::Probe> pending_entry_probe_;  // a kernel return probe's entry kprobe
  llvm::GlobalVariable* entry_map_ = nullptr;
  uint32_t entry_size_ = 0;
  void LoadEntryValues(const EntryValues& entries);
  // DW_OP_entry_value away from a kernel function's entry (lower_entry_regs.cpp).
  void SaveEntryRegisters(const sema::Probe& p);
  Value EntryRegister(ast::Register* r);
  Value EntryRegsKey(Value cfa, uint64_t function);
  llvm::GlobalVariable* entry_regs_map_ = nullptr;
  std::set<std::string> entry_reg_targets_;  // the function entries that save them
  Value EntryValue(ast::Entry* e);

  // Wildcard kernel-function and user probes sharing one program (lower_kprobe_group.cpp).
  struct KprobeGroup {
    std::vector<const sema::Probe*> members;    // in script order; the first makes the program
    llvm::GlobalVariable* points = nullptr;     // pp() of each, by cookie
    llvm::GlobalVariable* functions = nullptr;  // probefunc()
    llvm::GlobalVariable* point_functions = nullptr;  // ppfunc()
    llvm::GlobalVariable* names = nullptr;            // pn() of each
  };
  enum class GroupText { Point, Function, PointFunction, Name };
  void GroupSharedProbes();
  static std::string FunctionOf(const sema::ProbeSpec& spec, bool probefunc);
  // The handler `fn` of kernel-function probe `p` as an fentry/fexit program as well,
  // named in `mp` (lower_fentry.cpp).
  void AddFentryVariant(llvm::Function* fn, const sema::Probe& p, meta::Probe& mp);
  std::string GroupTargets(const KprobeGroup& group);
  Value GroupString(GroupText which);
  std::deque<KprobeGroup> kprobe_groups_;
  std::map<const sema::Probe*, const KprobeGroup*> kprobe_group_of_;

  // Syscall probes: each body is a function; one program per direction dispatches on the
  // number and calls the bodies that want it, in script order.
  struct SyscallBody {
    llvm::Function* fn;
    int64_t nr;               // -1: every call
    bool event = false;       // a kernel.trace("syscalls:...") point's
    std::string point;        // the point as the script wrote it (an event's)
    std::vector<Value> args;  // after the context: the constants a merged body takes
  };
  void NoteNamedSyscall(const sema::Probe& p);
  void EmitSyscallDispatch(bool is_return, const std::vector<SyscallBody>& bodies);
  void EmitSyscallProgram(bool is_return, const std::vector<SyscallBody>& bodies, int part);
  // A program that switches on the number to its bodies, named `name`; attached when its
  // caller records it in the metadata, else reached by tail call.
  llvm::Function* EmitSyscallSwitch(bool is_return, const std::vector<SyscallBody>& bodies,
                                    const std::string& name);
  meta::Probe SyscallProgramMeta(bool is_return, const std::vector<SyscallBody>& bodies, int part);
  Value SyscallNumber(Value ctx, bool is_return);
  // Heavy syscalls:* bodies in a run of programs of their own: one dispatcher reaches the
  // ones for the call's number by tail call, in order (lower_syscall_tail.cpp).
  static constexpr size_t kMaxTailChain = 32;  // programs per number: the kernel's 33 tail calls
  void EmitSyscallTailDispatch(bool is_return, const std::vector<std::vector<SyscallBody>>& run,
                               int part);
  // Programs of many bodies each (syscall.*), no number in two of them: one dispatcher
  // reaches the one for the call's number by tail call (lower_syscall_tail.cpp).
  void EmitSyscallPartDispatch(bool is_return, const std::vector<std::vector<SyscallBody>>& run,
                               int part);
  llvm::Function* SyscallTailProgram(bool is_return, const std::string& name,
                                     const llvm::DISubprogram* at);
  // A run's attached program and its program array: slots up to the largest number, then
  // `chain_slots` more. The dispatcher tail-calls the call's number's slot.
  struct SyscallRun {
    meta::Probe mp;  // the dispatcher's
    std::string map_name;
    llvm::GlobalVariable* map;
    int64_t span;  // the largest number and one
  };
  SyscallRun EmitSyscallDispatcher(bool is_return, const std::vector<std::vector<SyscallBody>>& run,
                                   int part, uint32_t chain_slots, const llvm::DISubprogram* at);
  static uint64_t VerifierWeight(const llvm::Function& fn);
  Value SyscallVar(const sema::TargetArg& arg);
  // Whether the current task's system call is a compat (ia32) one, which syscalls:* events
  // do not see (lower_syscall.cpp).
  Value CompatSyscall();
  // A syscall body's compat (ia32) calls are dispatched by i386's number past this key (native
  // ones below it): so a compat call reaches only bodies mapped for it (DispatchNumber).
  static constexpr int64_t kCompatKey = 1024;
  Value DispatchNumber(Value ctx, bool is_return, const std::vector<SyscallBody>& bodies,
                       llvm::BasicBlock* none = nullptr);
  bool HasCompatStatus() const;  // compat calls can be told apart (CompatSyscall not null)
  // The i386 numbers (plus kCompatKey) under which a syscall tapset body runs for compat
  // calls too; empty when it is for native calls only.
  std::vector<int64_t> CompatBodyNumbers(const sema::Probe& p) const;
  Value CompatArgs();  // in a body mapped for compat calls: whether this call is one (once)
  // process.begin's calls: the machine's fork-family numbers and i386's, those also past
  // kCompatKey (for a dispatcher that tells compat calls apart); the body keeps a call
  // when its number is one of its own kind's (native or compat).
  std::vector<int64_t> ForkSyscalls() const;
  void ForkCallFilter();

  // -c/-x and process probes: the target's process tree, a bit per process id in a map
  // set by a program on sched_process_fork (lower_target_tree.cpp).
  llvm::GlobalVariable* TargetTree();  // the tree's map, made on first use (or null)
  void EmitTargetTreeTracker();
  Value TreeWord(Value pid, Value* mask);
  // No target, the target, or one of its descendants (`target`: __btap_target, if loaded).
  Value InTargetTree(Value pid, Value target = nullptr);
  Value ParentPid();  // the current task's parent's pid (BTF offsets)
  llvm::GlobalVariable* tree_ = nullptr;
  bool tree_untracked_ = false;                 // the tree cannot be kept here (reported once)
  std::vector<SyscallBody> syscall_bodies_[2];  // enter, return
  mutable std::optional<bool> compat_status_;   // HasCompatStatus, looked up once
  uint32_t syscall_orig_ax_ = 120;              // pt_regs.orig_ax, from the probe spec

  llvm::DIFile* FileFor(FileId id);

  void Locate(SourceRange r);

  llvm::Value* Helper(int64_t id, llvm::Type* ret, std::vector<llvm::Value*> args);

  llvm::Value* Library(const char* name, llvm::Type* ret, std::vector<llvm::Value*> args);

  llvm::AllocaInst* Alloca(llvm::Type* type);

  // Continues in a new block when `cond` holds; otherwise the handler ends.
  void Continue(Value cond, const char* name);

  // After a branch that leaves: later statements go to an unreachable block.
  void Dead();

  uint32_t TempBytes(uint32_t bytes);

  // Where a statement's temporaries begin (scratch and stack); Release gives back what
  // was taken since, when the statement ends.
  struct TempMark {
    uint32_t scratch = 0, stack = 0;
  };
  TempMark Temps() const;
  void Release(TempMark mark);

  // `bytes` for a temporary that a helper reads or fills (a map's key or value, a read's
  // buffer), used within one statement: on the stack, in the kStackTemps bytes that the
  // statements of a handler share, or in the scratch space past them.
  Value StackTemp(uint32_t bytes);

  Value ScratchAt(uint32_t offset);
  // The probe's own scratch at `offset`, even in a recursive function's call (its
  // last match, lower_regex.cpp).
  Value SharedScratchAt(uint32_t offset);

  Value ScratchAt(Value offset);

  Value StringSlot();

  Value Truth(Value v);

  Value Bool(Value i1);

  void CopyString(Value dst, Value src);

  // Writes one record. Arguments are already evaluated (strings sit in slots).
  void Record(record::Kind kind, uint32_t format, const std::vector<Value>& args);

  // Builds a record in the record area; returns its size. (Records from kernel probes
  // go through the ring buffer: note that one is needed.)
  Value BuildRecord(record::Kind kind, uint32_t format, const std::vector<Value>& args);

  // Reports a run-time error (`format` is a printf format) and ends the handler.
  void Fail(const std::string& message, std::vector<Value> args = {});
  // Writes an error's message into a catch variable's slot.
  void CatchMessage(Value slot, const std::string& message, const std::vector<Value>& args);
  void SetState(session::State state);

  // A message format's text, for a catch variable: %% becomes %, other directives stay.
  static std::string Unescape(std::string_view format);

  // Fails with `message` unless `ok` holds.
  void Check(Value ok, const std::string& message);

  // Fails with a formatted message (a printf format and its arguments) unless `ok` holds.
  void CheckFormat(Value ok, const std::string& format, std::vector<Value> args);

  Scope& Top();

  void DeclareLocal(Scope& scope, const sema::Variable* v);

  Value Local(const sema::Variable* v, SourceRange at);

  Value ReadSymbol(const ast::Symbol* s);

  Value Zero(Type t);

  // An lvalue: where a scalar lives (long: i64 pointer; string: slot), or an array element.
  struct Place {
    bool is_string = false;
    bool atomic = false;      // a global: updates from several CPUs
    Value address = nullptr;  // scalar storage
    const ast::ArrayIndex* element = nullptr;
    const GlobalInfo* array = nullptr;
    Value key = nullptr;
  };

  bool PlaceOf(ast::Expr* e, Place* place);

  // Builds the key of an element in scratch; string parts are zero-padded so that equal
  // strings hash equally.
  Value Key(const ast::ArrayIndex* a, const GlobalInfo& g, Value into = nullptr) {
    return KeyOf(a->indexes, a->range, g, into);
  }
  Value KeyOf(std::span<ast::Expr*> indexes, SourceRange at, const GlobalInfo& g, Value into);
  void DeleteMatching(const ast::ArrayIndex* a, const GlobalInfo& g);
  void MatchingWalk(const ast::ArrayIndex* a, const GlobalInfo& g, uint32_t want_at,
                    const std::string& name, bool first,
                    const std::function<void(Value key)>& matched);
  // Slices, `*` in some key parts (lower_slice.cpp): `[k, *] in a`; a foreach's
  // `a[k, *]`, whose wanted parts SliceKey evaluates into scratch (its offset) before the
  // walk and SkipUnsliced compares each element's key with, going to `skip` when it differs.
  Value SliceMember(const ast::ArrayIndex* a);
  uint32_t SliceKey(ast::Foreach* f, const GlobalInfo& g);
  void SkipUnsliced(ast::Foreach* f, const GlobalInfo& g, Value key, uint32_t want_at,
                    llvm::BasicBlock* skip);
  // A bpf_for_each_map_elem callback, long (void *map, void *key, void *value, void *ctx),
  // for code at `at`: BeginMapCallback makes `frame` current (it shares its handler's
  // scratch, where the caller's long locals are, and limits) and leaves the builder where
  // the scratch lookup has succeeded (its failure stops the walk);
  // EndMapCallback finishes the callback and returns to the caller's frame and place.
  struct MapCallback {
    Frame& parent;
    llvm::Function* fn;
    llvm::Instruction* has_scratch;
    llvm::IRBuilderBase::InsertPoint resume;
    llvm::DebugLoc resume_at;
    // Blocks that return 1 (the walk stops; also where a failed scratch lookup goes) and 0
    // (on to the next element).
    llvm::BasicBlock* stop = nullptr;
    llvm::BasicBlock* next = nullptr;
  };
  // `loop`: a bpf_loop callback, long (u64 index, void *ctx), instead.
  MapCallback BeginMapCallback(const std::string& name, SourceRange at, Frame& frame,
                               bool loop = false);
  void EndMapCallback(const MapCallback& c, Frame& frame);
  void BindLoopKeys(ast::Foreach* f, const GlobalInfo& g, Value key);
  // A foreach body's callback `frame` reaches the handler's variables (in `outer`, at their
  // scratch offsets) through `scope`; leaving the handler (frame.exit, made here) and a
  // function's `return` set the flag at `flag_at` to `leave_flag` and `return_flag` and
  // stop the walk.
  void ShareHandlerScope(Frame& parent, Scope& outer, Frame& frame, Scope& scope, uint32_t flag_at,
                         int64_t return_flag, int64_t leave_flag);
  Value KeyMatches(std::span<ast::Expr*> indexes, const GlobalInfo& g, Value key, Value want);
  Value KeyString(Value part, uint32_t width);

  std::string ArrayName(const ast::ArrayIndex* a) const;

  Value Load(const Place& p);

  void Store(const Place& p, Value v);

  void Stmt(ast::Stmt* s);

  // while/for. In the kernel a loop runs at most MAXACTION times (the verifier needs a
  // bound); more is a run-time error, as stap's MAXACTION is.
  void LoopStmt(ast::Node* loop, ast::Expr* init, ast::Expr* cond, ast::Expr* step,
                ast::Stmt* body);
  // The same loop in a kernel handler (lower_loop.cpp): a bpf_loop whose callback is one
  // round (the condition, the body, the step), which the verifier checks once; false
  // (nothing lowered) where the loop stays plain. LoopAsCallback: whether a while/for
  // `loop` becomes one (the one test of both KernelLoop and HasKernelForeach; KernelLoop
  // also bounds how deep callbacks nest): it does not read the probe's context, which a
  // callback lacks (contextless_handler_: a session probe has none to lose), does not count a local
  // between two numbers unless its rounds call script functions or hold a loop (KernelLoop,
  // where locals are in scratch already: `counted_too`, whatever its rounds), is not one of
  // CompileOptions::plain_loops, and MAXACTION is below bpf_loop's bound.
  bool KernelLoop(ast::Node* loop, ast::Expr* cond, ast::Expr* step, ast::Stmt* body);
  bool LoopAsCallback(ast::Node* loop, bool counted_too = false);
  // ReadsProbeContext's answer for each node it was asked about (a loop, or a function's
  // body it reached), so that HasKernelForeach and KernelLoop walk each of them once.
  std::map<const ast::Node*, bool> reads_context_;
  bool ReadsProbeContext(ast::Node* root, int depth);
  std::vector<LoopCallback> loop_callbacks_;
  // " near keyword 'for' at file:line:col" of a while/for `loop` (its MAXACTION error).
  std::string LoopKeyword(const ast::Node* loop) const;

  void Foreach(ast::Foreach* f);

  void Delete(ast::Delete* d);

  Value Expr(ast::Expr* e);

  Value ExprInner(ast::Expr* e);

  Value Concat(Value l, Value r);
  // `load_time_unknown`: an @defined the loading kernel decides counts as unknown.
  std::optional<bool> KnownCondition(ast::Expr* e, bool load_time_unknown = false);
  // The branch an `if`/`?:` takes when compile time decides it; nullopt to compile both.
  std::optional<bool> FoldedCondition(ast::Expr* cond, ast::Node* then, ast::Node* otherwise);
  // `@defined` of kernel member chains decided at load (lower_kernel_target.cpp): when a
  // condition has one and both branches compile, the branch is chosen where it loads.
  const sema::TargetArg* KernelChainArg(ast::Expr* e) const;
  bool KnownKernelTarget(const ast::TargetSymbol* t) const;
  Value KernelChainExists(ast::TargetSymbol* t, const sema::TargetArg& arg);
  bool LoadTimeCondition(ast::Expr* cond, ast::Node* then, ast::Node* otherwise);
  // Whether `cond` has an `@defined` that the loading kernel decides.
  bool MentionsLoadTimeDefined(ast::Expr* cond);
  // How many conditions on a load-time `@defined` the code being lowered sits under:
  // a CO-RE relocation there may fail on a kernel whose verifier drops the branch.
  int core_guards_ = 0;

  // Signed division and modulo by stap's rules: truncation toward zero, and an error for
  // a zero divisor. BPF v3 divides unsigned only, so signs are applied around it.
  Value Divide(bool modulo, Value l, Value r, ast::Node* at, ast::Expr* lhs, ast::Expr* rhs);

  Value Arith(Tok op, Value l, Value r, ast::Node* at, ast::Expr* lhs = nullptr,
              ast::Expr* rhs = nullptr);

  static Tok BinaryOf(Tok assign);

  // A read-modify-write of a long: atomic for globals and array elements when the
  // operation allows it (so counters from many CPUs add up). Returns {old, new}.
  std::pair<Value, Value> Update(const Place& p, Tok op, Value operand, ast::Expr* at);

  Value Assign(ast::Assign* a);

  Value ChosenTarget(ast::Autocast* a);
  // `local->member` where the probe gives the local one typed kernel value (stap's
  // autocast): lower_kernel_target.cpp.
  Value AutocastLocal(ast::Autocast* a);
  uint32_t TypedRecord(ast::Expr* e, const struct btf** btf) const;
  const sema::TargetArg* KernelAtVar(ast::AtVar* v);
  Value KernelDwarfGlobal(ast::AtVar* v, const sema::TargetArg& arg);
  Value KernelSlide();
  // The object reads addresses of the compiling kernel's build (meta kernel_build_id).
  void NeedKernelBuild();
  // What stap's probe_type() says of the handler a probe has.
  static std::string_view ProbeType(const sema::ProbeSpec& spec);
  Value ModuleSectionBase(std::string_view section);
  llvm::GlobalVariable* KconfigVar(const std::string& option);
  Value TargetVar(ast::TargetSymbol* t);
  Value UserRegister(ast::Register* r);
  Value ReadCell(HelperId helper, Value pointer, uint32_t size, Value* rc = nullptr);
  // User memory into `dst`; the helper's result. In a uprobe handler a read that faults
  // is tried again with helpers that fault the page in, where the kernel lets uprobes
  // sleep (lower_sleep.cpp).
  Value ReadUser(Value dst, Value size, Value pointer);
  Value ReadUserString(Value dst, Value size, Value pointer);
  // The frame's scratch space: per CPU, or per task in a handler that may sleep.
  Value ScratchLookup(Frame& frame);
  Value SleepEnabled();  // the load-time flag, as an i1
  Frame& HandlerOf(Frame& frame) { return frame.handler ? *frame.handler : frame; }
  // Once the handler is lowered: a handler that never sleeps keeps per-CPU scratch.
  void SettleSleep(Frame& frame);
  void FinishTaskScratch(uint32_t size);
  // A kernel function's $var and its ->member / [i] chain (lower_kernel_target.cpp).
  Value KernelTarget(ast::TargetSymbol* t);
  // The BTF kernel types come from: a module function's own (split over vmlinux's) while
  // its $var's chain is lowered, else vmlinux's.
  const struct btf* KernelBtf() const {
    return module_btf_ ? module_btf_ : program_.kernel.btf ? program_.kernel.btf() : nullptr;
  }
  const struct btf* module_btf_ = nullptr;
  Value KernelCast(ast::Cast* c);
  // Member `name` of the kernel struct `type` at `address`, as a CO-RE access; a scalar
  // (0 when the read faults). nullptr when the struct has no such member.
  Value ReadKernelMember(Value address, uint32_t type, std::string_view name);
  Value KernelChain(ast::TargetBase* t, std::string_view name, Value value, uint32_t type,
                    bool is_address);
  Value KernelRead(Value address, uint32_t size, bool is_signed, ast::TargetBase* t,
                   std::string_view name);
  bool MemberPath(const struct btf* btf, uint32_t record, const ast::TargetBase* t, size_t* i,
                  std::vector<CoreAccess::Step>* path);
  void NoteCoreSite(const struct btf* btf, const std::vector<CoreAccess::Step>& path,
                    SourceRange at);
  Value KernelBitfield(const CoreAccess::BitfieldInfo& info, Value base, bool is_signed,
                       ast::TargetBase* t, std::string_view name);
  // register(), int_arg() and friends, addr(), user_mode() (lower_kernel_target.cpp).
  Value ProbeRegisters(ast::Call* c, Intrinsic which);
  Value SampledRegisters(ast::Call* c, Intrinsic which);
  Value UserAddress(ast::Call* c);
  Value RegisterOrArgument(ast::Call* c, Intrinsic which, const std::function<Value(int)>& reg,
                           const uint32_t* args);
  Value SyscallRegisters(ast::Call* c, Intrinsic which);
  Value PtRegsAt(int offset);
  static int DwarfRegisterOffset(int regno);  // in pt_regs, regno in [0, 17)
  // @cast in user-side probes: member offsets from the compiling kernel's BTF, no reads.
  bool constant_layout_ = false;
  Value RawArg(uint32_t index);
  // Netfilter probes (lower_netfilter.cpp): the verdict the program returns, the hook's
  // $vars, and setting $verdict.
  void StartVerdict(Frame& frame);
  Value NetfilterWord(uint32_t index);
  Value NetfilterVar(ast::TargetSymbol* t);
  bool IsVerdict(const ast::Expr* e) const;
  Value AssignVerdict(ast::Assign* a);
  // procfs probes' $value (lower_procfs.cpp).
  bool IsProcfsValue(const ast::Expr* e) const;
  Value ProcfsRead();
  Value ProcfsAssign(ast::Assign* a);
  Value UserDeref(ast::Deref* d);
  bool UserProbe(const sema::Probe* p) const;
  void UserProbeFilter(const sema::Probe& p);
  static bool DoesNothing(const sema::Probe& p);

  Value Extend(Value v, uint32_t size, bool is_signed);

  // The statistics variable or element an aggregate names: its map and key.
  bool StatsPlace(ast::Expr* operand, const GlobalInfo** info, Value* key);

  Value Slot(Value value, uint32_t slot);

  // x <<< v: this CPU's copy of the value is updated (no other CPU writes it).
  void Accumulate(ast::Assign* a);

  // The histogram bucket of v, bounded so that the verifier can see it.
  Value Bucket(Value v, const stats::Shape& shape);

  Value Zeros();

  // The merged value of a statistics variable or element (user side: the interpreter
  // merges the CPUs' copies), or null when it has none.
  // The statistics value an operand names, merged over CPUs; null when it has no samples.
  // In the kernel only the five aggregate slots are merged, and bucket `bucket` into the
  // first bucket slot when one is asked for.
  Value MergedStats(ast::Expr* operand, SourceRange at, Value bucket = nullptr);

  Value StatOp(ast::StatOp* s);

  Value HistBucket(ast::HistOp* h, ast::ArrayIndex* a);
  void ForeachBucket(ast::Foreach* f, ast::HistOp* h);
  void KernelForeach(ast::Foreach* f, const GlobalInfo& g);
  // Sorted foreach in a kernel probe (lower_sorted_foreach.cpp).
  struct SortedWalk;
  struct SortSide;
  void KernelSortedForeach(ast::Foreach* f, const GlobalInfo& g);
  Value SortOrder(const SortedWalk& w, const SortSide& a, const SortSide& b);
  SortSide StoredSide(const SortedWalk& w, int which);
  void StoreSide(const SortedWalk& w, const SortSide& from, int to);
  void SortRank(const SortedWalk& w, SortSide* side);
  llvm::Function* SortedScan(const SortedWalk& w, SourceRange at);
  // Whether `root` (or a function it calls) has a foreach over an array or a while/for that
  // KernelLoop makes a callback: its handler keeps its locals in scratch.
  bool HasKernelForeach(ast::Node* root, int depth);
  // HasKernelForeach of function bodies, in a handler with a context or without one.
  std::map<std::pair<const ast::Node*, bool>, bool> kernel_foreach_;
  // The handler being lowered is a begin/end/error probe run in the kernel: it has no
  // context to read, so a loop's callback lacks nothing its handler has.
  bool contextless_handler_ = false;
  // The node kinds that read through the probe's context (target variables, @entry,
  // registers, @uderef/@kderef, @var): UsesTask's and ReadsProbeContext's common part.
  static bool ReadsThroughContext(const ast::Node* n) {
    return ast::Is<ast::TargetSymbol>(n) || ast::Is<ast::Entry>(n) || ast::Is<ast::Register>(n) ||
           ast::Is<ast::Deref>(n) || ast::Is<ast::AtVar>(n);
  }
  Value LongStorage();  // a long local's storage: a stack slot, or scratch (see Frame)
  // Prints the histogram, or with `dst` (a string slot) writes its text there, and a
  // newline after it with `line`, cut to MAXSTRINGLEN as sprint's (user side only).
  Value PrintHistogram(ast::HistOp* h, Value dst = nullptr, bool line = false);

  Value Call(ast::Call* c);
  // Calls of recursive functions, real calls (lower_recursive.cpp).
  Value RecursiveCall(ast::Call* c);
  llvm::Function* RecursiveFunction(const sema::Function* f);
  void DefineRecursive(const sema::Function* f, llvm::Function* fn);
  // By the calling probe's section: the interpreter runs one section.
  std::map<std::pair<std::string, const sema::Function*>, llvm::Function*> recursive_functions_;
  bool Assigned(const sema::Function* f, const sema::Variable* v);

  // Embedded C (lower_embedded.cpp): C functions and `%{ %}` expressions are C functions
  // of one translation unit, compiled and linked in once the probes are lowered.
  struct CFunction {
    const void* key;
    llvm::Function* fn;
    std::string symbol;
    const sema::Function* function;  // a function whose body is C, or
    const ast::EmbeddedExpr* expr;   // an expression
  };
  Value EmbeddedCall(ast::Call* c);
  // Regular expressions (lower_regex.cpp): `=~` and `!~`; in a handler that asks for the
  // groups of its matches (matched(), ngroups()), each match also keeps them.
  Value RegexSearch(ast::RegexMatch* r);
  struct Regex;
  void RecordRegexGroups(ast::RegexMatch* r, Regex& regex, Value text, Value found);
  Value RegexGroupCall(Intrinsic which, ast::Call* c);
  // Decoders (lower_decode.cpp): a number as the names a literal table gives it.
  Value DecodeCall(Intrinsic which, ast::Call* c);
  llvm::GlobalVariable* DecodeTable(ast::Call* c, SourceRange at, const std::string& spec,
                                    uint64_t known, uint64_t mode);
  Value StructTimeCall(ast::Call* c);
  Value SockaddrCall(ast::Call* c);
  bool UsesRegexGroups(ast::Node* root);
  void StartRegexGroups(Frame& frame, const sema::Probe* p);
  Value StapbpfHelper(int64_t id);
  // Nanoseconds since the epoch: the monotonic clock plus the offset the runtime set.
  Value WallClockNs() {
    return b_.CreateAdd(Helper(kKtimeGetNs, i64_, {}), b_.CreateLoad(i64_, realtime_offset_));
  }
  Value AsmCall(ast::Call* c);  // stapbpf's `/* bpf */` assembly (lower_bpf_asm.cpp)
  Value EmbeddedValue(ast::EmbeddedExpr* e);
  llvm::Function* DeclareC(const sema::Function* f, const ast::EmbeddedExpr* e,
                           const std::string& name);
  // `code` is the C's text: what it uses (STAP_PRINTF, CONTEXT) decides what THIS holds.
  Value CallC(llvm::Function* fn, Type ret, const std::vector<Value>& args, std::string_view code,
              std::string_view token_kind, std::string_view token, SourceRange at);
  // CONTEXT's fields for C called here, stored from `field` on (kCContextFields of them).
  void FillCContext(const std::function<Value(size_t)>& field, size_t first);
  bool LinkEmbeddedC();
  SourceRange ScriptPlace(const std::string& file, unsigned line, unsigned column,
                          SourceRange fallback) const;
  bool GlobalAccess(CSource& source);
  void VersionCodeTerm();
  void NameCFunctions(llvm::Module& c);
  std::vector<CFunction> c_functions_;

  Value Print(ast::Call* c);

  Value FormatInKernel(SourceRange at, const std::string& format, const std::vector<Value>& args);

  Value StringFrom(const char* function, std::vector<Value> args);

  bool UserSideOnly(ast::Call* c, const std::string& what, const std::string& instead);

  Value Clamp(Value v, int64_t lo, int64_t hi);
  llvm::GlobalVariable* KsymVar(std::string_view name);
  Value Arg(ast::Call* c, size_t i);

  Value IntrinsicCall(Intrinsic which, ast::Call* c);

  // Code addresses and stacks (lower_symbols.cpp). A print argument whose value is a
  // symbolic intrinsic's text (directly, or as the one `return` of a tapset function)
  // prints the intrinsic's addresses with a `%{mode}s` directive instead: the runtime
  // makes the text.
  Value StackCall(Intrinsic which, ast::Call* c);
  Value SymbolCall(Intrinsic which, ast::Call* c);
  static Symbolic SymbolicMode(Intrinsic which);
  static ast::Call* SymbolicTail(ast::Expr* arg);
  // Lowers a print argument, as its addresses when it is a symbolic tail; `mode` says so.
  Value PrintArg(ast::Expr* arg, bool symbolic_ok, Symbolic* mode);
  static std::string MarkSymbolic(const std::string& format, const std::vector<Symbolic>& modes,
                                  std::vector<size_t>* task_args);
  Value SymbolTask();
  // printf's `%m`/`%M` (lower_print_memory.cpp): each address argument becomes the bytes
  // read there, its directive `%{mem}s`/`%{memhex}s`. False after a located error.
  // sprintf leaves them to FormatInKernel, which writes them with SprintMemory.
  bool PrintMemory(ast::Call* c, bool to_string, std::string* format, std::vector<Value>& args);
  Value SprintMemory(SourceRange at, const FormatDirective& d, Value slot, Value pos, Value address,
                     Value width, Value precision);
  Value MemoryCount(const FormatDirective& d, Value precision, uint32_t max);
  Value ReadMemoryField(const FormatDirective& d, Value address, Value precision, uint32_t max,
                        Value bytes, const std::string& near);
  // Histograms printed in kernel probes (lower_print_histogram.cpp).
  bool HistogramRecordFits(ast::Call* c);
  Value KernelHistogram(ast::HistOp* h);
  // The statistics global `h` reads in a kernel probe (and its key), when its histogram has
  // at most kKernelHistogramBuckets buckets; else a located error that `what` (of more than
  // N buckets ...) and `hint` complete, and null.
  const GlobalInfo* KernelHistogramGlobal(ast::HistOp* h, const std::string& what,
                                          const std::string& hint, Value* key);
  // A histogram's table made in the kernel into `dst` (lower_histogram_text.cpp): a
  // kernel probe's sprint/sprintln of one kept as a value. Null after a located error.
  Value HistogramText(ast::HistOp* h, Value dst, bool line);
  bool HistogramDirectives(ast::Call* c, std::string* format, const std::vector<size_t>& tables,
                           const std::vector<bool>& lines, std::span<ast::Expr*> rest,
                           std::vector<Value>& args);
  void NoteSymbolProcess(Value pid);
  const ast::Call* symbolic_tail_ = nullptr;  // the intrinsic call to lower as addresses
  const ast::Call* pending_tail_ = nullptr;   // the function call whose body holds it
  const ast::Call* pending_inner_ = nullptr;

  struct Frame {
    llvm::Function* fn = nullptr;
    llvm::Value* ctx = nullptr;
    llvm::Value* scratch = nullptr;
    llvm::BasicBlock* exit = nullptr;
    llvm::Instruction* alloca_point = nullptr;
    const sema::Probe* probe = nullptr;
    bool user_side = false;
    uint32_t next = 0;  // scratch bytes in use for temporaries
    uint32_t max = 0;
    // The stack bytes statements' temporaries share (StackTemp): in use, the allocas made
    // for them, by offset and size, and those allocas' bytes together (kStackTemps at most).
    uint32_t stack_next = 0, stack_temp_bytes = 0;
    // Map keys given the stack, all statements together: past kStackKeys bytes, keys are
    // built in scratch (a register holds that address; the stack's is remade at each use).
    uint32_t stack_keys = 0;
    std::map<std::pair<uint32_t, uint32_t>, llvm::AllocaInst*> stack_temps;
    std::vector<Scope*> scopes;
    std::vector<Handler> handlers;       // enclosing `try` blocks, innermost last
    std::vector<SourceRange> calls;      // the inlined calls being lowered, outermost first
    bool at_entry = false;               // evaluating @entry operands on the call's entry
    const KprobeGroup* group = nullptr;  // a program shared by a wildcard's functions
    int64_t last_match = -1;             // the last match's groups (lower_regex.cpp): offset
    int64_t regex_work = -1;             // and the memory of the walks that find them
    Value read_cell = nullptr;           // 8 stack bytes each user read fills and reads back
    Value stack_record = nullptr;        // 56 stack bytes the handler's records of numbers share
    // Long locals live in the scratch space instead of the stack when the handler has a
    // kernel-side foreach, whose body (a callback) reaches them at the same offsets.
    bool locals_in_scratch = false;
    std::map<llvm::Value*, uint32_t> scratch_offsets;  // values made by ScratchAt(offset)
    Value entry_values = nullptr;  // the return body's copy of the @entry values
    const std::map<const ast::Entry*, uint32_t>* entry_offsets = nullptr;
    // Sleeping (lower_sleep.cpp): a uprobe handler may fault user pages in. A foreach
    // body's frame points at its handler's, whose decision its scratch follows.
    std::map<uint32_t, Value> raw_args;  // raw tracepoint arguments read (RawArg)
    // A syscall body that runs for compat calls too: its arguments are read from the
    // registers of the call's ABI (`compat`: the test, made on first use).
    bool compat_args = false;
    Value compat = nullptr;
    bool can_sleep = false;  // reads here may sleep
    Frame* handler = nullptr;
    int callback_level = 0;  // 0 in a handler, its parent's plus 1 in a callback
    bool sleeps = false;     // a user read may sleep
    std::vector<llvm::Instruction*> sleep_gates;    // where scratch is chosen per task
    std::vector<llvm::Instruction*> scratch_parts;  // the lookup, dropped when unused
    Value verdict = nullptr;  // a netfilter handler's $verdict, which its program returns
    // A recursive function's call (lower_recursive.cpp): its depth (1 for a probe's call;
    // null in a probe), and its temporaries, on its own stack rather than in scratch.
    Value depth = nullptr;
    llvm::AllocaInst* temps = nullptr;
    // Where an error goes when a caller's `try` catches it (null at run time otherwise).
    Value catch_message = nullptr;
    uint32_t call_bytes = 0;  // the blocks its calls of recursive functions take
  };

  const sema::Program& program_;

  const SourceManager& sm_;

  const CompileOptions& options_;

  DiagnosticSink& diags_;

  llvm::LLVMContext& context_;

  llvm::Module& module_;

  MapBuilder maps_;

  llvm::IRBuilder<> b_;

  llvm::Type* i64_ = nullptr;

  llvm::PointerType* ptr_ = nullptr;

  meta::Meta meta_;

  uint32_t limit_ = 0;  // MAXSTRINGLEN
  uint32_t slot_ = 0;   // a string slot: MAXSTRINGLEN rounded up to a power of two
  uint32_t record_size_ = 0;
  // Values that are length-prefixed bytes for a print's record, not strings (user_argv_raw).
  std::set<Value> raw_values_;
  std::map<Value, uint32_t> fixed_values_;  // length-prefixed, of a known length (histograms)
  // Symbolic text kept as a tag in a kernel probe (lower_symbols.cpp), where made.
  std::set<Value> tag_values_;
  bool symbol_tags_ = false;  // any (meta::Meta::symbol_tags)
  uint32_t probe_temps_ = 0;
  bool kernel_records_ = false;

  bool failed_ = false;
  uint32_t histogram_texts_ = 0;  // HistogramText's drawings in the probe being lowered

  std::set<std::pair<FileId, uint32_t>> reported_;
  // What was not compiled, by the script's call that reached it through library functions.
  std::set<std::tuple<FileId, uint32_t, std::string>> reported_calls_;

  std::set<std::string> names_;

  std::map<std::string, llvm::GlobalVariable*> literals_;

  std::map<std::string, uint32_t> format_ids_;

  std::map<const sema::Variable*, GlobalInfo> globals_;

  std::map<const sema::Variable*, stats::Shape> shapes_;
  std::map<const sema::Variable*, uint8_t> slots_read_;                // stats::SlotBit of each
  std::map<const sema::Variable*, std::vector<uint32_t>> key_widths_;  // 0: unbounded
  std::map<const sema::Variable*, const ast::StringLit*> constant_locals_;
  std::map<const sema::Variable*, bool> assigned_;  // parameters their function assigns

  uint32_t max_stats_value_ = 0;

  llvm::GlobalVariable* zeros_ = nullptr;  // read-only zeros to clear a new statistics value
  std::map<FileId, llvm::DIFile*> files_;

  llvm::GlobalVariable* exiting_ = nullptr;  // session::State, the session block's first word
  Value stop_error_ = nullptr;               // the stopping error's record header (its second)
  Value errors_ = nullptr;                   // run-time errors raised so far (its third)

  llvm::GlobalVariable* lost_ = nullptr;

  llvm::GlobalVariable* target_ = nullptr;
  llvm::GlobalVariable* stp_pid_ = nullptr;       // btap's (or btaprun's) own process id
  llvm::GlobalVariable* stp_uid_ = nullptr;       // and its real user id
  llvm::GlobalVariable* kernel_slide_ = nullptr;  // meta::kKernelSlide, when a value needs it
  std::map<std::string, llvm::GlobalVariable*> module_sections_;  // ModuleSectionBase's
  std::map<std::string, llvm::GlobalVariable*> exe_files_;        // ExeVariable's, by path
  llvm::GlobalVariable* exe_procs_ = nullptr;                     // RanFile's map
  std::map<std::string, llvm::GlobalVariable*> kconfig_;          // meta::kKconfigPrefix + option

  struct Regex {
    llvm::GlobalVariable* next;              // the automaton's table (regex_dfa.h)
    llvm::GlobalVariable* accept;            // its accepting states
    uint64_t mask;                           // the table's size - 1
    llvm::GlobalVariable* groups = nullptr;  // regex_submatch.h's tables, once made
    uint64_t groups_size = 0;
    bool groups_refused = false;
  };
  llvm::GlobalVariable* tokenize_state_ = nullptr;              // tokenize()'s per-CPU string
  std::map<std::string, Regex> regexes_;                        // by pattern
  std::map<std::string, llvm::GlobalVariable*> decode_tables_;  // by table, known bits, mode
  llvm::GlobalVariable* realtime_offset_ = nullptr;
  llvm::GlobalVariable* cpus_ = nullptr;  // possible CPUs, for merging statistics in the kernel

  llvm::GlobalVariable* output_ = nullptr;

  llvm::GlobalVariable* scratch_placeholder_ = nullptr;
  llvm::GlobalVariable* task_scratch_placeholder_ = nullptr;  // made on first use
  llvm::GlobalVariable* may_sleep_ = nullptr;                 // the load-time flag

  Frame* frame_ = nullptr;
};

}  // namespace btap::codegen::lowering
