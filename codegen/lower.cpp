// Lowering the elaborated program to LLVM IR for the BPF target (see lower.h).
//
// Each probe becomes one program; script functions are expanded inline at each call (the
// elaborator rejects recursion), so `next`, run-time errors and pp() need no calling
// convention. Values are i64 for longs and pointers to string slots: MAXSTRINGLEN bytes,
// rounded up to a power of two, in a per-CPU scratch map (or read-only data for
// literals). The scratch value starts with the record area, where print statements build
// their output record before one ring-buffer write.
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
#include <map>
#include <memory>
#include <set>

#include "codegen/bpflib.h"
#include "codegen/emit.h"
#include "codegen/maps.h"
#include "common/output_record.h"
#include "common/printf_format.h"
#include "common/stats.h"
#include "common/user_helpers.h"
#include "frontend/ast_walk.h"
#include "semantic/intrinsics.h"
#include "semantic/program.h"

namespace btap::codegen {
namespace {

using ast::Kind;
using ast::Tok;
using ast::Type;
using sema::Intrinsic;

// Kernel helper numbers (linux/bpf.h).
enum HelperId : int64_t {
  kMapLookup = 1,
  kMapUpdate = 2,
  kMapDelete = 3,
  kKtimeGetNs = 5,
  kSmpProcessorId = 8,
  kCurrentPidTgid = 14,
  kCurrentUidGid = 15,
  kCurrentComm = 16,
  kProbeReadUser = 112,
  kProbeReadKernel = 113,
  kProbeReadUserStr = 114,
  kProbeReadKernelStr = 115,
  kJiffies64 = 118,
  kRingbufOutput = 130,
};

constexpr uint32_t kMapHash = 1, kMapPercpuHash = 5, kMapPercpuArray = 6, kMapLruHash = 9,
                   kMapRingbuf = 27;
constexpr int64_t kNoExist = 1;
constexpr int64_t kAny = 0;
constexpr uint32_t kDefaultRingBytes = 4u << 20;

uint32_t NextPow2(uint64_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}
uint32_t Align8(uint32_t v) { return (v + 7) & ~7u; }

bool IsPrintFamily(const ast::Call* c) { return !c->callee; }

// A value: i64 for longs, a pointer to a string slot for strings.
using Value = llvm::Value*;

struct GlobalInfo {
  llvm::GlobalVariable* storage = nullptr;  // scalars
  llvm::GlobalVariable* map = nullptr;      // arrays
  std::vector<uint32_t> key_offsets;
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t meta_index = 0;
  bool stats = false;
  stats::Shape shape;  // statistics: the histogram its uses ask for
};

struct Loop {
  llvm::BasicBlock* next_iteration;
  llvm::BasicBlock* done;
};

// An enclosing `try`: where errors go, and the catch variable's slot (or null).
struct Handler {
  llvm::BasicBlock* handler;
  llvm::Value* message;
};

// Variables of one probe body or one inlined function call.
struct Scope {
  std::map<const sema::Variable*, Value> vars;  // long: alloca; string: its slot
  const sema::Function* function = nullptr;
  llvm::BasicBlock* return_block = nullptr;
  Value result = nullptr;  // alloca (long) or slot (string)
  std::vector<Loop> loops;
};

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

  bool Run(meta::Meta* meta) {
    meta_.script_name = options_.script_name;
    meta_.script_hash = options_.script_hash;
    meta_.limits = {limit_, options_.max_map_entries, options_.max_errors, options_.max_action};
    i64_ = b_.getInt64Ty();
    ptr_ = b_.getPtrTy();
    DefineRuntimeData();
    record_size_ = NextPow2(MaxRecordSize() + 1);
    scratch_placeholder_ =
        new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage, nullptr,
                                 "__btap_scratch_placeholder");
    ScanHistograms();
    for (const sema::Variable* g : program_.globals) DefineGlobal(g);
    for (const auto& [name, text] : options_.global_values) {
      bool known = false;
      for (const sema::Variable* g : program_.globals)
        known |= g->name == name && !g->from_tapset && g->arity <= 0 && g->type != Type::Stats;
      if (!known) {
        failed_ = true;
        diags_.Report(Diag::CodegenLimit, SourceRange{},
                      {"-G " + name + "=" + text + ": the script has no global scalar `" + name +
                       "` (or it is never used)"});
      }
    }
    for (const sema::Probe* p : program_.probes) LowerProbe(*p);
    FinishScratch();
    maps_.Finalize();
    *meta = std::move(meta_);
    return !failed_;
  }

 private:
  // ---- Errors ----

  void Unsupported(SourceRange at, std::string what, std::string where = "") {
    failed_ = true;
    if (!reported_.insert({at.file, at.begin}).second) return;
    diags_.Report(Diag::NotCompiledYet, at, {what, where});
    // Inside inlined functions, the calls that led here (innermost first).
    if (frame_)
      for (auto it = frame_->calls.rbegin(); it != frame_->calls.rend(); ++it)
        diags_.Note(Diag::CalledFrom, *it);
  }

  std::string Text(SourceRange r) const {
    if (!r.valid()) return "";
    std::string_view t = sm_.file(r.file).text();
    return std::string(t.substr(r.begin, r.end - r.begin));
  }

  // stap's " near <token> at file:line:col" for run-time errors.
  std::string Near(std::string_view token_kind, std::string_view token, SourceRange at) const {
    std::string s = " near " + std::string(token_kind) + " '" + std::string(token) + "'";
    if (at.valid()) {
      const SourceFile& f = sm_.file(at.file);
      LineColumn lc = f.Locate(at.begin);
      s += " at " + f.name() + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
    }
    return s;
  }

  // ---- Module-level data ----

  llvm::GlobalVariable* RuntimeVar(const char* name) {
    auto* g = new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage,
                                       b_.getInt64(0), name);
    g->setAlignment(llvm::Align(8));
    g->setSection(".bss");
    return g;
  }

  void DefineRuntimeData() {
    exiting_ = RuntimeVar("__btap_exiting");
    lost_ = RuntimeVar("__btap_lost");
    target_ = RuntimeVar("__btap_target");
    realtime_offset_ = RuntimeVar("__btap_realtime_offset");
    // Defined at the end, once it is known whether kernel probes write records.
    output_ = new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage,
                                       nullptr, "__btap_output_placeholder");
    auto* license = llvm::ConstantDataArray::getString(context_, "GPL");
    auto* g = new llvm::GlobalVariable(module_, license->getType(), true,
                                       llvm::GlobalValue::ExternalLinkage, license, "_license");
    g->setSection("license");
  }

  void DefineGlobal(const sema::Variable* v) {
    GlobalInfo info;
    std::string name = UniqueName("g_" + std::string(v->name));
    meta::Global mg;
    mg.name = std::string(v->name);
    mg.map = name;
    mg.value = v->type == Type::String  ? meta::ValueType::String
               : v->type == Type::Stats ? meta::ValueType::Stats
                                        : meta::ValueType::Long;
    mg.print_at_exit = v->written && !v->read;
    SourceRange at = v->global ? v->global->range : v->decl;
    if (v->type == Type::Stats) {
      info.stats = true;
      auto shape = shapes_.find(v);
      if (shape != shapes_.end()) info.shape = shape->second;
      info.value_size = info.shape.Slots() * 8;
      max_stats_value_ = std::max(max_stats_value_, info.value_size);
      for (Type k : v->key_types) {
        info.key_offsets.push_back(info.key_size);
        info.key_size += k == Type::String ? slot_ : 8;
        mg.keys.push_back(k == Type::String ? meta::ValueType::String : meta::ValueType::Long);
      }
      uint32_t entries = v->global && v->global->size > 0 ? static_cast<uint32_t>(v->global->size)
                                                          : options_.max_map_entries;
      if (v->arity <= 0)
        info.map = maps_.Define({name, kMapPercpuArray, 1, 4, info.value_size});
      else
        info.map = maps_.Define({name, kMapPercpuHash, entries, info.key_size, info.value_size});
    } else if (v->arity <= 0) {
      llvm::Type* type = v->type == Type::String
                             ? static_cast<llvm::Type*>(llvm::ArrayType::get(b_.getInt8Ty(), slot_))
                             : i64_;
      llvm::Constant* init = llvm::Constant::getNullValue(type);
      if (v->global && v->global->init) {
        if (auto* n = ast::As<ast::NumberLit>(v->global->init))
          init = b_.getInt64(n->value);
        else if (auto* s = ast::As<ast::StringLit>(v->global->init))
          init = PaddedString(s->value);
        else
          Unsupported(v->global->init->range, "this initializer", "; use a literal");
      }
      for (const auto& [name, text] : options_.global_values) {
        if (name != v->name || v->from_tapset) continue;
        if (v->type == Type::String) {
          init = PaddedString(text);
          continue;
        }
        char* end = nullptr;
        errno = 0;
        long long number = std::strtoll(text.c_str(), &end, 0);
        if (text.empty() || *end || errno) {
          failed_ = true;
          diags_.Report(
              Diag::CodegenLimit, at,
              {"-G " + name + "=" + text + ": `" + name + "` is a long; expected a number"});
          continue;
        }
        init = b_.getInt64(number);
      }
      info.storage = new llvm::GlobalVariable(module_, type, false,
                                              llvm::GlobalValue::ExternalLinkage, init, name);
      info.storage->setAlignment(llvm::Align(8));
      // One section per kind of data, as libbpf maps them (never `.bss.<name>`).
      info.storage->setSection(init->isNullValue() ? ".bss" : ".data");
    } else {
      for (Type k : v->key_types) {
        info.key_offsets.push_back(info.key_size);
        info.key_size += k == Type::String ? slot_ : 8;
        mg.keys.push_back(k == Type::String ? meta::ValueType::String : meta::ValueType::Long);
      }
      info.value_size = v->type == Type::String ? slot_ : 8;
      uint32_t entries = v->global && v->global->size > 0 ? static_cast<uint32_t>(v->global->size)
                                                          : options_.max_map_entries;
      bool wrap = v->global && v->global->wrap;
      info.map = maps_.Define(
          {name, wrap ? kMapLruHash : kMapHash, entries, info.key_size, info.value_size});
    }
    info.meta_index = static_cast<uint32_t>(meta_.globals.size());
    meta_.globals.push_back(std::move(mg));
    globals_[v] = std::move(info);
  }

  // A statistics variable keeps the one histogram its uses ask for.
  void ScanHistograms() {
    auto visit = [&](ast::Node* n) {
      auto* h = ast::As<ast::HistOp>(n);
      if (!h) return;
      const sema::Variable* v = AggregateVar(h->operand);
      if (!v) return;
      stats::Shape shape;
      if (h->op == ast::AtWord::HistLog) {
        shape.hist = stats::Hist::Log;
      } else {
        if (h->params.size() != 3 || h->params[2] <= 0 || h->params[1] <= h->params[0] ||
            (h->params[1] - h->params[0]) / h->params[2] > 1000) {
          Unsupported(h->range, "this histogram",
                      ": it needs start < stop, an interval > 0 and at most 1000 buckets");
          return;
        }
        shape.hist = stats::Hist::Linear;
        shape.start = h->params[0];
        shape.stop = h->params[1];
        shape.interval = h->params[2];
      }
      auto [it, added] = shapes_.emplace(v, shape);
      if (!added && (it->second.hist != shape.hist || it->second.start != shape.start ||
                     it->second.stop != shape.stop || it->second.interval != shape.interval))
        Unsupported(h->range, "a second kind of histogram of `" + std::string(v->name) + "`",
                    "; a statistics variable keeps one histogram");
    };
    for (const sema::Probe* p : program_.probes) ast::WalkTree(p->body, visit);
    for (const sema::Function* f : program_.functions)
      if (f->decl && f->decl->body) ast::WalkTree(f->decl->body, visit);
  }

  static const sema::Variable* AggregateVar(ast::Expr* operand) {
    if (auto* s = ast::As<ast::Symbol>(operand)) return s->var;
    if (auto* a = ast::As<ast::ArrayIndex>(operand))
      if (auto* s = ast::As<ast::Symbol>(a->base)) return s->var;
    return nullptr;
  }

  std::string UniqueName(std::string name) {
    std::string unique = name;
    for (int i = 2; !names_.insert(unique).second; ++i) unique = name + "_" + std::to_string(i);
    return unique;
  }

  llvm::Constant* PaddedString(std::string_view s) {
    std::string bytes(s.substr(0, limit_ - 1));
    bytes.resize(slot_, '\0');
    return llvm::ConstantDataArray::getRaw(bytes, slot_, b_.getInt8Ty());
  }

  // A string literal: read-only data, padded to a whole slot so that every string
  // pointer has a slot's worth of readable bytes behind it.
  Value Literal(std::string_view s) {
    std::string key(s);
    auto it = literals_.find(key);
    if (it != literals_.end()) return it->second;
    auto* g = new llvm::GlobalVariable(module_, llvm::ArrayType::get(b_.getInt8Ty(), slot_), true,
                                       llvm::GlobalValue::InternalLinkage, PaddedString(s), "str");
    g->setSection(".rodata");
    g->setAlignment(llvm::Align(8));
    literals_[key] = g;
    return g;
  }

  uint32_t FormatId(const std::string& format) {
    auto it = format_ids_.find(format);
    if (it != format_ids_.end()) return it->second;
    auto id = static_cast<uint32_t>(meta_.formats.size());
    meta_.formats.push_back(format);
    format_ids_[format] = id;
    return id;
  }

  static std::string EscapePercent(std::string_view s) {
    std::string out;
    for (char c : s) {
      out += c;
      if (c == '%') out += '%';
    }
    return out;
  }

  // The largest record any print statement can write: the record area is twice the next
  // power of two above it, so masked offsets keep every write inside.
  uint32_t MaxRecordSize() {
    uint32_t max = 64;
    auto visit = [&](ast::Node* n) {
      auto* c = ast::As<ast::Call>(n);
      if (!c || !IsPrintFamily(c)) return;
      uint32_t size = 8 + 8 * 2 * static_cast<uint32_t>(c->args.size() + 1);
      for (ast::Expr* a : c->args)
        if (a->type == Type::String) size += Align8(4 + slot_);
      max = std::max(max, size + Align8(4 + slot_));  // the delimiter of printd
    };
    for (const sema::Probe* p : program_.probes) ast::WalkTree(p->body, visit);
    for (const sema::Function* f : program_.functions)
      if (f->decl && f->decl->body) ast::WalkTree(f->decl->body, visit);
    return max;
  }

  void FinishScratch() {
    uint32_t size = 2 * record_size_ + probe_temps_ + slot_ + 8;
    if (size > 32 * 1024) {
      failed_ = true;
      diags_.Report(Diag::CodegenLimit, SourceRange{},
                    {"the probes need " + std::to_string(size) +
                     " bytes of per-CPU scratch space for strings and records, more than the "
                     "kernel's 32768; lower MAXSTRINGLEN with -D MAXSTRINGLEN=N"});
    }
    if (zeros_) {
      auto* type = llvm::ArrayType::get(b_.getInt8Ty(), max_stats_value_);
      auto* zeros =
          new llvm::GlobalVariable(module_, type, true, llvm::GlobalValue::InternalLinkage,
                                   llvm::ConstantAggregateZero::get(type), "zeros");
      zeros->setSection(".rodata");
      zeros->setAlignment(llvm::Align(8));
      zeros_->replaceAllUsesWith(zeros);
      zeros_->eraseFromParent();
    }
    llvm::GlobalVariable* scratch = maps_.Define({"btap_scratch", kMapPercpuArray, 1, 4, size});
    scratch_placeholder_->replaceAllUsesWith(scratch);
    scratch_placeholder_->eraseFromParent();
    // User-side probes print directly; only kernel probes need room in the ring buffer
    // (and its mapping counts in the runtime's memory).
    uint32_t ring = options_.ring_buffer_bytes;
    if (!ring) ring = kernel_records_ ? kDefaultRingBytes : 4096;
    llvm::GlobalVariable* output = maps_.Define({"btap_output", kMapRingbuf, ring, 0, 0});
    output_->replaceAllUsesWith(output);
    output_->eraseFromParent();
  }

  // ---- Programs ----

  static meta::ProbeKind KindOf(sema::Family f) {
    switch (f) {
      case sema::Family::Begin:
        return meta::ProbeKind::Begin;
      case sema::Family::End:
        return meta::ProbeKind::End;
      case sema::Family::Error:
        return meta::ProbeKind::Error;
      case sema::Family::Timer:
        return meta::ProbeKind::Timer;
      case sema::Family::TimerProfile:
        return meta::ProbeKind::TimerProfile;
      case sema::Family::Perf:
        return meta::ProbeKind::Perf;
      default:
        return meta::ProbeKind::Tracepoint;
    }
  }

  // begin/end/error, and timers that touch nothing of the interrupted task, run in the
  // runtime's interpreter.
  bool UserSide(const sema::Probe& p) {
    switch (p.spec.family) {
      case sema::Family::Begin:
      case sema::Family::End:
      case sema::Family::Error:
        return true;
      case sema::Family::Timer:
        return !UsesTask(p.body, 0);
      default:
        return false;
    }
  }

  bool UsesTask(ast::Node* root, int depth) {
    bool uses = false;
    ast::WalkTree(root, [&](ast::Node* n) {
      if (uses) return;
      if (ast::Is<ast::TargetSymbol>(n) || ast::Is<ast::Register>(n) || ast::Is<ast::Deref>(n)) {
        uses = true;
        return;
      }
      auto* c = ast::As<ast::Call>(n);
      if (!c || !c->callee) return;
      const sema::Function* f = c->callee;
      if (f->intrinsic >= 0) {
        switch (static_cast<Intrinsic>(f->intrinsic)) {
          case Intrinsic::execname:
          case Intrinsic::pid:
          case Intrinsic::tid:
          case Intrinsic::ppid:
          case Intrinsic::uid:
          case Intrinsic::gid:
          case Intrinsic::euid:
          case Intrinsic::egid:
          case Intrinsic::cpu:
          case Intrinsic::kernel_string:
          case Intrinsic::kernel_string_n:
          case Intrinsic::user_string:
          case Intrinsic::user_string_n:
          case Intrinsic::kernel_read:
          case Intrinsic::user_read:
            uses = true;
            return;
          default:
            return;
        }
      }
      if (depth < 64 && f->decl && f->decl->body && UsesTask(f->decl->body, depth + 1)) uses = true;
    });
    return uses;
  }

  void LowerProbe(const sema::Probe& p) {
    if (p.spec.family == sema::Family::Never) return;
    meta::Probe mp;
    mp.point = p.spec.point;
    mp.user_side = UserSide(p);
    mp.family = static_cast<uint8_t>(KindOf(p.spec.family));
    mp.sequence = p.spec.sequence;
    mp.period_ns = p.spec.period_ns;
    mp.randomize_ns = p.spec.randomize_ns;
    mp.target = p.spec.target;
    for (int i = 0; i < 3; ++i) mp.numbers[i] = p.spec.numbers[i];
    std::string section;
    switch (p.spec.family) {
      case sema::Family::Begin:
      case sema::Family::End:
      case sema::Family::Error:
        section = "btap_user";
        break;
      case sema::Family::Timer:
        section = mp.user_side ? "btap_user" : "perf_event";
        break;
      case sema::Family::TimerProfile:
      case sema::Family::Perf:
        section = "perf_event";
        break;
      case sema::Family::Tracepoint: {
        if (p.spec.args_from_format) {
          std::string sys_name = p.spec.target;
          std::replace(sys_name.begin(), sys_name.end(), ':', '/');
          section = "tracepoint/" + sys_name;
          mp.numbers[0] = 1;  // a classic tracepoint: $vars are record fields
        } else {
          section = "raw_tp/" + p.spec.target.substr(p.spec.target.find(':') + 1);
        }
        break;
      }
      default:
        Unsupported(
            p.decl ? p.decl->range : SourceRange{},
            "`" + p.spec.point + "` (" + std::string(sema::FamilyName(p.spec.family)) + " probes)",
            " on this runtime");
        return;
    }
    mp.program = "probe_" + std::to_string(meta_.probes.size());
    if (mp.user_side) section += "/" + mp.program;

    auto* type = llvm::FunctionType::get(b_.getInt32Ty(), {ptr_}, false);
    auto* fn =
        llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, mp.program, module_);
    fn->setSection(section);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    fn->getArg(0)->setName("ctx");
    llvm::DIFile* file = FileFor(p.file);
    unsigned line = p.decl ? sm_.file(p.decl->range.file).Locate(p.decl->range.begin).line : 1;
    b_.SetCurrentDebugLocation(maps_.Describe(*fn, line, file));

    Frame frame;
    frame.fn = fn;
    frame.probe = &p;
    frame.user_side = mp.user_side;
    frame_ = &frame;
    auto* entry = llvm::BasicBlock::Create(context_, "entry", fn);
    frame.exit = llvm::BasicBlock::Create(context_, "exit", fn);
    b_.SetInsertPoint(frame.exit);
    b_.CreateRet(b_.getInt32(0));
    b_.SetInsertPoint(entry);
    frame.alloca_point = b_.CreateAlloca(i64_, nullptr, "unused");
    frame.ctx = fn->getArg(0);

    if (!frame.user_side) {
      // exit() starts no new handlers.
      Value exiting = b_.CreateLoad(i64_, exiting_);
      Continue(b_.CreateICmpEQ(exiting, b_.getInt64(0)), "run");
    }
    Value zero = Alloca(b_.getInt32Ty());
    b_.CreateStore(b_.getInt32(0), zero);
    frame.scratch = Helper(kMapLookup, ptr_, {scratch_placeholder_, zero});
    auto* has_scratch = llvm::cast<llvm::Instruction>(b_.CreateIsNotNull(frame.scratch));
    Continue(has_scratch, "scratch");

    Scope scope;
    frame.scopes.push_back(&scope);
    for (const sema::Variable* v : p.locals) DeclareLocal(scope, v);
    if (p.condition) Continue(Truth(Expr(p.condition)), "enabled");
    Stmt(p.body);
    // A handler that keeps no strings and prints nothing does not need the scratch space:
    // dropping its lookup saves a helper call per event.
    if (frame.scratch->hasOneUse()) {
      has_scratch->replaceAllUsesWith(b_.getTrue());
      has_scratch->eraseFromParent();
      llvm::cast<llvm::Instruction>(frame.scratch)->eraseFromParent();
    }
    // Blocks after a `next`, `return` or error are unreachable; they end the handler too.
    for (llvm::BasicBlock& block : *fn)
      if (!block.getTerminator()) llvm::BranchInst::Create(frame.exit, &block);
    probe_temps_ = std::max(probe_temps_, frame.max);
    frame_ = nullptr;
    meta_.probes.push_back(std::move(mp));
  }

  llvm::DIFile* FileFor(FileId id) {
    if (id == kNoFile) return nullptr;
    auto it = files_.find(id);
    if (it != files_.end()) return it->second;
    const SourceFile& f = sm_.file(id);
    return files_[id] = maps_.SourceFile(f.name(), std::string(f.text()));
  }

  void Locate(SourceRange r) {
    if (!r.valid() || !frame_) return;
    LineColumn lc = sm_.file(r.file).Locate(r.begin);
    llvm::DIScope* scope = maps_.ScopeIn(*frame_->fn, FileFor(r.file));
    b_.SetCurrentDebugLocation(llvm::DILocation::get(context_, lc.line, lc.column, scope));
  }

  // ---- IR helpers ----

  llvm::Value* Helper(int64_t id, llvm::Type* ret, std::vector<llvm::Value*> args) {
    std::vector<llvm::Type*> types;
    for (llvm::Value* a : args) types.push_back(a->getType());
    auto* type = llvm::FunctionType::get(ret, types, false);
    auto* callee = llvm::ConstantExpr::getIntToPtr(b_.getInt64(id), ptr_);
    return b_.CreateCall(type, callee, args);
  }

  llvm::Value* Library(const char* name, llvm::Type* ret, std::vector<llvm::Value*> args) {
    std::vector<llvm::Type*> types;
    for (llvm::Value* a : args) types.push_back(a->getType());
    llvm::FunctionCallee f =
        module_.getOrInsertFunction(name, llvm::FunctionType::get(ret, types, false));
    return b_.CreateCall(f, args);
  }

  llvm::AllocaInst* Alloca(llvm::Type* type) {
    llvm::IRBuilder<> at(frame_->alloca_point);
    return at.CreateAlloca(type);
  }

  // Continues in a new block when `cond` holds; otherwise the handler ends.
  void Continue(Value cond, const char* name) {
    auto* next = llvm::BasicBlock::Create(context_, name, frame_->fn);
    b_.CreateCondBr(cond, next, frame_->exit);
    b_.SetInsertPoint(next);
  }

  // After a branch that leaves: later statements go to an unreachable block.
  void Dead() { b_.SetInsertPoint(llvm::BasicBlock::Create(context_, "dead", frame_->fn)); }

  uint32_t TempBytes(uint32_t bytes) {
    uint32_t at = frame_->next;
    frame_->next += Align8(bytes);
    frame_->max = std::max(frame_->max, frame_->next);
    return 2 * record_size_ + at;
  }
  Value ScratchAt(uint32_t offset) {
    return b_.CreateConstGEP1_64(b_.getInt8Ty(), frame_->scratch, offset);
  }
  Value ScratchAt(Value offset) { return b_.CreateGEP(b_.getInt8Ty(), frame_->scratch, offset); }
  Value StringSlot() { return ScratchAt(TempBytes(slot_)); }

  Value Truth(Value v) { return b_.CreateICmpNE(v, b_.getInt64(0)); }
  Value Bool(Value i1) { return b_.CreateZExt(i1, i64_); }

  void CopyString(Value dst, Value src) {
    if (dst == src) return;
    Helper(kProbeReadKernelStr, i64_, {dst, b_.getInt32(limit_), src});
  }

  // ---- Run-time errors, output ----

  // Writes one record. Arguments are already evaluated (strings sit in slots).
  void Record(record::Kind kind, uint32_t format, const std::vector<Value>& args) {
    Value size = BuildRecord(kind, format, args);
    Value rc =
        Helper(kRingbufOutput, i64_, {output_, ScratchAt(uint32_t{0}), size, b_.getInt64(0)});
    auto* lost = llvm::BasicBlock::Create(context_, "lost", frame_->fn);
    auto* done = llvm::BasicBlock::Create(context_, "written", frame_->fn);
    b_.CreateCondBr(b_.CreateICmpSLT(rc, b_.getInt64(0)), lost, done);
    b_.SetInsertPoint(lost);
    b_.CreateAtomicRMW(llvm::AtomicRMWInst::Add, lost_, b_.getInt64(1), llvm::MaybeAlign(8),
                       llvm::AtomicOrdering::Monotonic);
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
  }

  // Builds a record in the record area; returns its size. (Records from kernel probes
  // go through the ring buffer: note that one is needed.)
  Value BuildRecord(record::Kind kind, uint32_t format, const std::vector<Value>& args) {
    if (!frame_->user_side) kernel_records_ = true;
    Value rec = ScratchAt(uint32_t{0});
    b_.CreateStore(b_.getInt32(static_cast<uint32_t>(kind)), rec);
    b_.CreateStore(b_.getInt32(format), ScratchAt(uint32_t{4}));
    Value off = b_.getInt64(8);
    Value mask = b_.getInt64(record_size_ - 1);
    for (Value a : args) {
      Value at = ScratchAt(b_.CreateAnd(off, mask));
      if (a->getType() == i64_) {
        b_.CreateStore(a, at);
        off = b_.CreateAdd(off, b_.getInt64(8));
        continue;
      }
      Value n = Helper(kProbeReadKernelStr, i64_,
                       {b_.CreateConstGEP1_64(b_.getInt8Ty(), at, 4), b_.getInt32(limit_), a});
      Value len = b_.CreateSelect(b_.CreateICmpSLT(n, b_.getInt64(1)), b_.getInt64(0),
                                  b_.CreateSub(n, b_.getInt64(1)));
      b_.CreateStore(b_.CreateTrunc(len, b_.getInt32Ty()), at);
      off = b_.CreateAdd(
          off, b_.CreateAnd(b_.CreateAdd(len, b_.getInt64(4 + 7)), b_.getInt64(~int64_t{7})));
    }
    return b_.CreateAnd(off, mask);
  }

  // Reports a run-time error (`format` is a printf format) and ends the handler.
  void Fail(const std::string& message, std::vector<Value> args = {}) {
    if (!frame_->handlers.empty()) {
      // Inside `try`: the catch variable gets the message, the handler runs.
      const Handler& h = frame_->handlers.back();
      if (h.message) {
        if (message == "%s" && args.size() == 1 && args[0]->getType() != i64_)
          CopyString(h.message, args[0]);
        else
          CopyString(h.message, Literal(Unescape(message)));
      }
      b_.CreateBr(h.handler);
      Dead();
      return;
    }
    Record(record::Kind::Error, FormatId(message), args);
    b_.CreateBr(frame_->exit);
    Dead();
  }

  // A message format's text, for a catch variable: %% becomes %, other directives stay.
  static std::string Unescape(std::string_view format) {
    std::string out;
    for (size_t i = 0; i < format.size(); ++i) {
      out += format[i];
      if (format[i] == '%' && i + 1 < format.size() && format[i + 1] == '%') ++i;
    }
    return out;
  }

  // Fails with `message` unless `ok` holds.
  void Check(Value ok, const std::string& message) { CheckFormat(ok, EscapePercent(message), {}); }

  // Fails with a formatted message (a printf format and its arguments) unless `ok` holds.
  void CheckFormat(Value ok, const std::string& format, std::vector<Value> args) {
    auto* bad = llvm::BasicBlock::Create(context_, "error", frame_->fn);
    auto* good = llvm::BasicBlock::Create(context_, "ok", frame_->fn);
    b_.CreateCondBr(ok, good, bad);
    b_.SetInsertPoint(bad);
    Fail(format, std::move(args));
    b_.SetInsertPoint(good);
  }

  // ---- Variables ----

  Scope& Top() { return *frame_->scopes.back(); }

  void DeclareLocal(Scope& scope, const sema::Variable* v) {
    if (scope.vars.count(v)) return;
    if (v->type == Type::String) {
      Value slot = StringSlot();
      b_.CreateStore(b_.getInt8(0), slot);
      scope.vars[v] = slot;
    } else if (v->type == Type::Stats || v->arity > 0) {
      Unsupported(v->decl, "local statistics or arrays");
    } else {
      Value a = Alloca(i64_);
      b_.CreateStore(b_.getInt64(0), a);
      scope.vars[v] = a;
    }
  }

  Value Local(const sema::Variable* v, SourceRange at) {
    Scope& s = Top();
    auto it = s.vars.find(v);
    if (it == s.vars.end()) {
      DeclareLocal(s, v);
      it = s.vars.find(v);
      if (it == s.vars.end()) {
        Unsupported(at, "this variable");
        return nullptr;
      }
    }
    return it->second;
  }

  Value ReadSymbol(const ast::Symbol* s) {
    const sema::Variable* v = s->var;
    if (!v) return Zero(s->type);
    if (v->kind == sema::VarKind::Global) {
      const GlobalInfo& g = globals_[v];
      if (!g.storage) {
        Unsupported(s->range, "this use of array `" + std::string(v->name) + "`");
        return Zero(s->type);
      }
      return v->type == Type::String ? static_cast<Value>(g.storage)
                                     : b_.CreateLoad(i64_, g.storage);
    }
    Value storage = Local(v, s->range);
    if (!storage) return Zero(s->type);
    return v->type == Type::String ? storage : b_.CreateLoad(i64_, storage);
  }

  Value Zero(Type t) { return t == Type::String ? Literal("") : b_.getInt64(0); }

  // An lvalue: where a scalar lives (long: i64 pointer; string: slot), or an array element.
  struct Place {
    bool is_string = false;
    bool atomic = false;      // a global: updates from several CPUs
    Value address = nullptr;  // scalar storage
    const ast::ArrayIndex* element = nullptr;
    const GlobalInfo* array = nullptr;
    Value key = nullptr;
  };

  bool PlaceOf(ast::Expr* e, Place* place) {
    if (auto* s = ast::As<ast::Symbol>(e)) {
      const sema::Variable* v = s->var;
      if (!v) return false;
      place->is_string = v->type == Type::String;
      if (v->kind == sema::VarKind::Global) {
        const GlobalInfo& g = globals_[v];
        if (!g.storage) return false;
        place->address = g.storage;
        place->atomic = true;
        return true;
      }
      place->address = Local(v, s->range);
      return place->address != nullptr;
    }
    if (auto* a = ast::As<ast::ArrayIndex>(e)) {
      auto* s = ast::As<ast::Symbol>(a->base);
      if (!s || !s->var || s->var->kind != sema::VarKind::Global) return false;
      auto it = globals_.find(s->var);
      if (it == globals_.end() || !it->second.map || it->second.stats) return false;
      place->is_string = s->var->type == Type::String;
      place->element = a;
      place->array = &it->second;
      place->key = Key(a, it->second);
      return place->key != nullptr;
    }
    return false;
  }

  // Builds the key of an element in scratch; string parts are zero-padded so that equal
  // strings hash equally.
  Value Key(const ast::ArrayIndex* a, const GlobalInfo& g) {
    std::vector<Value> parts;
    for (ast::Expr* i : a->indexes) {
      if (!i) {
        Unsupported(a->range, "`*` in an array index");
        return nullptr;
      }
      parts.push_back(Expr(i));
    }
    uint32_t at = TempBytes(g.key_size);
    for (size_t k = 0; k < parts.size() && k < g.key_offsets.size(); ++k) {
      Value dst = ScratchAt(at + g.key_offsets[k]);
      if (parts[k]->getType() == i64_) {
        b_.CreateStore(parts[k], dst);
      } else {
        Helper(kProbeReadKernel, i64_, {dst, b_.getInt32(slot_), Literal("")});
        CopyString(dst, parts[k]);
      }
    }
    return ScratchAt(at);
  }

  std::string ArrayName(const ast::ArrayIndex* a) const {
    auto* s = ast::As<ast::Symbol>(a->base);
    return s ? std::string(s->name) : "?";
  }

  Value Load(const Place& p) {
    if (!p.element) return p.is_string ? p.address : b_.CreateLoad(i64_, p.address);
    Value found = Helper(kMapLookup, ptr_, {p.array->map, p.key});
    auto* hit = llvm::BasicBlock::Create(context_, "found", frame_->fn);
    auto* miss = llvm::BasicBlock::Create(context_, "missing", frame_->fn);
    auto* done = llvm::BasicBlock::Create(context_, "read", frame_->fn);
    Value slot = p.is_string ? StringSlot() : nullptr;
    b_.CreateCondBr(b_.CreateIsNotNull(found), hit, miss);
    if (p.is_string) {
      b_.SetInsertPoint(hit);
      CopyString(slot, found);
      b_.CreateBr(done);
      b_.SetInsertPoint(miss);
      b_.CreateStore(b_.getInt8(0), slot);
      b_.CreateBr(done);
      b_.SetInsertPoint(done);
      return slot;
    }
    b_.SetInsertPoint(hit);
    Value v = b_.CreateLoad(i64_, found);
    auto* hit_end = b_.GetInsertBlock();
    b_.CreateBr(done);
    b_.SetInsertPoint(miss);
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
    auto* phi = b_.CreatePHI(i64_, 2);
    phi->addIncoming(v, hit_end);
    phi->addIncoming(b_.getInt64(0), miss);
    return phi;
  }

  void Store(const Place& p, Value v) {
    if (!p.element) {
      if (p.is_string)
        CopyString(p.address, v);
      else
        b_.CreateStore(v, p.address);
      return;
    }
    Value value = v;
    if (!p.is_string) {
      value = Alloca(i64_);
      b_.CreateStore(v, value);
    }
    Value rc = Helper(kMapUpdate, i64_, {p.array->map, p.key, value, b_.getInt64(kAny)});
    Check(b_.CreateICmpSGE(rc, b_.getInt64(0)),
          "Array overflow, check MAXMAPENTRIES" +
              Near("identifier", ArrayName(p.element), p.element->range));
  }

  // ---- Statements ----

  void Stmt(ast::Stmt* s) {
    if (!s) return;
    uint32_t mark = frame_->next;
    Locate(s->range);
    switch (s->kind) {
      case Kind::Block:
        for (ast::Stmt* x : static_cast<ast::Block*>(s)->statements) Stmt(x);
        break;
      case Kind::ExprStmt:
        Expr(static_cast<ast::ExprStmt*>(s)->expr);
        break;
      case Kind::If: {
        auto* i = static_cast<ast::If*>(s);
        Value cond = Truth(Expr(i->cond));
        auto* then = llvm::BasicBlock::Create(context_, "then", frame_->fn);
        auto* otherwise = llvm::BasicBlock::Create(context_, "else", frame_->fn);
        auto* done = llvm::BasicBlock::Create(context_, "endif", frame_->fn);
        b_.CreateCondBr(cond, then, otherwise);
        b_.SetInsertPoint(then);
        Stmt(i->then);
        b_.CreateBr(done);
        b_.SetInsertPoint(otherwise);
        Stmt(i->otherwise);
        b_.CreateBr(done);
        b_.SetInsertPoint(done);
        break;
      }
      case Kind::While: {
        auto* w = static_cast<ast::While*>(s);
        LoopStmt(nullptr, w->cond, nullptr, w->body);
        break;
      }
      case Kind::For: {
        auto* f = static_cast<ast::For*>(s);
        LoopStmt(f->init, f->cond, f->step, f->body);
        break;
      }
      case Kind::Foreach:
        Foreach(static_cast<ast::Foreach*>(s));
        break;
      case Kind::Return: {
        auto* r = static_cast<ast::Return*>(s);
        Scope& scope = Top();
        if (!scope.function) {
          b_.CreateBr(frame_->exit);
          Dead();
          break;
        }
        if (r->value) {
          Value v = Expr(r->value);
          if (v->getType() == i64_)
            b_.CreateStore(v, scope.result);
          else
            CopyString(scope.result, v);
        }
        b_.CreateBr(scope.return_block);
        Dead();
        break;
      }
      case Kind::Delete:
        Delete(static_cast<ast::Delete*>(s));
        break;
      case Kind::Next:
        b_.CreateBr(frame_->exit);
        Dead();
        break;
      case Kind::Break:
      case Kind::Continue: {
        std::vector<Loop>& loops = Top().loops;
        if (loops.empty()) {
          Unsupported(s->range, "`break` or `continue` outside a loop");
          break;
        }
        b_.CreateBr(s->kind == Kind::Break ? loops.back().done : loops.back().next_iteration);
        Dead();
        break;
      }
      case Kind::Null:
        break;
      case Kind::TryCatch: {
        auto* t = static_cast<ast::TryCatch*>(s);
        auto* handler = llvm::BasicBlock::Create(context_, "catch", frame_->fn);
        auto* done = llvm::BasicBlock::Create(context_, "endtry", frame_->fn);
        Value message = nullptr;
        if (t->error_sym) {
          message = Top().vars.count(t->error_sym) ? Top().vars[t->error_sym] : nullptr;
          if (!message) {
            DeclareLocal(Top(), t->error_sym);
            message = Top().vars[t->error_sym];
          }
        }
        frame_->handlers.push_back({handler, message});
        Stmt(t->body);
        frame_->handlers.pop_back();
        b_.CreateBr(done);
        b_.SetInsertPoint(handler);
        Stmt(t->handler);
        b_.CreateBr(done);
        b_.SetInsertPoint(done);
        break;
      }
      default:
        Unsupported(s->range, "this statement");
        break;
    }
    frame_->next = mark;
  }

  // while/for. In the kernel a loop runs at most MAXACTION times (the verifier needs a
  // bound); more is a run-time error, as stap's MAXACTION is.
  void LoopStmt(ast::Expr* init, ast::Expr* cond, ast::Expr* step, ast::Stmt* body) {
    if (init) Expr(init);
    llvm::AllocaInst* count = nullptr;
    if (!frame_->user_side) {
      count = Alloca(i64_);
      b_.CreateStore(b_.getInt64(0), count);
    }
    auto* head = llvm::BasicBlock::Create(context_, "loop", frame_->fn);
    auto* inside = llvm::BasicBlock::Create(context_, "body", frame_->fn);
    auto* next = llvm::BasicBlock::Create(context_, "step", frame_->fn);
    auto* done = llvm::BasicBlock::Create(context_, "endloop", frame_->fn);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    uint32_t mark = frame_->next;
    if (count) {
      Value n = b_.CreateAdd(b_.CreateLoad(i64_, count), b_.getInt64(1));
      b_.CreateStore(n, count);
      Check(b_.CreateICmpULE(n, b_.getInt64(options_.max_action)),
            "MAXACTION exceeded" +
                Near("keyword", cond ? "while" : "for", body ? body->range : SourceRange{}));
    }
    if (cond)
      b_.CreateCondBr(Truth(Expr(cond)), inside, done);
    else
      b_.CreateBr(inside);
    frame_->next = mark;
    b_.SetInsertPoint(inside);
    Top().loops.push_back({next, done});
    Stmt(body);
    Top().loops.pop_back();
    b_.CreateBr(next);
    b_.SetInsertPoint(next);
    if (step) Expr(step);
    frame_->next = mark;
    b_.CreateBr(head);
    b_.SetInsertPoint(done);
  }

  void Foreach(ast::Foreach* f) {
    auto* s = ast::As<ast::Symbol>(f->array);
    const GlobalInfo* g = nullptr;
    if (s && s->var) {
      auto it = globals_.find(s->var);
      if (it != globals_.end() && it->second.map) g = &it->second;
    }
    if (!g) {
      Unsupported(f->range, "`foreach` over this");
      return;
    }
    if (f->has_slice) {
      Unsupported(f->range, "`foreach` over a slice");
      return;
    }
    if (g->stats && f->value) {
      Unsupported(f->value->range, "binding a statistics value", "; use @count(a[k]) and the like");
      return;
    }
    if (!frame_->user_side) {
      Unsupported(f->range, "`foreach` in a kernel-side probe",
                  "; it runs in begin, end, error and task-free timer probes");
      return;
    }
    Value limit = f->limit ? Expr(f->limit) : b_.getInt64(-1);
    stats::Op aggregate = stats::Op::Count;  // how statistics sort without an @op
    switch (f->sort_aggregate) {
      case ast::AtWord::Sum:
        aggregate = stats::Op::Sum;
        break;
      case ast::AtWord::Min:
        aggregate = stats::Op::Min;
        break;
      case ast::AtWord::Max:
        aggregate = stats::Op::Max;
        break;
      case ast::AtWord::Avg:
        aggregate = stats::Op::Avg;
        break;
      case ast::AtWord::Variance:
        aggregate = stats::Op::Variance;
        break;
      default:
        break;
    }
    uint64_t how = user_helper::ForeachHow(g->meta_index, f->sort_column, f->sort_direction,
                                           static_cast<uint32_t>(aggregate));
    Value key = ScratchAt(TempBytes(g->key_size));
    Value value = ScratchAt(TempBytes(g->value_size));
    Value iter = Helper(user_helper::kForeachBegin, i64_, {g->map, b_.getInt64(how), limit});
    auto* head = llvm::BasicBlock::Create(context_, "foreach", frame_->fn);
    auto* inside = llvm::BasicBlock::Create(context_, "each", frame_->fn);
    auto* done = llvm::BasicBlock::Create(context_, "endforeach", frame_->fn);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    Value more = Helper(user_helper::kForeachNext, i64_, {iter, key, value});
    b_.CreateCondBr(Truth(more), inside, done);
    b_.SetInsertPoint(inside);
    uint32_t mark = frame_->next;
    for (size_t k = 0; k < f->keys.size() && k < g->key_offsets.size(); ++k) {
      Place p;
      if (!PlaceOf(f->keys[k], &p)) {
        Unsupported(f->keys[k]->range, "this loop variable");
        continue;
      }
      Value at = b_.CreateConstGEP1_64(b_.getInt8Ty(), key, g->key_offsets[k]);
      Store(p, p.is_string ? at : b_.CreateLoad(i64_, at));
    }
    if (f->value) {
      Place p;
      if (PlaceOf(f->value, &p)) Store(p, p.is_string ? value : b_.CreateLoad(i64_, value));
    }
    Top().loops.push_back({head, done});
    Stmt(f->body);
    Top().loops.pop_back();
    frame_->next = mark;
    b_.CreateBr(head);
    b_.SetInsertPoint(done);
  }

  void Delete(ast::Delete* d) {
    if (auto* a = ast::As<ast::ArrayIndex>(d->target)) {
      Place p;
      if (!PlaceOf(a, &p) || !p.element) {
        Unsupported(d->range, "this `delete`");
        return;
      }
      Helper(kMapDelete, i64_, {p.array->map, p.key});
      return;
    }
    auto* s = ast::As<ast::Symbol>(d->target);
    if (s && s->var && s->var->kind == sema::VarKind::Global) {
      const GlobalInfo& g = globals_[s->var];
      if (g.storage) {
        Store(Place{s->var->type == Type::String, true, g.storage}, Zero(s->var->type));
        return;
      }
      if (!g.map) return;  // statistics: reported where declared
      if (!frame_->user_side) {
        Unsupported(d->range, "deleting a whole array in a kernel-side probe");
        return;
      }
      Helper(user_helper::kMapClear, i64_, {g.map});
      return;
    }
    if (s && s->var) {
      Place p;
      if (PlaceOf(s, &p)) Store(p, Zero(s->var->type));
      return;
    }
    Unsupported(d->range, "this `delete`");
  }

  // ---- Expressions ----

  Value Expr(ast::Expr* e) {
    Value v = ExprInner(e);
    if (!v) return e->type == Type::String ? Literal("") : b_.getInt64(0);
    return v;
  }

  Value ExprInner(ast::Expr* e) {
    switch (e->kind) {
      case Kind::NumberLit:
        return b_.getInt64(static_cast<ast::NumberLit*>(e)->value);
      case Kind::StringLit:
        return Literal(static_cast<ast::StringLit*>(e)->value);
      case Kind::Symbol:
        return ReadSymbol(static_cast<ast::Symbol*>(e));
      case Kind::ArrayIndex: {
        Place p;
        if (!PlaceOf(e, &p)) {
          Unsupported(e->range, "this array access");
          return nullptr;
        }
        return Load(p);
      }
      case Kind::ArrayIn: {
        Place p;
        if (!PlaceOf(static_cast<ast::ArrayIn*>(e)->index, &p)) {
          Unsupported(e->range, "this membership test");
          return nullptr;
        }
        return Bool(b_.CreateIsNotNull(Helper(kMapLookup, ptr_, {p.array->map, p.key})));
      }
      case Kind::Call:
        return Call(static_cast<ast::Call*>(e));
      case Kind::Unary: {
        auto* u = static_cast<ast::Unary*>(e);
        Value v = Expr(u->operand);
        switch (u->op) {
          case Tok::Minus:
            return b_.CreateNeg(v);
          case Tok::Bang:
            return Bool(b_.CreateICmpEQ(v, b_.getInt64(0)));
          case Tok::Tilde:
            return b_.CreateNot(v);
          default:
            return v;
        }
      }
      case Kind::Binary: {
        auto* x = static_cast<ast::Binary*>(e);
        Value l = Expr(x->lhs);
        Value r = Expr(x->rhs);
        return Arith(x->op, l, r, x);
      }
      case Kind::Logical: {
        auto* x = static_cast<ast::Logical*>(e);
        bool is_and = x->op == Tok::AndAnd;
        Value l = Truth(Expr(x->lhs));
        auto* from = b_.GetInsertBlock();
        auto* rhs = llvm::BasicBlock::Create(context_, "rhs", frame_->fn);
        auto* done = llvm::BasicBlock::Create(context_, "logic", frame_->fn);
        if (is_and)
          b_.CreateCondBr(l, rhs, done);
        else
          b_.CreateCondBr(l, done, rhs);
        b_.SetInsertPoint(rhs);
        Value r = Truth(Expr(x->rhs));
        auto* rhs_end = b_.GetInsertBlock();
        b_.CreateBr(done);
        b_.SetInsertPoint(done);
        auto* phi = b_.CreatePHI(b_.getInt1Ty(), 2);
        phi->addIncoming(b_.getInt1(!is_and), from);
        phi->addIncoming(r, rhs_end);
        return Bool(phi);
      }
      case Kind::Comparison: {
        auto* x = static_cast<ast::Comparison*>(e);
        Value l = Expr(x->lhs);
        Value r = Expr(x->rhs);
        if (l->getType() != i64_) {
          l = Library("btap_strcmp", i64_, {l, r, b_.getInt64(limit_)});
          r = b_.getInt64(0);
        }
        switch (x->op) {
          case Tok::Less:
            return Bool(b_.CreateICmpSLT(l, r));
          case Tok::Greater:
            return Bool(b_.CreateICmpSGT(l, r));
          case Tok::LessEq:
            return Bool(b_.CreateICmpSLE(l, r));
          case Tok::GreaterEq:
            return Bool(b_.CreateICmpSGE(l, r));
          case Tok::EqEq:
            return Bool(b_.CreateICmpEQ(l, r));
          default:
            return Bool(b_.CreateICmpNE(l, r));
        }
      }
      case Kind::Concat: {
        auto* c = static_cast<ast::Concat*>(e);
        Value l = Expr(c->lhs);
        Value r = Expr(c->rhs);
        return Concat(l, r);
      }
      case Kind::Ternary: {
        auto* t = static_cast<ast::Ternary*>(e);
        Value cond = Truth(Expr(t->cond));
        auto* then = llvm::BasicBlock::Create(context_, "then", frame_->fn);
        auto* otherwise = llvm::BasicBlock::Create(context_, "else", frame_->fn);
        auto* done = llvm::BasicBlock::Create(context_, "endif", frame_->fn);
        b_.CreateCondBr(cond, then, otherwise);
        b_.SetInsertPoint(then);
        Value a = Expr(t->then);
        auto* then_end = b_.GetInsertBlock();
        b_.CreateBr(done);
        b_.SetInsertPoint(otherwise);
        Value c = Expr(t->otherwise);
        auto* else_end = b_.GetInsertBlock();
        b_.CreateBr(done);
        b_.SetInsertPoint(done);
        auto* phi = b_.CreatePHI(a->getType(), 2);
        phi->addIncoming(a, then_end);
        phi->addIncoming(c, else_end);
        return phi;
      }
      case Kind::Assign:
        return Assign(static_cast<ast::Assign*>(e));
      case Kind::PreCrement:
      case Kind::PostCrement: {
        bool pre = e->kind == Kind::PreCrement;
        Tok op = pre ? static_cast<ast::PreCrement*>(e)->op : static_cast<ast::PostCrement*>(e)->op;
        ast::Expr* operand = pre ? static_cast<ast::PreCrement*>(e)->operand
                                 : static_cast<ast::PostCrement*>(e)->operand;
        Place p;
        if (!PlaceOf(operand, &p)) {
          Unsupported(e->range, "this increment");
          return nullptr;
        }
        auto [old, now] =
            Update(p, op == Tok::PlusPlus ? Tok::Plus : Tok::Minus, b_.getInt64(1), operand);
        return pre ? now : old;
      }
      case Kind::TargetSymbol:
        return TargetVar(static_cast<ast::TargetSymbol*>(e));
      case Kind::Defined: {
        auto* d = static_cast<ast::Defined*>(e);
        if (d->known >= 0) return b_.getInt64(d->known);
        Unsupported(e->range, "this `@defined`");
        return nullptr;
      }
      case Kind::Probewrite:
        return b_.getInt64(static_cast<ast::Probewrite*>(e)->written ? 1 : 0);
      case Kind::StatOp:
        return StatOp(static_cast<ast::StatOp*>(e));
      case Kind::HistOp:
        Unsupported(e->range, "a histogram here", "; print it with print() or println()");
        return nullptr;
      case Kind::RegexMatch:
        Unsupported(e->range, "regular expression matching");
        return nullptr;
      default:
        Unsupported(e->range, "this expression");
        return nullptr;
    }
  }

  Value Concat(Value l, Value r) {
    Value slot = StringSlot();
    Library("btap_concat", i64_, {slot, l, r, b_.getInt64(slot_), b_.getInt64(limit_)});
    return slot;
  }

  // Signed division and modulo by stap's rules: truncation toward zero, and an error for
  // a zero divisor. BPF v3 divides unsigned only, so signs are applied around it.
  Value Divide(bool modulo, Value l, Value r, ast::Node* at, ast::Expr* lhs, ast::Expr* rhs) {
    std::string op = modulo ? "%" : "/";
    SourceRange where = at->range;
    if (lhs && rhs && lhs->range.valid() && rhs->range.valid() &&
        lhs->range.end <= rhs->range.begin) {
      std::string_view t = sm_.file(lhs->range.file).text();
      std::string_view between = t.substr(lhs->range.end, rhs->range.begin - lhs->range.end);
      size_t at_op = between.find(modulo ? '%' : '/');
      if (at_op != std::string_view::npos)
        where = {lhs->range.file, static_cast<uint32_t>(lhs->range.end + at_op),
                 static_cast<uint32_t>(lhs->range.end + at_op + 1)};
    }
    Check(Truth(r), "division by 0" + Near("operator", op, where));
    Value ln = b_.CreateICmpSLT(l, b_.getInt64(0));
    Value rn = b_.CreateICmpSLT(r, b_.getInt64(0));
    Value la = b_.CreateSelect(ln, b_.CreateNeg(l), l);
    Value ra = b_.CreateSelect(rn, b_.CreateNeg(r), r);
    if (modulo) {
      Value m = b_.CreateURem(la, ra);
      return b_.CreateSelect(ln, b_.CreateNeg(m), m);
    }
    Value q = b_.CreateUDiv(la, ra);
    return b_.CreateSelect(b_.CreateXor(ln, rn), b_.CreateNeg(q), q);
  }

  Value Arith(Tok op, Value l, Value r, ast::Node* at, ast::Expr* lhs = nullptr,
              ast::Expr* rhs = nullptr) {
    if (auto* bin = ast::As<ast::Binary>(at)) {
      lhs = bin->lhs;
      rhs = bin->rhs;
    }
    Value shift = b_.CreateAnd(r, b_.getInt64(63));
    switch (op) {
      case Tok::Plus:
        return b_.CreateAdd(l, r);
      case Tok::Minus:
        return b_.CreateSub(l, r);
      case Tok::Star:
        return b_.CreateMul(l, r);
      case Tok::Slash:
        return Divide(false, l, r, at, lhs, rhs);
      case Tok::Percent:
        return Divide(true, l, r, at, lhs, rhs);
      case Tok::Shl:
        return b_.CreateShl(l, shift);
      case Tok::Shr:
        return b_.CreateAShr(l, shift);
      case Tok::UShr:
        return b_.CreateLShr(l, shift);
      case Tok::Amp:
        return b_.CreateAnd(l, r);
      case Tok::Pipe:
        return b_.CreateOr(l, r);
      default:
        return b_.CreateXor(l, r);
    }
  }

  static Tok BinaryOf(Tok assign) {
    switch (assign) {
      case Tok::AddAssign:
        return Tok::Plus;
      case Tok::SubAssign:
        return Tok::Minus;
      case Tok::MulAssign:
        return Tok::Star;
      case Tok::DivAssign:
        return Tok::Slash;
      case Tok::ModAssign:
        return Tok::Percent;
      case Tok::ShlAssign:
        return Tok::Shl;
      case Tok::ShrAssign:
        return Tok::Shr;
      case Tok::AndAssign:
        return Tok::Amp;
      case Tok::XorAssign:
        return Tok::Caret;
      case Tok::OrAssign:
        return Tok::Pipe;
      default:
        return Tok::Assign;
    }
  }

  // A read-modify-write of a long: atomic for globals and array elements when the
  // operation allows it (so counters from many CPUs add up). Returns {old, new}.
  std::pair<Value, Value> Update(const Place& p, Tok op, Value operand, ast::Expr* at) {
    bool additive = op == Tok::Plus || op == Tok::Minus;
    Value delta = op == Tok::Minus ? b_.CreateNeg(operand) : operand;
    if (!p.element) {
      if (p.atomic && additive) {
        Value old = b_.CreateAtomicRMW(llvm::AtomicRMWInst::Add, p.address, delta,
                                       llvm::MaybeAlign(8), llvm::AtomicOrdering::Monotonic);
        return {old, b_.CreateAdd(old, delta)};
      }
      Value old = b_.CreateLoad(i64_, p.address);
      Value now = Arith(op, old, operand, at, at, nullptr);
      b_.CreateStore(now, p.address);
      return {old, now};
    }
    Value found = Helper(kMapLookup, ptr_, {p.array->map, p.key});
    auto* hit = llvm::BasicBlock::Create(context_, "found", frame_->fn);
    auto* miss = llvm::BasicBlock::Create(context_, "missing", frame_->fn);
    auto* done = llvm::BasicBlock::Create(context_, "updated", frame_->fn);
    b_.CreateCondBr(b_.CreateIsNotNull(found), hit, miss);
    b_.SetInsertPoint(hit);
    Value old_hit, new_hit;
    if (additive) {
      old_hit = b_.CreateAtomicRMW(llvm::AtomicRMWInst::Add, found, delta, llvm::MaybeAlign(8),
                                   llvm::AtomicOrdering::Monotonic);
      new_hit = b_.CreateAdd(old_hit, delta);
    } else {
      old_hit = b_.CreateLoad(i64_, found);
      new_hit = Arith(op, old_hit, operand, at, at, nullptr);
      b_.CreateStore(new_hit, found);
    }
    auto* hit_end = b_.GetInsertBlock();
    b_.CreateBr(done);
    b_.SetInsertPoint(miss);
    Value new_miss = Arith(op, b_.getInt64(0), operand, at, at, nullptr);
    Place copy = p;
    Store(copy, new_miss);
    auto* miss_end = b_.GetInsertBlock();
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
    auto* old = b_.CreatePHI(i64_, 2);
    old->addIncoming(old_hit, hit_end);
    old->addIncoming(b_.getInt64(0), miss_end);
    auto* now = b_.CreatePHI(i64_, 2);
    now->addIncoming(new_hit, hit_end);
    now->addIncoming(new_miss, miss_end);
    return {old, now};
  }

  Value Assign(ast::Assign* a) {
    if (a->op == Tok::StatAccum) {
      Accumulate(a);
      return nullptr;
    }
    Place p;
    if (!PlaceOf(a->lhs, &p)) {
      Unsupported(a->range, "this assignment");
      return nullptr;
    }
    Value r = Expr(a->rhs);
    if (a->op == Tok::Assign) {
      Store(p, r);
      return p.is_string && !p.element ? p.address : r;
    }
    if (a->op == Tok::ConcatAssign) {
      Value now = Concat(Load(p), r);
      Store(p, now);
      return now;
    }
    return Update(p, BinaryOf(a->op), r, a).second;
  }

  Value TargetVar(ast::TargetSymbol* t) {
    const sema::Probe* probe = frame_->probe;
    if (!t->components.empty() || t->addressof) {
      Unsupported(t->range, "member access, indexing and `&` on target variables",
                  "; they need kernel type information (CO-RE)");
      return nullptr;
    }
    std::string_view name = t->name.substr(t->name[0] == '$' ? 1 : 0);
    for (const sema::TargetArg& arg : probe->spec.args) {
      if (arg.name != name) continue;
      if (probe->spec.family != sema::Family::Tracepoint) break;
      if (!probe->spec.args_from_format) {
        Value slot = b_.CreateConstGEP1_64(i64_, frame_->ctx, arg.index);
        Value v = b_.CreateLoad(i64_, slot);
        return Extend(v, arg.size, arg.is_signed);
      }
      Value field = b_.CreateConstGEP1_64(b_.getInt8Ty(), frame_->ctx, arg.offset);
      if (arg.is_array) return b_.CreatePtrToInt(field, i64_);
      if (arg.is_dynamic) {
        Value loc = b_.CreateLoad(b_.getInt32Ty(), field);
        Value off = b_.CreateAnd(b_.CreateZExt(loc, i64_), b_.getInt64(0xffff));
        return b_.CreatePtrToInt(b_.CreateGEP(b_.getInt8Ty(), frame_->ctx, off), i64_);
      }
      uint32_t size = arg.size == 1 || arg.size == 2 || arg.size == 4 ? arg.size : 8;
      Value v = b_.CreateLoad(b_.getIntNTy(size * 8), field);
      return size == 8 ? v : arg.is_signed ? b_.CreateSExt(v, i64_) : b_.CreateZExt(v, i64_);
    }
    Unsupported(t->range, "target variable `" + std::string(t->name) + "` in this probe");
    return nullptr;
  }

  Value Extend(Value v, uint32_t size, bool is_signed) {
    if (size >= 8 || size == 0) return v;
    llvm::Type* narrow = b_.getIntNTy(size * 8);
    Value t = b_.CreateTrunc(v, narrow);
    return is_signed ? b_.CreateSExt(t, i64_) : b_.CreateZExt(t, i64_);
  }

  // ---- Statistics ----

  // The statistics variable or element an aggregate names: its map and key.
  bool StatsPlace(ast::Expr* operand, const GlobalInfo** info, Value* key) {
    const sema::Variable* v = AggregateVar(operand);
    auto it = v ? globals_.find(v) : globals_.end();
    if (it == globals_.end() || !it->second.stats || !it->second.map) return false;
    *info = &it->second;
    if (auto* a = ast::As<ast::ArrayIndex>(operand)) {
      *key = Key(a, it->second);
      return *key != nullptr;
    }
    Value zero = Alloca(b_.getInt32Ty());
    b_.CreateStore(b_.getInt32(0), zero);
    *key = zero;
    return true;
  }

  Value Slot(Value value, uint32_t slot) { return b_.CreateConstGEP1_64(i64_, value, slot); }

  // x <<< v: this CPU's copy of the value is updated (no other CPU writes it).
  void Accumulate(ast::Assign* a) {
    const GlobalInfo* g = nullptr;
    Value key = nullptr;
    if (!StatsPlace(a->lhs, &g, &key)) {
      Unsupported(a->range, "this `<<<`");
      return;
    }
    Value v = Expr(a->rhs);
    Value value = Helper(kMapLookup, ptr_, {g->map, key});
    if (ast::Is<ast::ArrayIndex>(a->lhs)) {
      // A new element starts from zeros.
      auto* create = llvm::BasicBlock::Create(context_, "new", frame_->fn);
      auto* have = llvm::BasicBlock::Create(context_, "have", frame_->fn);
      auto* entry_end = b_.GetInsertBlock();
      b_.CreateCondBr(b_.CreateIsNull(value), create, have);
      b_.SetInsertPoint(create);
      Helper(kMapUpdate, i64_, {g->map, key, Zeros(), b_.getInt64(kNoExist)});
      Value created = Helper(kMapLookup, ptr_, {g->map, key});
      Check(b_.CreateIsNotNull(created),
            "Array overflow, check MAXMAPENTRIES" +
                Near("identifier", ArrayName(ast::As<ast::ArrayIndex>(a->lhs)), a->lhs->range));
      auto* create_end = b_.GetInsertBlock();
      b_.CreateBr(have);
      b_.SetInsertPoint(have);
      auto* phi = b_.CreatePHI(ptr_, 2);
      phi->addIncoming(value, entry_end);
      phi->addIncoming(created, create_end);
      value = phi;
    } else {
      Continue(b_.CreateIsNotNull(value), "stats");
    }
    Value count = b_.CreateLoad(i64_, Slot(value, stats::kCount));
    Value first = b_.CreateICmpEQ(count, b_.getInt64(0));
    b_.CreateStore(b_.CreateAdd(count, b_.getInt64(1)), Slot(value, stats::kCount));
    b_.CreateStore(b_.CreateAdd(b_.CreateLoad(i64_, Slot(value, stats::kSum)), v),
                   Slot(value, stats::kSum));
    b_.CreateStore(
        b_.CreateAdd(b_.CreateLoad(i64_, Slot(value, stats::kSumSquares)), b_.CreateMul(v, v)),
        Slot(value, stats::kSumSquares));
    Value min = b_.CreateLoad(i64_, Slot(value, stats::kMin));
    Value max = b_.CreateLoad(i64_, Slot(value, stats::kMax));
    b_.CreateStore(b_.CreateSelect(b_.CreateOr(first, b_.CreateICmpSLT(v, min)), v, min),
                   Slot(value, stats::kMin));
    b_.CreateStore(b_.CreateSelect(b_.CreateOr(first, b_.CreateICmpSGT(v, max)), v, max),
                   Slot(value, stats::kMax));
    if (g->shape.hist == stats::Hist::None) return;
    Value bucket = Bucket(v, g->shape);
    Value at = b_.CreateGEP(i64_, value, b_.CreateAdd(bucket, b_.getInt64(stats::kBuckets)));
    b_.CreateStore(b_.CreateAdd(b_.CreateLoad(i64_, at), b_.getInt64(1)), at);
  }

  // The histogram bucket of v, bounded so that the verifier can see it.
  Value Bucket(Value v, const stats::Shape& shape) {
    if (shape.hist == stats::Hist::Log) {
      Value negative = b_.CreateICmpSLT(v, b_.getInt64(0));
      Value magnitude = b_.CreateSelect(negative, b_.CreateNeg(v), v);
      // floor(log2(magnitude)) by halving (LLVM's BPF backend cannot lower ctlz).
      Value log2 = b_.getInt64(0);
      for (int shift : {32, 16, 8, 4, 2, 1}) {
        Value high = b_.CreateICmpUGE(magnitude, b_.getInt64(int64_t{1} << shift));
        magnitude = b_.CreateSelect(high, b_.CreateLShr(magnitude, shift), magnitude);
        log2 = b_.CreateSelect(high, b_.CreateAdd(log2, b_.getInt64(shift)), log2);
      }
      Value up = b_.CreateAdd(log2, b_.getInt64(stats::kLogZero + 1));
      Value down = b_.CreateSub(b_.getInt64(stats::kLogZero - 1), log2);
      Value index = b_.CreateSelect(negative, down, up);
      index =
          b_.CreateSelect(b_.CreateICmpEQ(v, b_.getInt64(0)), b_.getInt64(stats::kLogZero), index);
      return b_.CreateAnd(index, b_.getInt64(stats::kLogBuckets - 1));
    }
    uint32_t buckets = shape.Buckets();
    Value below = b_.CreateICmpSLT(v, b_.getInt64(shape.start));
    Value offset = b_.CreateSub(v, b_.getInt64(shape.start));
    Value index = b_.CreateAdd(b_.CreateUDiv(offset, b_.getInt64(shape.interval)), b_.getInt64(1));
    index = b_.CreateSelect(b_.CreateICmpUGT(index, b_.getInt64(buckets - 1)),
                            b_.getInt64(buckets - 1), index);
    index = b_.CreateSelect(below, b_.getInt64(0), index);
    // The verifier needs a bound it can see: a mask that changes nothing.
    return b_.CreateAnd(index, b_.getInt64(NextPow2(buckets) - 1));
  }

  Value Zeros() {
    if (!zeros_) {
      zeros_ = new llvm::GlobalVariable(module_, llvm::ArrayType::get(b_.getInt8Ty(), 1), true,
                                        llvm::GlobalValue::InternalLinkage, nullptr, "zeros");
      zeros_->setSection(".rodata");
      zeros_->setAlignment(llvm::Align(8));
    }
    return zeros_;
  }

  // The merged value of a statistics variable or element (user side: the interpreter
  // merges the CPUs' copies), or null when it has none.
  Value MergedStats(ast::Expr* operand, SourceRange at) {
    const GlobalInfo* g = nullptr;
    Value key = nullptr;
    if (!frame_->user_side) {
      Unsupported(at, "reading statistics in a kernel-side probe",
                  "; read them in begin, end, error or task-free timer probes");
      return nullptr;
    }
    if (!StatsPlace(operand, &g, &key)) {
      Unsupported(at, "this aggregate");
      return nullptr;
    }
    return Helper(kMapLookup, ptr_, {g->map, key});
  }

  Value StatOp(ast::StatOp* s) {
    Value value = MergedStats(s->operand, s->range);
    if (!value) return nullptr;
    auto* have = llvm::BasicBlock::Create(context_, "stats", frame_->fn);
    auto* none = llvm::BasicBlock::Create(context_, "nostats", frame_->fn);
    auto* done = llvm::BasicBlock::Create(context_, "aggregate", frame_->fn);
    b_.CreateCondBr(b_.CreateIsNotNull(value), have, none);
    b_.SetInsertPoint(have);
    Value count = b_.CreateLoad(i64_, Slot(value, stats::kCount));
    Value result = nullptr;
    bool needs_data = s->op != ast::AtWord::Count && s->op != ast::AtWord::Sum;
    std::string empty =
        "empty aggregate" +
        Near("operator", "@" + std::string(frontend::AtWordSpelling(s->op)), s->range);
    if (needs_data) Check(b_.CreateICmpSGT(count, b_.getInt64(0)), empty);
    switch (s->op) {
      case ast::AtWord::Count:
        result = count;
        break;
      case ast::AtWord::Sum:
        result = b_.CreateLoad(i64_, Slot(value, stats::kSum));
        break;
      case ast::AtWord::Min:
        result = b_.CreateLoad(i64_, Slot(value, stats::kMin));
        break;
      case ast::AtWord::Max:
        result = b_.CreateLoad(i64_, Slot(value, stats::kMax));
        break;
      case ast::AtWord::Avg:
        result = Divide(false, b_.CreateLoad(i64_, Slot(value, stats::kSum)), count, s, nullptr,
                        nullptr);
        break;
      default: {
        // (n * sum(x^2) - sum(x)^2) / (n * (n - 1)), 0 for a single sample.
        Value sum = b_.CreateLoad(i64_, Slot(value, stats::kSum));
        Value squares = b_.CreateLoad(i64_, Slot(value, stats::kSumSquares));
        Value top = b_.CreateSub(b_.CreateMul(count, squares), b_.CreateMul(sum, sum));
        Value bottom = b_.CreateMul(count, b_.CreateSub(count, b_.getInt64(1)));
        Value one = b_.CreateICmpSLE(count, b_.getInt64(1));
        bottom = b_.CreateSelect(one, b_.getInt64(1), bottom);
        result =
            b_.CreateSelect(one, b_.getInt64(0), Divide(false, top, bottom, s, nullptr, nullptr));
        break;
      }
    }
    auto* have_end = b_.GetInsertBlock();
    b_.CreateBr(done);
    b_.SetInsertPoint(none);
    if (needs_data) Fail(EscapePercent(empty));
    auto* none_end = b_.GetInsertBlock();
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
    auto* phi = b_.CreatePHI(i64_, 2);
    phi->addIncoming(result, have_end);
    phi->addIncoming(b_.getInt64(0), none_end);
    return phi;
  }

  void PrintHistogram(ast::HistOp* h) {
    Value value = MergedStats(h->operand, h->range);
    if (!value) return;
    const sema::Variable* v = AggregateVar(h->operand);
    const stats::Shape& shape = globals_[v].shape;
    std::string empty =
        "empty aggregate" +
        Near("operator", "@" + std::string(frontend::AtWordSpelling(h->op)), h->range);
    Check(b_.CreateIsNotNull(value), empty);
    Check(b_.CreateICmpSGT(b_.CreateLoad(i64_, Slot(value, stats::kCount)), b_.getInt64(0)), empty);
    uint64_t packed = static_cast<uint64_t>(shape.hist) | (uint64_t{shape.Buckets()} << 8);
    Helper(user_helper::kPrintHistogram, i64_,
           {value, b_.getInt64(packed), b_.getInt64(shape.start), b_.getInt64(shape.interval)});
  }

  // ---- Calls ----

  Value Call(ast::Call* c) {
    if (IsPrintFamily(c)) return Print(c);
    const sema::Function* f = c->callee;
    if (f->intrinsic >= 0) return IntrinsicCall(static_cast<Intrinsic>(f->intrinsic), c);
    if (!f->decl || !f->decl->body) {
      Unsupported(c->range, "a call to `" + std::string(f->name) + "`",
                  f->decl && f->decl->has_embedded ? "; its body is embedded C" : "");
      return nullptr;
    }
    // Arguments are evaluated in the caller's scope, then bound in the callee's.
    std::vector<Value> args;
    for (ast::Expr* a : c->args) args.push_back(Expr(a));
    Scope scope;
    scope.function = f;
    scope.return_block = llvm::BasicBlock::Create(context_, "return", frame_->fn);
    if (f->ret == Type::String) {
      scope.result = StringSlot();
      b_.CreateStore(b_.getInt8(0), scope.result);
    } else {
      scope.result = Alloca(i64_);
      b_.CreateStore(b_.getInt64(0), scope.result);
    }
    frame_->scopes.push_back(&scope);
    frame_->calls.push_back(c->range);
    for (size_t i = 0; i < f->params.size() && i < args.size(); ++i) {
      const sema::Variable* param = f->params[i];
      DeclareLocal(scope, param);
      Value storage = scope.vars[param];
      if (!storage) continue;
      if (param->type == Type::String)
        CopyString(storage, args[i]);
      else if (args[i]->getType() == i64_)
        b_.CreateStore(args[i], storage);
    }
    for (const sema::Variable* v : f->locals) DeclareLocal(scope, v);
    Stmt(f->decl->body);
    b_.CreateBr(scope.return_block);
    frame_->scopes.pop_back();
    frame_->calls.pop_back();
    b_.SetInsertPoint(scope.return_block);
    Locate(c->range);
    if (f->ret == Type::String) return scope.result;
    return b_.CreateLoad(i64_, scope.result);
  }

  Value Print(ast::Call* c) {
    std::string_view name = c->name;
    bool to_string = name[0] == 's';
    if (to_string) {
      name = name.substr(1);
      if (!frame_->user_side) {
        Unsupported(c->range, "`" + std::string(c->name) + "` in a kernel-side probe",
                    "; kernel-side string formatting comes with the kernel-side string work");
        return nullptr;
      }
    }
    std::string format;
    std::vector<Value> args;
    std::span<ast::Expr*> rest = c->args;
    if (name == "printf") {
      auto* fmt = c->args.empty() ? nullptr : ast::As<ast::StringLit>(c->args[0]);
      if (!fmt) {
        Unsupported(c->range, "`printf` with a format that is not a literal string");
        return nullptr;
      }
      format = std::string(fmt->value);
      rest = rest.subspan(1);
    } else {
      std::string delimiter;
      bool delimited = name == "printd" || name == "printdln";
      if (delimited) {
        auto* d = c->args.empty() ? nullptr : ast::As<ast::StringLit>(c->args[0]);
        if (!d) {
          Unsupported(c->range, "a delimiter that is not a literal string");
          return nullptr;
        }
        delimiter = EscapePercent(d->value);
        rest = rest.subspan(1);
      }
      for (size_t i = 0; i < rest.size(); ++i) {
        if (i && delimited) format += delimiter;
        format += rest[i]->type == Type::String ? "%s" : "%d";
      }
      if (name == "println" || name == "printdln") format += "\n";
    }
    if (!to_string && rest.size() == 1 && ast::Is<ast::HistOp>(rest[0]) &&
        (name == "print" || name == "println")) {
      PrintHistogram(static_cast<ast::HistOp*>(rest[0]));
      if (name == "println") Record(record::Kind::Printf, FormatId("\n"), {});
      return nullptr;
    }
    for (ast::Expr* a : rest) {
      if (ast::Is<ast::HistOp>(a)) {
        Unsupported(a->range, "a histogram among other arguments",
                    "; print it alone with print() or println()");
        return nullptr;
      }
    }
    for (ast::Expr* a : rest) args.push_back(Expr(a));
    if (!to_string) {
      Record(record::Kind::Printf, FormatId(format), args);
      return nullptr;
    }
    Value size = BuildRecord(record::Kind::Printf, FormatId(format), args);
    Value slot = StringSlot();
    Helper(user_helper::kSprintf, i64_, {slot, b_.getInt64(limit_), ScratchAt(uint32_t{0}), size});
    return slot;
  }

  Value Arg(ast::Call* c, size_t i) {
    return i < c->args.size() ? Expr(c->args[i]) : b_.getInt64(0);
  }

  Value IntrinsicCall(Intrinsic which, ast::Call* c) {
    switch (which) {
      case Intrinsic::execname: {
        Value slot = StringSlot();
        Helper(kCurrentComm, i64_, {slot, b_.getInt32(16)});
        return slot;
      }
      case Intrinsic::pid:
        return b_.CreateLShr(Helper(kCurrentPidTgid, i64_, {}), 32);
      case Intrinsic::tid:
        return b_.CreateAnd(Helper(kCurrentPidTgid, i64_, {}), b_.getInt64(0xffffffff));
      case Intrinsic::uid:
        return b_.CreateAnd(Helper(kCurrentUidGid, i64_, {}), b_.getInt64(0xffffffff));
      case Intrinsic::gid:
        return b_.CreateLShr(Helper(kCurrentUidGid, i64_, {}), 32);
      case Intrinsic::cpu:
        return b_.CreateZExt(Helper(kSmpProcessorId, b_.getInt32Ty(), {}), i64_);
      case Intrinsic::target:
        return b_.CreateLoad(i64_, target_);
      case Intrinsic::pp:
        return Literal(frame_->probe->spec.point);
      case Intrinsic::is_return:
        return b_.getInt64(frame_->probe->spec.is_return ? 1 : 0);
      case Intrinsic::ktime_get_ns:
      case Intrinsic::local_clock_ns:
        return Helper(kKtimeGetNs, i64_, {});
      case Intrinsic::gettimeofday_ns:
        return b_.CreateAdd(Helper(kKtimeGetNs, i64_, {}), b_.CreateLoad(i64_, realtime_offset_));
      case Intrinsic::jiffies:
        return Helper(kJiffies64, i64_, {});
      case Intrinsic::strlen:
        return Library("btap_strlen", i64_, {Arg(c, 0), b_.getInt64(limit_)});
      case Intrinsic::substr: {
        Value str = Arg(c, 0), start = Arg(c, 1), length = Arg(c, 2);
        Value slot = StringSlot();
        Library("btap_substr", i64_,
                {slot, str, start, length, b_.getInt64(slot_), b_.getInt64(limit_)});
        return slot;
      }
      case Intrinsic::strpos: {
        if (!frame_->user_side) {
          // Its nested loops exceed what the verifier explores; bpf_loop will carry it.
          Unsupported(c->range, "searching a string (strpos, isinstr) in a kernel-side probe",
                      "; search in begin, end, error or task-free timer probes");
          return nullptr;
        }
        Value str = Arg(c, 0), needle = Arg(c, 1);
        return Library("btap_strpos", i64_, {str, needle, b_.getInt64(slot_), b_.getInt64(limit_)});
      }
      case Intrinsic::stringat: {
        Value str = Arg(c, 0), pos = Arg(c, 1);
        Value byte =
            Library("btap_stringat", i64_, {str, pos, b_.getInt64(slot_), b_.getInt64(limit_)});
        Check(b_.CreateICmpSGE(byte, b_.getInt64(0)),
              "Invalid string index" + Near("identifier", c->name, c->range));
        return byte;
      }
      case Intrinsic::kernel_string:
      case Intrinsic::user_string:
      case Intrinsic::kernel_string_n:
      case Intrinsic::user_string_n: {
        bool user = which == Intrinsic::user_string || which == Intrinsic::user_string_n;
        bool sized = which == Intrinsic::kernel_string_n || which == Intrinsic::user_string_n;
        Value address = Arg(c, 0);
        Value size = b_.getInt32(limit_);
        if (sized) {
          Value n = b_.CreateAdd(Arg(c, 1), b_.getInt64(1));
          n = b_.CreateSelect(b_.CreateICmpUGT(n, b_.getInt64(limit_)), b_.getInt64(limit_), n);
          n = b_.CreateSelect(b_.CreateICmpSLT(n, b_.getInt64(1)), b_.getInt64(1), n);
          size = b_.CreateTrunc(n, b_.getInt32Ty());
        }
        Value slot = StringSlot();
        Value rc = Helper(user ? kProbeReadUserStr : kProbeReadKernelStr, i64_,
                          {slot, size, b_.CreateIntToPtr(address, ptr_)});
        std::string what = user ? "user string copy fault" : "kernel string copy fault";
        CheckFormat(b_.CreateICmpSGE(rc, b_.getInt64(0)),
                    what + " at %p [man error::fault]" +
                        EscapePercent(Near("identifier", c->name, c->range)),
                    {address});
        return slot;
      }
      case Intrinsic::kernel_read:
      case Intrinsic::user_read: {
        bool user = which == Intrinsic::user_read;
        auto* n = c->args.size() > 1 ? ast::As<ast::NumberLit>(c->args[1]) : nullptr;
        if (!n || (n->value != 1 && n->value != 2 && n->value != 4 && n->value != 8)) {
          Unsupported(c->range, "a read whose size is not a literal 1, 2, 4 or 8");
          return nullptr;
        }
        Value address = Arg(c, 0);
        Value buf = Alloca(i64_);
        b_.CreateStore(b_.getInt64(0), buf);
        Value rc = Helper(
            user ? kProbeReadUser : kProbeReadKernel, i64_,
            {buf, b_.getInt32(static_cast<uint32_t>(n->value)), b_.CreateIntToPtr(address, ptr_)});
        CheckFormat(b_.CreateICmpSGE(rc, b_.getInt64(0)),
                    std::string(user ? "user" : "kernel") +
                        " memory read fault at %p [man error::fault]" +
                        EscapePercent(Near("identifier", c->name, c->range)),
                    {address});
        return Extend(b_.CreateLoad(i64_, buf), static_cast<uint32_t>(n->value), true);
      }
      case Intrinsic::exit:
        b_.CreateStore(b_.getInt64(1), exiting_);
        Record(record::Kind::Exit, 0, {});
        return nullptr;
      case Intrinsic::abort:
        // Stops at once: no end probes (format id 1 marks an abort).
        b_.CreateStore(b_.getInt64(1), exiting_);
        Record(record::Kind::Exit, 1, {});
        b_.CreateBr(frame_->exit);
        Dead();
        return nullptr;
      case Intrinsic::error:
        Fail("%s", {Arg(c, 0)});
        return nullptr;
      case Intrinsic::warn:
        Record(record::Kind::Warning, FormatId("%s"), {Arg(c, 0)});
        return nullptr;
      case Intrinsic::log:
        Record(record::Kind::Printf, FormatId("%s\n"), {Arg(c, 0)});
        return nullptr;
      default:
        Unsupported(c->range, "`" + std::string(c->name) + "`");
        return nullptr;
    }
  }

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
    std::vector<Scope*> scopes;
    std::vector<Handler> handlers;   // enclosing `try` blocks, innermost last
    std::vector<SourceRange> calls;  // the inlined calls being lowered, outermost first
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
  uint32_t probe_temps_ = 0;
  bool kernel_records_ = false;
  bool failed_ = false;
  std::set<std::pair<FileId, uint32_t>> reported_;
  std::set<std::string> names_;
  std::map<std::string, llvm::GlobalVariable*> literals_;
  std::map<std::string, uint32_t> format_ids_;
  std::map<const sema::Variable*, GlobalInfo> globals_;
  std::map<const sema::Variable*, stats::Shape> shapes_;
  uint32_t max_stats_value_ = 0;
  llvm::GlobalVariable* zeros_ = nullptr;  // read-only zeros to clear a new statistics value
  std::map<FileId, llvm::DIFile*> files_;
  llvm::GlobalVariable* exiting_ = nullptr;
  llvm::GlobalVariable* lost_ = nullptr;
  llvm::GlobalVariable* target_ = nullptr;
  llvm::GlobalVariable* realtime_offset_ = nullptr;
  llvm::GlobalVariable* output_ = nullptr;
  llvm::GlobalVariable* scratch_placeholder_ = nullptr;
  Frame* frame_ = nullptr;
};

}  // namespace

bool Compile(const sema::Program& program, const SourceManager& sm, const CompileOptions& options,
             DiagnosticSink& diags, Compiled* out) {
  llvm::LLVMContext context;
  auto module = std::make_unique<llvm::Module>(options.script_name, context);
  std::string error;
  if (!ConfigureModule(*module, &error)) {
    diags.Report(Diag::CodegenFailed, SourceRange{}, {error});
    return false;
  }
  Lowering lowering(program, sm, options, diags, *module);
  if (!lowering.Run(&out->meta)) return false;
  if (!LinkRuntimeLibrary(*module, &error)) {
    diags.Report(Diag::CodegenFailed, SourceRange{}, {error});
    return false;
  }
  AddMetaSection(*module, meta::Encode(out->meta));
  if (!EmitObject(*module, out->object, &error, options.want_assembly ? &out->assembly : nullptr)) {
    diags.Report(Diag::CodegenFailed, SourceRange{}, {error});
    return false;
  }
  llvm::raw_string_ostream ir(out->ir);
  module->print(ir, nullptr);
  return true;
}

}  // namespace btap::codegen
