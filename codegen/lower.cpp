// Passes 3 and 4, the module level: globals and limits, one program per probe, the
// IR helpers every part uses, and Compile (see lower.h and lowering.h).
#include "codegen/lowering.h"

#include <bpf/btf.h>

#include <cctype>
#include <functional>

namespace btap::codegen::lowering {

bool Lowering::Run(meta::Meta* meta) {
  meta_.script_name = options_.script_name;
  meta_.script_hash = options_.script_hash;
  meta_.limits = {limit_, options_.max_map_entries, options_.max_errors, options_.max_action};
  meta_.kernel_terms = options_.kernel_terms;
  i64_ = b_.getInt64Ty();
  ptr_ = b_.getPtrTy();
  DefineRuntimeData();
  record_size_ = NextPow2(MaxRecordSize() + 1);
  scratch_placeholder_ =
      new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage, nullptr,
                               "__btap_scratch_placeholder");
  ScanStatistics();
  ScanKeyWidths();
  ScanConstantLocals();
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
  GroupSharedProbes();
  for (const sema::Probe* p : program_.probes) LowerProbe(*p);
  for (int r = 0; r < 2; ++r)
    if (!syscall_bodies_[r].empty()) EmitSyscallDispatch(r == 1, syscall_bodies_[r]);
  if (tree_) EmitTargetTreeTracker();
  if (exe_procs_) EmitExeTrackers();
  FinishScratch();
  if (!failed_ && !LinkEmbeddedC()) failed_ = true;
  maps_.Finalize();
  meta_.symbol_tags = symbol_tags_;
  *meta = std::move(meta_);
  return !failed_;
}

void Lowering::Unsupported(SourceRange at, std::string what, std::string where) {
  failed_ = true;
  if (!reported_.insert({at.file, at.begin}).second) return;
  // Once for a call of a function, whichever of its lines could not be compiled (as
  // register()'s one line a register name).
  if (frame_ && !frame_->calls.empty()) {
    const SourceRange& call = frame_->calls.front();
    if (!reported_calls_.insert({call.file, call.begin, what + where}).second) return;
  }
  diags_.Report(Diag::NotCompiledYet, at, {what, where});
  // Inside inlined functions, the calls that led here (innermost first).
  if (frame_)
    for (auto it = frame_->calls.rbegin(); it != frame_->calls.rend(); ++it)
      diags_.Note(Diag::CalledFrom, *it);
}

// The script function whose inlined body is being lowered, outermost first (null in a
// probe's own body).
const sema::Function* Lowering::OutermostCall() const {
  if (frame_)
    for (const Scope* s : frame_->scopes)
      if (s->function) return s->function;
  return nullptr;
}

bool Lowering::Guru(ast::Call* c, const std::string& what) {
  if (options_.guru) return true;
  failed_ = true;
  // At the script's call of the tapset function (set_user_int(), raise()), the outermost.
  SourceRange at = frame_ && !frame_->calls.empty() ? frame_->calls.front() : c->range;
  const sema::Function* called = OutermostCall();
  if (reported_.insert({at.file, at.begin}).second)
    diags_.Report(Diag::NeedsGuruMode, at,
                  {what + (called ? " (`" + std::string(called->name) + "`)" : std::string())});
  return false;
}

std::string Lowering::Text(SourceRange r) const {
  if (!r.valid()) return "";
  std::string_view t = sm_.file(r.file).text();
  return std::string(t.substr(r.begin, r.end - r.begin));
}

// "file:line:col" of a place in the script ("" for none).
std::string Lowering::Location(SourceRange at) const {
  if (!at.valid()) return "";
  const SourceFile& f = sm_.file(at.file);
  LineColumn lc = f.Locate(at.begin);
  return f.name() + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
}

// stap's " near <token> at file:line:col" for run-time errors.
std::string Lowering::Near(std::string_view token_kind, std::string_view token,
                           SourceRange at) const {
  std::string s = " near " + std::string(token_kind) + " '" + std::string(token) + "'";
  if (at.valid()) s += " at " + Location(at);
  return s;
}

std::string Lowering::NearCall(std::string_view name, SourceRange at) const {
  if (!frame_ || frame_->calls.empty()) return Near("identifier", name, at);
  SourceRange outer = frame_->calls.front();
  std::string text = Text(outer);
  size_t end = 0;
  while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) ||
                               text[end] == '_' || text[end] == '@'))
    ++end;
  return Near("identifier", text.substr(0, end), outer);
}

llvm::GlobalVariable* Lowering::RuntimeVar(const char* name, uint32_t bytes) {
  if (llvm::GlobalVariable* made = module_.getNamedGlobal(name)) return made;
  llvm::Type* type =
      bytes == 8 ? static_cast<llvm::Type*>(i64_) : llvm::ArrayType::get(b_.getInt8Ty(), bytes);
  auto* g = new llvm::GlobalVariable(module_, type, false, llvm::GlobalValue::ExternalLinkage,
                                     llvm::Constant::getNullValue(type), name);
  g->setAlignment(llvm::Align(8));
  g->setSection(".bss");
  return g;
}

void Lowering::DefineRuntimeData() {
  // The session's words are one block (session::kSessionWords), so that an error path
  // reaches the three from one address.
  auto* words = RuntimeVar(session::kStateVariable, 8 * session::kSessionWords);
  exiting_ = words;
  stop_error_ = b_.CreateConstGEP1_64(b_.getInt8Ty(), words, 8 * session::kStopErrorWord);
  errors_ = b_.CreateConstGEP1_64(b_.getInt8Ty(), words, 8 * session::kErrorsWord);
  lost_ = RuntimeVar("__btap_lost");
  target_ = RuntimeVar("__btap_target");
  stp_pid_ = RuntimeVar("__btap_stp_pid");
  stp_uid_ = RuntimeVar("__btap_stp_uid");
  realtime_offset_ = RuntimeVar("__btap_realtime_offset");
  cpus_ = RuntimeVar("__btap_cpus");
  // Defined at the end, once it is known whether kernel probes write records.
  output_ = new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage,
                                     nullptr, "__btap_output_placeholder");
  auto* license = llvm::ConstantDataArray::getString(context_, "GPL");
  auto* g = new llvm::GlobalVariable(module_, license->getType(), true,
                                     llvm::GlobalValue::ExternalLinkage, license, "_license");
  g->setSection("license");
}

void Lowering::DefineGlobal(const sema::Variable* v) {
  GlobalInfo info;
  std::string name = UniqueName("g_" + std::string(v->name));
  meta::Global mg;
  mg.name = std::string(v->name);
  mg.map = name;
  mg.value = v->type == Type::String  ? meta::ValueType::String
             : v->type == Type::Stats ? meta::ValueType::Stats
                                      : meta::ValueType::Long;
  mg.print_at_exit = v->written && !v->read && !v->from_tapset;  // the script's own, as stap
  mg.adds_only = !v->assigned;
  // Keys (arrays): packed longs and string fields, in order; a string field is a whole
  // slot unless every key written or looked up there is short (ScanKeyWidths).
  auto widths = key_widths_.find(v);
  for (size_t k = 0; k < v->key_types.size(); ++k) {
    uint32_t width = 8;
    if (v->key_types[k] == Type::String) {
      width = slot_;
      if (widths != key_widths_.end() && k < widths->second.size() && widths->second[k])
        width = std::min(slot_, Align8(widths->second[k]));
    }
    info.key_offsets.push_back(info.key_size);
    info.key_widths.push_back(width);
    info.key_size += width;
    mg.keys.push_back(v->key_types[k] == Type::String ? meta::ValueType::String
                                                      : meta::ValueType::Long);
    mg.key_widths.push_back(width);
  }
  uint32_t entries = v->global && v->global->size > 0 ? static_cast<uint32_t>(v->global->size)
                                                      : options_.max_map_entries;
  info.max_entries = entries;
  if (v->type == Type::Stats) {
    info.stats = true;
    auto shape = shapes_.find(v);
    if (shape != shapes_.end()) info.shape = shape->second;
    auto read = slots_read_.find(v);
    info.kept = (read != slots_read_.end() ? read->second : 0) |
                (mg.print_at_exit ? stats::kExitSlots : 0) | stats::SlotBit(stats::kCount);
    info.value_size = info.shape.Slots() * 8;
    max_stats_value_ = std::max(max_stats_value_, info.value_size);
    if (v->arity <= 0)
      info.map = maps_.Define({name, kMapPercpuArray, 1, 4, info.value_size});
    else
      info.map = maps_.Define({name, kMapPercpuHash, entries, info.key_size, info.value_size});
  } else if (v->arity <= 0) {
    llvm::Type* type = v->type == Type::String
                           ? static_cast<llvm::Type*>(llvm::ArrayType::get(b_.getInt8Ty(), slot_))
                           : i64_;
    llvm::Constant* init = InitialValue(v, type);
    info.storage = new llvm::GlobalVariable(module_, type, false,
                                            llvm::GlobalValue::ExternalLinkage, init, name);
    info.storage->setAlignment(llvm::Align(8));
    // One section per kind of data, as libbpf maps them (never `.bss.<name>`).
    info.storage->setSection(init->isNullValue() ? ".bss" : ".data");
  } else {
    info.value_size = v->type == Type::String ? slot_ : 8;
    bool wrap = v->global && v->global->wrap;
    info.map = maps_.Define(
        {name, wrap ? kMapLruHash : kMapHash, entries, info.key_size, info.value_size});
  }
  info.meta_index = static_cast<uint32_t>(meta_.globals.size());
  meta_.globals.push_back(std::move(mg));
  globals_[v] = std::move(info);
}

// A global scalar's first value: its initializer, or the -G value given for it.
llvm::Constant* Lowering::InitialValue(const sema::Variable* v, llvm::Type* type) {
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
      diags_.Report(Diag::CodegenLimit, v->global ? v->global->range : v->decl,
                    {"-G " + name + "=" + text + ": `" + name + "` is a long; expected a number"});
      continue;
    }
    init = b_.getInt64(number);
  }
  return init;
}

const sema::Variable* Lowering::AggregateVar(ast::Expr* operand) {
  if (auto* s = ast::As<ast::Symbol>(operand)) return s->var;
  if (auto* a = ast::As<ast::ArrayIndex>(operand))
    if (auto* s = ast::As<ast::Symbol>(a->base)) return s->var;
  return nullptr;
}

std::string Lowering::UniqueName(std::string name) {
  std::string unique = name;
  for (int i = 2; !names_.insert(unique).second; ++i) unique = name + "_" + std::to_string(i);
  return unique;
}

llvm::Constant* Lowering::PaddedString(std::string_view s) {
  std::string bytes(s.substr(0, limit_ - 1));
  bytes.resize(slot_, '\0');
  return llvm::ConstantDataArray::getRaw(bytes, slot_, b_.getInt8Ty());
}

// A string literal: read-only data, padded to a whole slot so that every string
// pointer has a slot's worth of readable bytes behind it.
Value Lowering::Literal(std::string_view s) {
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

uint32_t Lowering::FormatId(const std::string& format) {
  auto it = format_ids_.find(format);
  if (it != format_ids_.end()) return it->second;
  auto id = static_cast<uint32_t>(meta_.formats.size());
  meta_.formats.push_back(format);
  format_ids_[format] = id;
  return id;
}

std::string Lowering::EscapePercent(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

// The largest record any print statement can write: the record area is twice the next
// power of two above it, so masked offsets keep every write inside.
uint32_t Lowering::MaxRecordSize() {
  // log(), warn() and error() records carry one string too.
  uint32_t max = 16 + Align8(4 + slot_);
  bool kernel = true;  // whether the code walked may run in the kernel
  auto visit = [&](ast::Node* n) {
    auto* c = ast::As<ast::Call>(n);
    if (!c || !IsPrintFamily(c)) return;
    uint32_t size = PrintRecordBytes(c, kernel);
    // Print reports a kernel probe's print whose histograms make its record too large, at
    // the print (a function's may run in user-side probes too, where they take no room).
    if (kernel && size > kMaxHistogramPrintRecord && HistogramRecordBytes(c))
      size = PrintRecordBytes(c, false);
    max = std::max(max, size);
  };
  for (const sema::Probe* p : program_.probes) {
    kernel = !UserSide(*p);
    ast::WalkTree(p->body, visit);
  }
  kernel = true;
  for (const sema::Function* f : program_.functions)
    if (f->decl && f->decl->body) ast::WalkTree(f->decl->body, visit);
  return max;
}

// The record a print writes, at most: its numbers, strings, histograms (kernel probes)
// and the bytes of its `%m`/`%M`.
uint32_t Lowering::PrintRecordBytes(ast::Call* c, bool kernel) {
  uint32_t size = 8 + 8 * 2 * static_cast<uint32_t>(c->args.size() + 1);
  for (ast::Expr* a : c->args)
    if (a->type == Type::String) size += Align8(4 + slot_);
  if (kernel) size += HistogramRecordBytes(c);  // its histograms, merged whole
  // printf's %m/%M write up to a string's bytes for a number (lower_print_memory.cpp):
  // as many of them as the format has conversions, at most.
  auto* format = c->args.empty() ? nullptr : ast::As<ast::StringLit>(c->args[0]);
  std::vector<FormatDirective> directives;
  std::string error;
  size_t offset = 0;
  if (format && ParseFormat(format->value, directives, &error, &offset, true))
    for (const FormatDirective& d : directives)
      if (!d.literal && (d.conversion == 'm' || d.conversion == 'M')) size += Align8(4 + 2 * slot_);
  return size + Align8(4 + slot_);  // the delimiter of printd
}

void Lowering::FinishScratch() {
  // A slot's worth (and 128 bytes) past the last temporary: library writes at a masked
  // offset inside a slot may run that far.
  uint32_t size = 2 * record_size_ + probe_temps_ + slot_ + 128;
  if (size > 32 * 1024) {
    failed_ = true;
    diags_.Report(Diag::CodegenLimit, SourceRange{},
                  {"the probes need " + std::to_string(size) +
                   " bytes of per-CPU scratch space for strings and records, more than the "
                   "kernel's 32768; lower MAXSTRINGLEN with -D MAXSTRINGLEN=N"});
  }
  if (zeros_) {
    auto* type = llvm::ArrayType::get(b_.getInt8Ty(), max_stats_value_);
    auto* zeros = new llvm::GlobalVariable(module_, type, true, llvm::GlobalValue::InternalLinkage,
                                           llvm::ConstantAggregateZero::get(type), "zeros");
    zeros->setSection(".rodata");
    zeros->setAlignment(llvm::Align(8));
    zeros_->replaceAllUsesWith(zeros);
    zeros_->eraseFromParent();
  }
  FinishTaskScratch(size);
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

meta::ProbeKind Lowering::KindOf(sema::Family f) {
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
    case sema::Family::Procfs:
      return meta::ProbeKind::Procfs;
    default:
      return meta::ProbeKind::Tracepoint;
  }
}

void Lowering::LowerProbe(const sema::Probe& p) {
  if (p.spec.family == sema::Family::Never) return;
  histogram_texts_ = 0;
  const KprobeGroup* group = nullptr;
  if (auto it = kprobe_group_of_.find(&p); it != kprobe_group_of_.end()) {
    group = it->second;
    if (group->members.front() != &p) return;  // the first member's program serves it
  }
  meta::Probe mp;
  mp.point = p.spec.point;
  mp.user_side = UserSide(p);
  mp.family = static_cast<uint8_t>(KindOf(p.spec.family));
  mp.sequence = p.spec.sequence;
  mp.period_ns = p.spec.period_ns;
  mp.randomize_ns = p.spec.randomize_ns;
  mp.target = p.spec.target;
  mp.build_id = p.spec.build_id;
  for (int i = 0; i < 3; ++i) mp.numbers[i] = p.spec.numbers[i];
  if (p.spec.python) {
    mp.helper_mark = p.spec.sdt_name;
    mp.helper_args = p.spec.sdt_args;
    mp.python_filter = p.spec.python_filter;
  }
  if (group) {
    // One program for the point's functions: the runtime attaches it to every name.
    mp.target = GroupTargets(*group);
    mp.point = p.origin;
    // (A user probe's numbers[1] is its SDT semaphore's offset: none in a group.)
    if (!sema::IsUserSpace(p.spec.family))
      mp.numbers[1] = static_cast<int64_t>(group->members.size());
  }
  std::string section;
  switch (p.spec.family) {
    case sema::Family::Begin:
    case sema::Family::End:
    case sema::Family::Error:
      section = mp.user_side ? "btap_user" : "syscall";
      break;
    case sema::Family::Timer:
      section = mp.user_side ? "btap_user" : "perf_event";
      break;
    case sema::Family::TimerProfile:
    case sema::Family::Perf:
      section = "perf_event";
      break;
    case sema::Family::Procfs:
      // (pid(), uid(), execname() are the reader's or writer's: the runtime's helpers
      // answer for it.)
      if (NeedsKernel(p.body) || NeedsKernel(p.condition)) {
        // (input.char and input.line are write probes of this file, tapsets/input.stp.)
        bool input = p.spec.target == meta::kInputFile;
        Unsupported(
            p.decl ? p.decl->range : SourceRange{},
            "a `" + (input ? p.listed : p.spec.point) + "` handler that reads kernel memory",
            input ? "; btap runs input probes' handlers in user space, in its own process"
                  : "; btap runs procfs handlers in user space, in its own process");
        return;
      }
      section = "btap_user";
      break;
    case sema::Family::Tracepoint: {
      if (p.spec.raw_syscall) break;  // a body of the syscall dispatch (lower_syscall.cpp)
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
    case sema::Family::Lsm:
      // The handler returns 0 (below): the hook is never denied.
      section = "lsm/" + p.spec.target;
      mp.family = static_cast<uint8_t>(meta::ProbeKind::Lsm);
      break;
    case sema::Family::ProcessEnd:
      // The last thread of a process leaving: sched_process_exit with group_dead.
      section = "raw_tp/sched_process_exit";
      mp.family = static_cast<uint8_t>(meta::ProbeKind::Tracepoint);
      mp.target = "sched:sched_process_exit";
      break;
    case sema::Family::ProcessBegin:
      // process.begin: a new process's first moment in its own context is its return from
      // the fork-family call that made it (a body of the syscall-return dispatcher).
      // process("PATH").begin: a program starting (exec) in the process's own context.
      if (p.spec.target.empty()) break;
      if (std::isdigit(static_cast<unsigned char>(p.spec.target[0]))) {
        Unsupported(p.decl ? p.decl->range : SourceRange{}, "`" + p.spec.point + "`",
                    "; that process exists before the script starts (use process.begin "
                    "with -x PID, or process(PID).end)");
        return;
      }
      section = "raw_tp/sched_process_exec";
      mp.family = static_cast<uint8_t>(meta::ProbeKind::Tracepoint);
      mp.target = "sched:sched_process_exec";
      break;
    case sema::Family::Syscall:
      break;  // a body; EmitSyscallDispatch makes the program
    case sema::Family::Netfilter:
      // libbpf 1.1 knows no such section: the runtime sets the program's type.
      section = "netfilter";
      mp.family = static_cast<uint8_t>(meta::ProbeKind::Netfilter);
      mp.target = p.spec.target.empty() ? meta::kNetfilterNearest : "";
      break;
    case sema::Family::KernelFunction:
    case sema::Family::Kprobe:
      // One function per program, attached by name at load (the runtime finds it).
      if (p.spec.target.empty()) {  // module(...) and FUNC@FILE patterns: not yet
        Unsupported(p.decl ? p.decl->range : SourceRange{}, "`" + p.spec.point + "`",
                    "; module functions and source-file patterns need DWARF");
        return;
      }
      section = p.spec.is_return ? "kretprobe" : "kprobe";
      mp.family = static_cast<uint8_t>(p.spec.is_return ? meta::ProbeKind::Kretprobe
                                                        : meta::ProbeKind::Kprobe);
      break;
    case sema::Family::ProcessFunction:
    case sema::Family::ProcessStatement:
    case sema::Family::ProcessMark:
      section = p.spec.is_return ? "uretprobe" : "uprobe";
      mp.family = static_cast<uint8_t>(p.spec.is_return ? meta::ProbeKind::Uretprobe
                                                        : meta::ProbeKind::Uprobe);
      break;
    default:
      Unsupported(
          p.decl ? p.decl->range : SourceRange{},
          "`" + p.spec.point + "` (" + std::string(sema::FamilyName(p.spec.family)) + " probes)",
          " on this runtime");
      return;
  }
  bool child_begin = p.spec.family == sema::Family::ProcessBegin && p.spec.target.empty();
  bool syscall = p.spec.family == sema::Family::Syscall || child_begin || p.spec.raw_syscall;
  mp.program = "probe_" + std::to_string(meta_.probes.size());
  if (syscall)
    mp.program =
        UniqueName(child_begin             ? "process_begin"
                   : p.spec.numbers[0] < 0 ? "syscall_any"
                                           : "syscall_" + std::to_string(p.spec.numbers[0]));
  if (mp.user_side) section += "/" + mp.program;
  if (!mp.user_side) mp.where = Location(p.point_range);

  EntryValues entries;  // before this handler's function: it has its own
  if (ReturnsWithEntry(p)) entries = SaveEntryValues(p);
  SaveEntryRegisters(p);  // DW_OP_entry_value away from the entry: saved there

  auto* type = llvm::FunctionType::get(b_.getInt32Ty(), {ptr_}, false);
  auto* fn = llvm::Function::Create(
      type, syscall ? llvm::GlobalValue::InternalLinkage : llvm::GlobalValue::ExternalLinkage,
      mp.program, module_);
  if (syscall) {
    // Inlined into the dispatcher, or called (EmitSyscallDispatch decides).
    std::vector<SyscallBody>& to =
        syscall_bodies_[child_begin || p.spec.is_return || p.spec.raw_syscall == 2];
    if (child_begin) {
      for (int64_t nr : ForkSyscalls()) to.push_back({fn, nr, false, "", {}});
    } else {
      to.push_back(
          {fn, p.spec.numbers[0], p.spec.raw_syscall != 0, p.spec.raw_syscall ? p.origin : "", {}});
      // Next to the native number, so that both are in one program. (Not a return body
      // with @entry values, whose entry program runs for native calls only.)
      if (entries.offsets.empty())
        for (int64_t nr : CompatBodyNumbers(p)) to.push_back({fn, nr, false, "", {}});
    }
    NoteNamedSyscall(p);
    for (const sema::TargetArg& a : p.spec.args)
      if (a.source == sema::TargetArg::Source::SyscallNr) syscall_orig_ax_ = a.offset;
  } else {
    fn->setSection(section);
  }
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->getArg(0)->setName("ctx");
  llvm::DIFile* file = FileFor(p.file);
  unsigned line = p.decl ? sm_.file(p.decl->range.file).Locate(p.decl->range.begin).line : 1;
  b_.SetCurrentDebugLocation(maps_.Describe(*fn, line, file));

  Frame frame;
  frame.group = group;
  contextless_handler_ =
      !mp.user_side && (p.spec.family == sema::Family::Begin ||
                        p.spec.family == sema::Family::End || p.spec.family == sema::Family::Error);
  frame.locals_in_scratch = !mp.user_side && HasKernelForeach(p.body, 0);
  llvm::Instruction* has_scratch = StartFrame(frame, fn, &p, mp.user_side);
  Scope scope;
  frame.scopes.push_back(&scope);
  for (const sema::Variable* v : p.locals) DeclareLocal(scope, v);
  if (entries.map) LoadEntryValues(entries);
  ProcessFilter(p);
  UserProbeFilter(p);
  // Compat (ia32) calls: a syscall tapset body mapped for them (CompatBodyNumbers) reads
  // its arguments by the call's ABI. Others skip them: syscalls:* points' events skip
  // them, and the bodies of calls not mapped are dispatched by the x86-64 numbers, which a
  // compat call's i386 number would match as another call (i386 getppid, 64, is x86-64's
  // semget) where the dispatcher does not tell them apart. A process.begin body takes a
  // call by the numbers of its kind (ForkCallFilter). A handler that does nothing needs
  // no test (a helper call).
  frame.compat_args = !child_begin && entries.offsets.empty() && !CompatBodyNumbers(p).empty();
  if ((p.spec.raw_syscall || p.spec.family == sema::Family::Syscall) && !DoesNothing(p) &&
      !frame.compat_args)
    if (Value compat = CompatSyscall()) Continue(b_.CreateNot(compat), "native");
  if (child_begin && !DoesNothing(p)) ForkCallFilter();
  if (p.condition) Continue(Truth(Expr(p.condition)), "enabled");
  Stmt(p.body);
  FinishFrame(frame, has_scratch);
  mp.may_sleep = frame.sleeps;
  AddFentryVariant(fn, p, mp);
  if (!syscall) meta_.probes.push_back(std::move(mp));
  if (pending_entry_probe_) {
    meta_.probes.push_back(std::move(*pending_entry_probe_));
    pending_entry_probe_.reset();
  }
}

// A handler function's frame: the exit block, the allocas' place, for kernel handlers the
// exit() check (exit() starts no new handlers), and the per-CPU scratch lookup.
llvm::Instruction* Lowering::StartFrame(Frame& frame, llvm::Function* fn, const sema::Probe* p,
                                        bool user_side) {
  frame.probe = p;
  frame.user_side = user_side;
  frame_ = &frame;
  BeginFunctionFrame(frame, fn, b_.getInt32(0));
  if (p && p->spec.family == sema::Family::Netfilter && !user_side) StartVerdict(frame);
  // A session probe run in the kernel (a syscall program) has no registers: its context
  // is the runtime's empty argument. It runs when the session starts or stops, whatever
  // exit() said.
  bool session_probe =
      p && (p->spec.family == sema::Family::Begin || p->spec.family == sema::Family::End ||
            p->spec.family == sema::Family::Error);
  frame.ctx = session_probe && !user_side ? nullptr : fn->getArg(0);
  if (!frame.user_side && !session_probe) {
    Value exiting = b_.CreateLoad(i64_, exiting_);
    Continue(b_.CreateICmpEQ(exiting, b_.getInt64(0)), "run");
  }
  frame.can_sleep = !user_side && UserProbe(p);
  frame.scratch = ScratchLookup(frame);
  auto* has_scratch = llvm::cast<llvm::Instruction>(b_.CreateIsNotNull(frame.scratch));
  Continue(has_scratch, "scratch");
  StartRegexGroups(frame, p);
  return has_scratch;
}

void Lowering::BeginFunctionFrame(Frame& frame, llvm::Function* fn, Value exit_value) {
  frame.fn = fn;
  auto* entry = llvm::BasicBlock::Create(context_, "entry", fn);
  frame.exit = llvm::BasicBlock::Create(context_, "exit", fn);
  b_.SetInsertPoint(frame.exit);
  b_.CreateRet(exit_value);
  b_.SetInsertPoint(entry);
  frame.alloca_point = b_.CreateAlloca(i64_, nullptr, "unused");
}

void Lowering::FinishFrame(Frame& frame, llvm::Instruction* has_scratch) {
  // A handler that keeps no strings and prints nothing does not need the scratch space:
  // dropping its lookup saves a helper call per event.
  if (frame.scratch->hasOneUse()) {
    has_scratch->replaceAllUsesWith(b_.getTrue());
    has_scratch->eraseFromParent();
    for (llvm::Instruction* part : frame.scratch_parts) part->eraseFromParent();
  }
  SettleSleep(frame);
  // Blocks after a `next`, `return` or error are unreachable; they end the handler too.
  for (llvm::BasicBlock& block : *frame.fn)
    if (!block.getTerminator()) llvm::BranchInst::Create(frame.exit, &block);
  probe_temps_ = std::max(probe_temps_, frame.max);
  frame_ = nullptr;
}

// process(...).begin/.end fire only for their process: the whole process for .end (the
// tracepoint's group_dead), the program file PATH, the PID given, and the -c/-x target
// when there is one.
void Lowering::ProcessFilter(const sema::Probe& p) {
  if (p.spec.process_syscall) return SyscallProcessFilter(p);
  bool end = p.spec.family == sema::Family::ProcessEnd;
  if (!end && p.spec.family != sema::Family::ProcessBegin) return;
  Value pid_tgid = Helper(kCurrentPidTgid, i64_, {});
  Value pid = b_.CreateLShr(pid_tgid, 32);
  if (end && p.spec.numbers[1]) {
    Value group_dead = b_.CreateLoad(i64_, b_.CreateConstGEP1_64(i64_, frame_->ctx, 1));
    Continue(b_.CreateICmpNE(b_.CreateAnd(group_dead, b_.getInt64(0xff)), b_.getInt64(0)),
             "process");
  }
  if (!end && p.spec.target.empty()) {
    // The child's side of a fork-family call: it returns 0.
    Value ret = b_.CreateLoad(i64_, b_.CreateConstGEP1_64(i64_, frame_->ctx, 1));
    Continue(b_.CreateICmpEQ(ret, b_.getInt64(0)), "child");
  }
  // A process, not a thread: process.begin's child, and .end where the kernel has no
  // group_dead (there the thread group's leader leaving stands for the process's end).
  if (!p.spec.numbers[1] && (end || p.spec.target.empty()))
    Continue(b_.CreateICmpEQ(pid, b_.CreateAnd(pid_tgid, b_.getInt64(0xffffffff))), "process");
  // Kernels without group_dead fire sched_process_exit after exit_mm: the task's program
  // file is gone by then, and .end asks what was recorded while it could be read.
  ProcessIs(pid, p.spec.target, p.spec.process_is_pid, end && !p.spec.numbers[1]);
}

// The -c/-x target's tree, then WHAT: a PID, a program's PATH, or "" for every process.
// PATH is the file the process runs (its inode and device, RunsFile), or with `ran`
// (past exit_mm) the one it ran (RanFile); without the kernel's BTF, the name the kernel
// records for it (comm: the file's base name at exec, at most 15 bytes).
void Lowering::ProcessIs(Value pid, const std::string& what, bool is_pid, bool ran) {
  Continue(InTargetTree(pid), "target");
  if (what.empty()) return;
  if (is_pid) {
    Continue(b_.CreateICmpEQ(pid, b_.getInt64(std::stoll(what))), "pid");
    return;
  }
  if (Value runs = ran ? RanFile(pid, what) : RunsFile(what)) {
    Continue(runs, "program");
    return;
  }
  ExeVariable(what);  // PATH is still checked where the object loads
  std::string name = what.substr(what.rfind('/') + 1).substr(0, 15);
  Value comm = StringSlot();
  Helper(kCurrentComm, i64_, {comm, b_.getInt32(16)});
  Value same = Library("btap_strcmp", i64_, {comm, Literal(name), b_.getInt64(16)});
  Continue(b_.CreateICmpEQ(same, b_.getInt64(0)), "program");
}

// process(...).syscall: the calls of process PID, of processes running the program PATH
// (as process("PATH").begin), or of every process; with -c/-x, only of the target's tree
// (as uprobes).
void Lowering::SyscallProcessFilter(const sema::Probe& p) {
  if (DoesNothing(p)) return;
  ProcessIs(b_.CreateLShr(Helper(kCurrentPidTgid, i64_, {}), 32), p.spec.process,
            p.spec.process_is_pid);
}

// A probe without a condition whose body is empty blocks: what it does is the same
// whoever runs it and whenever, so it needs no filter or test.
bool Lowering::DoesNothing(const sema::Probe& p) {
  std::function<bool(const ast::Stmt*)> empty = [&](const ast::Stmt* s) {
    auto* block = s ? ast::As<ast::Block>(s) : nullptr;
    if (!block) return false;
    for (const ast::Stmt* inner : block->statements)
      if (!empty(inner)) return false;
    return true;
  };
  return !p.condition && empty(p.body);
}

// Uprobes fire in every process that runs the probed code: those of process(PID) only in
// that process, and with -c/-x only in the target's tree.
void Lowering::UserProbeFilter(const sema::Probe& p) {
  if (!UserProbe(&p)) return;
  // A handler that does nothing is the same in every process: no filter (no helper call).
  if (DoesNothing(p)) return;
  if (p.spec.numbers[2]) {
    Value pid = b_.CreateLShr(Helper(kCurrentPidTgid, i64_, {}), 32);
    Continue(b_.CreateICmpEQ(pid, b_.getInt64(p.spec.numbers[2])), "pid");
    Continue(InTargetTree(pid), "target");
    return;
  }
  // The process is asked for only when there is a -c/-x target to compare it with.
  auto* targeted = llvm::BasicBlock::Create(context_, "targeted", frame_->fn);
  auto* go = llvm::BasicBlock::Create(context_, "in_target", frame_->fn);
  Value target = b_.CreateLoad(i64_, target_);
  b_.CreateCondBr(b_.CreateICmpEQ(target, b_.getInt64(0)), go, targeted);
  b_.SetInsertPoint(targeted);
  Continue(InTargetTree(b_.CreateLShr(Helper(kCurrentPidTgid, i64_, {}), 32), target), "target");
  b_.CreateBr(go);
  b_.SetInsertPoint(go);
}

llvm::DIFile* Lowering::FileFor(FileId id) {
  if (id == kNoFile) return nullptr;
  auto it = files_.find(id);
  if (it != files_.end()) return it->second;
  const SourceFile& f = sm_.file(id);
  return files_[id] = maps_.SourceFile(f.name(), std::string(f.text()));
}

void Lowering::Locate(SourceRange r) {
  if (!r.valid() || !frame_) return;
  LineColumn lc = sm_.file(r.file).Locate(r.begin);
  b_.SetCurrentDebugLocation(maps_.Place(*frame_->fn, FileFor(r.file), lc.line, lc.column));
}

llvm::Value* Lowering::Helper(int64_t id, llvm::Type* ret, std::vector<llvm::Value*> args) {
  std::vector<llvm::Type*> types;
  for (llvm::Value* a : args) types.push_back(a->getType());
  auto* type = llvm::FunctionType::get(ret, types, false);
  auto* callee = llvm::ConstantExpr::getIntToPtr(b_.getInt64(id), ptr_);
  return b_.CreateCall(type, callee, args);
}

llvm::Value* Lowering::Library(const char* name, llvm::Type* ret, std::vector<llvm::Value*> args) {
  std::vector<llvm::Type*> types;
  for (llvm::Value* a : args) types.push_back(a->getType());
  llvm::FunctionCallee f =
      module_.getOrInsertFunction(name, llvm::FunctionType::get(ret, types, false));
  return b_.CreateCall(f, args);
}

llvm::AllocaInst* Lowering::Alloca(llvm::Type* type) {
  llvm::IRBuilder<> at(frame_->alloca_point);
  return at.CreateAlloca(type);
}

// Continues in a new block when `cond` holds; otherwise the handler ends.
void Lowering::Continue(Value cond, const char* name) {
  auto* next = llvm::BasicBlock::Create(context_, name, frame_->fn);
  b_.CreateCondBr(cond, next, frame_->exit);
  b_.SetInsertPoint(next);
}

// After a branch that leaves: later statements go to an unreachable block.
void Lowering::Dead() { b_.SetInsertPoint(llvm::BasicBlock::Create(context_, "dead", frame_->fn)); }

uint32_t Lowering::TempBytes(uint32_t bytes) {
  uint32_t at = frame_->next;
  frame_->next += Align8(bytes);
  frame_->max = std::max(frame_->max, frame_->next);
  return 2 * record_size_ + at;
}

Lowering::TempMark Lowering::Temps() const { return {frame_->next, frame_->stack_next}; }

void Lowering::Release(TempMark mark) {
  frame_->next = mark.scratch;
  frame_->stack_next = mark.stack;
}

// Statements in sequence (the inlined bodies of a large script's functions, say) take the
// same stack temporaries, as allocas of their own each would not (LLVM gives each its own
// slot). One alloca per place and size, not offsets into one: an alloca's address is a
// frame offset LLVM remakes where it is used, where an offset into one is a value that it
// may keep in a register, or spill, across a loop. The temporaries live at a time have
// different places, so one may take any alloca made at its place that is large enough.
// Each alloca is a slot of its own: they take at most kStackTemps bytes together, and a
// temporary that would need one more goes to scratch.
Value Lowering::StackTemp(uint32_t bytes) {
  uint32_t size = Align8(bytes), at = frame_->stack_next;
  if (at + size > kStackTemps) return ScratchAt(TempBytes(size));
  auto fits = frame_->stack_temps.lower_bound({at, size});
  llvm::AllocaInst* cell = nullptr;
  if (fits != frame_->stack_temps.end() && fits->first.first == at) {
    cell = fits->second;
  } else {
    if (frame_->stack_temp_bytes + size > kStackTemps) return ScratchAt(TempBytes(size));
    cell = Alloca(llvm::ArrayType::get(b_.getInt8Ty(), size));
    cell->setAlignment(llvm::Align(8));
    frame_->stack_temps[{at, size}] = cell;
    frame_->stack_temp_bytes += size;
  }
  frame_->stack_next += size;
  return cell;
}

// A recursive function's temporaries are its call's own (lower_recursive.cpp): offsets
// past the records' area go to its stack. What its calls share stays in the probe's
// scratch: the records' area, and through SharedScratchAt the probe's last match and its
// walks' work area (lower_regex.cpp), which are per probe, as stap's are per context.
Value Lowering::ScratchAt(uint32_t offset) {
  Value at = frame_->temps && offset >= 2 * record_size_
                 ? b_.CreateConstGEP1_64(b_.getInt8Ty(), frame_->temps, offset - 2 * record_size_)
                 : b_.CreateConstGEP1_64(b_.getInt8Ty(), frame_->scratch, offset);
  frame_->scratch_offsets[at] = offset;
  return at;
}

Value Lowering::SharedScratchAt(uint32_t offset) {
  assert(offset == frame_->last_match || offset == frame_->regex_work);
  return b_.CreateConstGEP1_64(b_.getInt8Ty(), frame_->scratch, offset);
}

Value Lowering::LongStorage() {
  if (frame_->locals_in_scratch) return ScratchAt(TempBytes(8));
  return Alloca(i64_);
}

// An offset in the records' area, which recursive calls share.
Value Lowering::ScratchAt(Value offset) {
  return b_.CreateGEP(b_.getInt8Ty(), frame_->scratch, offset);
}

Value Lowering::StringSlot() { return ScratchAt(TempBytes(slot_)); }

Value Lowering::Truth(Value v) { return b_.CreateICmpNE(v, b_.getInt64(0)); }

Value Lowering::Bool(Value i1) { return b_.CreateZExt(i1, i64_); }

void Lowering::CopyString(Value dst, Value src) {
  if (dst == src) return;
  Helper(kProbeReadKernelStr, i64_, {dst, b_.getInt32(limit_), src});
}

}  // namespace btap::codegen::lowering
