// Lowering embedded C: each C function the program calls and each `%{ %}` expression
// becomes a C function of the script's one translation unit (prelude, the files' top-level
// `%{ %}` blocks, then the functions), compiled by Clang (embedded_c.h) and linked in.
#include "codegen/embedded_c.h"
#include "codegen/kernel_header.h"
#include "codegen/kernel_loads.h"
#include "codegen/lowering.h"
#include "semantic/embedded_pragmas.h"

#include <cctype>

#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/Linker/Linker.h>

namespace btap::codegen::lowering {
namespace {

// Whether C may name the kernel's types: only then is their header (megabytes of C)
// parsed.
// Whether `word` stands in `code` as a word of its own (not inside "currently").
bool HasWord(std::string_view code, std::string_view word) {
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = code.find(word); at != std::string_view::npos; at = code.find(word, at + 1))
    if ((at == 0 || !ident(code[at - 1])) &&
        (at + word.size() == code.size() || !ident(code[at + word.size()])))
      return true;
  return false;
}

}  // namespace

bool UsesCurrent(std::string_view code) { return HasWord(code, "current"); }

namespace {

// strcmp/strncmp: the function gets two string slots of scratch to compare copies in (the
// prelude's __btap_strncmp).
bool UsesCompare(std::string_view code) {
  return HasWord(code, "strcmp") || HasWord(code, "strncmp");
}

// CONTEXT: stap's probe context, as far as BPF has one (FillCContext).
bool UsesContext(std::string_view code) { return HasWord(code, "CONTEXT"); }
constexpr size_t kCContextFields = 4;
constexpr const char* kCContext =
    "struct pt_regs;\n"
    "struct __btap_context {\n"
    "  struct pt_regs *kregs;  /* kernel.function, perf and timer.profile probes */\n"
    "  struct pt_regs *uregs;  /* process probes */\n"
    "  long user_mode_p;\n"
    "  const char *probe_point;\n"
    "};\n";

// The prelude's file-table lookups, which read the kernel's files_struct and fdtable.
constexpr std::string_view kFileLookups[] = {"fcheck_files", "files_fdtable", "files_lookup_fd_rcu",
                                             "files_lookup_fd_raw", "files_lookup_fd_locked"};

bool MayUseKernelTypes(std::string_view code) {
  for (std::string_view word : {"struct", "union", "enum", "current", "typeof", "CONTEXT"})
    if (HasWord(code, word)) return true;
  for (std::string_view word : kFileLookups)
    if (HasWord(code, word)) return true;
  return false;
}

// The parameters of the function an embedded expression stands in that its C names as
// `STAP_ARG_x` (stap gives such an expression its function's arguments), in order.
std::vector<const sema::Variable*> ExprArgs(const sema::Program& program,
                                            const ast::EmbeddedExpr* e) {
  std::vector<const sema::Variable*> out;
  // (Most expressions name none: no walk of every function's body for them.)
  if (e->code.find("STAP_ARG_") == std::string::npos) return out;
  for (const sema::Function* f : program.functions) {
    bool within = false;
    if (f->decl && f->decl->body)
      ast::WalkTree(f->decl->body, [&](ast::Node* n) { within |= n == e; });
    if (!within) continue;
    for (const sema::Variable* p : f->params)
      if (HasWord(e->code, "STAP_ARG_" + std::string(p->name))) out.push_back(p);
    break;
  }
  return out;
}

// "MAJOR, MINOR" of a version "4.8" (a part that is not a number counts as 0).
std::string CompatVersion(std::string_view v) {
  auto part = [&](size_t at, size_t end) {
    unsigned n = 0;
    for (size_t i = at; i < end && i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]));
         ++i)
      n = n * 10 + static_cast<unsigned>(v[i] - '0');
    return std::to_string(n & 0xffff);
  };
  size_t dot = v.find('.');
  if (dot == std::string_view::npos) return part(0, v.size()) + ", 0";
  return part(0, dot) + ", " + part(dot + 1, v.size());
}

// LINUX_VERSION_CODE of a release "6.18.0" (parts that are not there count as 0; the
// sublevel is capped at 255, as the kernel's own macro caps it).
int64_t LinuxVersionCode(std::string_view release) {
  int64_t parts[3] = {0, 0, 0};
  size_t at = 0;
  for (int k = 0; k < 3 && at < release.size(); ++k) {
    while (at < release.size() && std::isdigit(static_cast<unsigned char>(release[at])))
      parts[k] = std::min<int64_t>(parts[k] * 10 + (release[at++] - '0'), 0xffff);
    if (at >= release.size() || release[at] != '.') break;
    ++at;
  }
  return (std::min<int64_t>(parts[0], 255) << 16) + (std::min<int64_t>(parts[1], 255) << 8) +
         std::min<int64_t>(parts[2], 255);
}

bool HasMarker(std::string_view code, std::string_view marker) {
  return code.find(marker) != std::string_view::npos;
}

// The script offset of embedded text held as a view into its file; else just past `%{`.
SourceRange CodeOrigin(std::string_view code, SourceRange token, const SourceManager& sm) {
  std::string_view text = sm.file(token.file).text();
  if (code.data() >= text.data() && code.data() + code.size() <= text.data() + text.size()) {
    auto at = static_cast<uint32_t>(code.data() - text.data());
    return {token.file, at, at + static_cast<uint32_t>(code.size())};
  }
  return {token.file, token.begin + 2, token.end};
}

}  // namespace

// The context a C function gets (all 8-byte fields, so IR and C agree on the layout
// without a shared header): the result (a long, or a string slot's address), the error
// buffer (empty unless STAP_ERROR ran), the output buffer (STAP_PRINTF; null when the C
// never prints), then one field per parameter.
llvm::Function* Lowering::DeclareC(const sema::Function* f, const ast::EmbeddedExpr* e,
                                   const std::string& name) {
  const void* key = f ? static_cast<const void*>(f) : e;
  for (const CFunction& c : c_functions_)
    if (c.key == key) return c.fn;
  std::string symbol = "__btap_c" + std::to_string(c_functions_.size()) + "_" + name;
  auto* type = llvm::FunctionType::get(b_.getVoidTy(), {ptr_}, false);
  auto* fn = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, symbol, module_);
  c_functions_.push_back({key, fn, symbol, f, e});
  return fn;
}

Value Lowering::CallC(llvm::Function* fn, Type ret, const std::vector<Value>& args,
                      std::string_view code, std::string_view token_kind, std::string_view token,
                      SourceRange at) {
  bool prints = HasMarker(code, "STAP_PRINTF");
  size_t compare_fields = UsesCompare(code) ? 1 : 0;
  size_t context_fields = UsesContext(code) ? kCContextFields : 0;
  size_t first_arg = 3 + compare_fields + context_fields;
  auto* context_type = llvm::ArrayType::get(i64_, args.size() + first_arg);
  llvm::AllocaInst* context = Alloca(context_type);
  Value result = nullptr;  // a string result's slot; a long comes back in THIS
  if (ret == Type::String) {
    result = StringSlot();
    b_.CreateStore(b_.getInt8(0), result);
  }
  Value error = StringSlot();
  b_.CreateStore(b_.getInt8(0), error);
  auto field = [&](size_t i) { return b_.CreateConstGEP2_64(context_type, context, 0, i); };
  if (ret == Type::String)
    b_.CreateStore(result, field(0));
  else
    b_.CreateStore(b_.getInt64(0), field(0));
  b_.CreateStore(error, field(1));
  Value out = nullptr;
  if (prints) {
    out = StringSlot();
    b_.CreateStore(b_.getInt8(0), out);
    b_.CreateStore(out, field(2));
  } else {
    b_.CreateStore(llvm::ConstantPointerNull::get(ptr_), field(2));
  }
  if (compare_fields) b_.CreateStore(ScratchAt(TempBytes(2 * (slot_ + 8))), field(3));
  if (context_fields) FillCContext(field, 3 + compare_fields);
  for (size_t i = 0; i < args.size(); ++i) {
    Value v = args[i];
    if (!v) continue;
    if (v->getType() != i64_) {  // a string: the C may write to its copy
      Value copy = StringSlot();
      CopyString(copy, v);
      v = copy;
    }
    b_.CreateStore(v, field(i + first_arg));
  }
  b_.CreateCall(fn, {context});
  if (out) {  // what STAP_PRINTF wrote, even when STAP_ERROR followed
    auto* print = llvm::BasicBlock::Create(context_, "c_print", frame_->fn);
    auto* printed = llvm::BasicBlock::Create(context_, "c_printed", frame_->fn);
    b_.CreateCondBr(b_.CreateICmpNE(b_.CreateLoad(b_.getInt8Ty(), out), b_.getInt8(0)), print,
                    printed);
    b_.SetInsertPoint(print);
    Record(record::Kind::Printf, FormatId("%s"), {out});
    b_.CreateBr(printed);
    b_.SetInsertPoint(printed);
  }
  Value failed = b_.CreateICmpNE(b_.CreateLoad(b_.getInt8Ty(), error), b_.getInt8(0));
  auto* bad = llvm::BasicBlock::Create(context_, "c_error", frame_->fn);
  auto* good = llvm::BasicBlock::Create(context_, "c_ok", frame_->fn);
  b_.CreateCondBr(failed, bad, good);
  b_.SetInsertPoint(bad);
  // Inside `try` the catch variable gets the message alone, as stap's last_error.
  if (!frame_->handlers.empty())
    Fail("%s", {error});
  else
    Fail("%s" + EscapePercent(Near(token_kind, token, at)), {error});
  b_.SetInsertPoint(good);
  if (ret == Type::String) return result;
  return b_.CreateLoad(i64_, field(0));
}

// stap's CONTEXT for C called here: the registers of the probed code, the kernel's (a
// kernel.function kprobe; a perf or timer.profile sample) or the user's (a process probe),
// whether the probe hit user code, and the probe point. Registers are the program's
// context, which C reads directly (a kprobe handler that hands it to C gets no fentry
// copy: lower_fentry.cpp); elsewhere they are null, as in stap's probes without them.
void Lowering::FillCContext(const std::function<Value(size_t)>& field, size_t first) {
  const sema::Probe* probe = frame_->probe;
  Value null = llvm::ConstantPointerNull::get(ptr_);
  Value kregs = null, uregs = null, user_mode = b_.getInt64(0);
  if (probe && frame_->ctx && !frame_->user_side) {
    sema::Family family = probe->spec.family;
    if (UserProbe(probe)) {
      uregs = frame_->ctx;
      user_mode = b_.getInt64(1);
    } else if (sema::IsKernelFunction(family)) {
      kregs = frame_->ctx;
    } else if (family == sema::Family::TimerProfile || family == sema::Family::Perf) {
      constexpr uint32_t kCs = 136;
      kregs = frame_->ctx;
      Value cs = RawArg(kCs / 8);
      user_mode =
          b_.CreateZExt(b_.CreateICmpEQ(b_.CreateAnd(cs, b_.getInt64(3)), b_.getInt64(3)), i64_);
    }
  }
  Value point = null;
  if (probe) point = frame_->group ? GroupString(GroupText::Point) : Literal(probe->spec.point);
  b_.CreateStore(kregs, field(first));
  b_.CreateStore(uregs, field(first + 1));
  b_.CreateStore(user_mode, field(first + 2));
  b_.CreateStore(point, field(first + 3));
}

Value Lowering::EmbeddedCall(ast::Call* c) {
  const sema::Function* f = c->callee;
  // C marked `/* guru */` is for tapsets, which are presumed to call it safely; the
  // user's script needs -g (a tapset function calling it is the tapset's business).
  const sema::Function* caller = frame_->scopes.empty() ? nullptr : Top().function;
  // A call in an alias's body is the tapset's even inside the user's probe: by its file.
  bool from_script =
      caller ? !caller->from_tapset
             : frame_->probe && !frame_->probe->from_tapset && c->range.file == frame_->probe->file;
  if (from_script && !options_.guru && HasMarker(f->decl->embedded, "/* guru */")) {
    failed_ = true;
    diags_.Report(Diag::NeedsGuruMode, c->range,
                  {"a call to `" + std::string(f->name) + "` (its C is marked `/* guru */`)"});
    return nullptr;
  }
  // The interpreter that runs begin, end and error probes has no task to give.
  if (frame_->user_side && HasWord(f->decl->embedded, "current")) {
    Unsupported(c->range, "`current` in the C of `" + std::string(f->name) + "`",
                " in a probe btap runs in user space (begin, end, error), which has no task");
    return nullptr;
  }
  if (HasMarker(f->decl->embedded, "/* bpf */")) return AsmCall(c);
  std::vector<Value> args;
  for (ast::Expr* a : c->args) args.push_back(Expr(a));
  llvm::Function* fn = DeclareC(f, nullptr, std::string(f->name));
  Locate(c->range);
  return CallC(fn, f->ret, args, f->decl->embedded, "identifier", f->name, c->range);
}

Value Lowering::EmbeddedValue(ast::EmbeddedExpr* e) {
  llvm::Function* fn = DeclareC(nullptr, e, "expr");
  Type ret = e->type == Type::String ? Type::String : Type::Long;
  std::vector<Value> args;
  for (const sema::Variable* p : ExprArgs(program_, e)) {
    Value storage = Local(p, e->range);
    if (!storage) return nullptr;
    args.push_back(p->type == Type::String ? storage : b_.CreateLoad(i64_, storage));
  }
  return CallC(fn, ret, args, e->code, "embedded-code", "", e->range);
}

// STAP_GLOBAL_GET_x() and STAP_GLOBAL_SET_x(v) for each scalar global a pragma names: the
// C reaches the global's own storage (global data) by its symbol.
bool Lowering::GlobalAccess(CSource& source) {
  std::vector<std::pair<std::string_view, SourceRange>> texts;
  for (const ast::EmbeddedDecl* d : program_.embedded) texts.emplace_back(d->code, d->range);
  for (const CFunction& cf : c_functions_)
    texts.emplace_back(cf.function ? cf.function->decl->embedded : cf.expr->code,
                       cf.function ? cf.function->decl->range : cf.expr->range);
  std::set<std::string> done;
  bool ok = true;
  for (const auto& [code, token] : texts)
    for (const sema::GlobalPragma& pragma : sema::GlobalPragmas(code)) {
      const std::string& name = pragma.name;
      size_t offset = pragma.offset;
      if (!done.insert(name).second) continue;
      const sema::Variable* global = sema::PragmaGlobal(program_.globals, name);
      auto info = global ? globals_.find(global) : globals_.end();
      if (info == globals_.end() || !info->second.storage) {
        SourceRange origin = CodeOrigin(code, token, sm_);
        uint32_t at = origin.begin + static_cast<uint32_t>(offset);
        diags_.Report(Diag::CodegenLimit, {origin.file, at, at + 7},
                      {"`pragma` names `" + name +
                       "`, which is no global scalar of the program (arrays and statistics "
                       "cannot be reached from C yet)"});
        ok = false;
        continue;
      }
      std::string symbol = info->second.storage->getName().str();
      if (global->type == Type::String)
        source.Add("extern char " + symbol + "[__BTAP_SLOT];\n#define STAP_GLOBAL_GET_" + name +
                   "() ((char *)" + symbol + ")\n#define STAP_GLOBAL_SET_" + name +
                   "(v) ((void)strlcpy(" + symbol + ", (v), MAXSTRINGLEN))\n");
      else
        source.Add("extern long " + symbol + ";\n#define STAP_GLOBAL_GET_" + name + "() (" +
                   symbol + ")\n#define STAP_GLOBAL_SET_" + name + "(v) ((void)(" + symbol +
                   " = (long)(v)))\n");
    }
  return ok;
}

// BTF line info takes a line's file (and so the text the verifier quotes) from its
// function: each C function gets a file of its own, the script's text with the body's
// lines saying whose they are, so that a rejection inside C names the script function.
// (A path of its own keeps its text apart from the script's own file, which BTF knows by
// path; the kernel shows the base name only.)
void Lowering::NameCFunctions(llvm::Module& c) {
  for (const CFunction& cf : c_functions_) {
    if (!cf.function) continue;
    llvm::Function* fn = c.getFunction(cf.symbol);
    llvm::DISubprogram* sp = fn ? fn->getSubprogram() : nullptr;
    if (!sp || !sp->isDistinct()) continue;
    std::string_view code = cf.function->decl->embedded;
    SourceRange origin = CodeOrigin(code, cf.function->decl->range, sm_);
    const SourceFile& file = sm_.file(origin.file);
    uint32_t first = file.Locate(origin.begin).line, last = file.Locate(origin.end).line;
    std::string text, line;
    uint32_t number = 1;
    for (char ch : file.text()) {
      if (ch != '\n') {
        line += ch;
        continue;
      }
      size_t lead = line.find_first_not_of(" \t");
      if (number >= first && number <= last && lead != std::string::npos)
        line.insert(lead, "in C function `" + std::string(cf.function->name) + "`: ");
      text += line + '\n';
      line.clear();
      ++number;
    }
    text += line;
    std::string path = "/btap-c/" + cf.symbol + "/" + file.name();
    auto* named = llvm::DIFile::get(context_, path, "", std::nullopt,
                                    llvm::StringRef(text));  // copied into the context
    sp->replaceOperandWith(0, named);
  }
}

// The script's range at `line`:`column` of the file named `file` (the C's debug info
// names the script's lines), else `fallback`.
SourceRange Lowering::ScriptPlace(const std::string& file, unsigned line, unsigned column,
                                  SourceRange fallback) const {
  for (FileId id = 0; id < sm_.size(); ++id) {
    const SourceFile& f = sm_.file(id);
    if (f.name() != file || line == 0) continue;
    std::string_view text = f.text();
    size_t at = 0;
    for (unsigned n = 1; n < line && at != std::string_view::npos; ++n) {
      at = text.find('\n', at);
      if (at != std::string_view::npos) ++at;
    }
    if (at == std::string_view::npos) break;
    at += column > 0 ? column - 1 : 0;
    if (at >= text.size()) break;
    return {id, static_cast<uint32_t>(at), static_cast<uint32_t>(at + 1)};
  }
  return fallback;
}

// LINUX_VERSION_CODE is the compiling kernel's: C that names it makes the object check,
// where it loads, that kernel_v is the same, as a `%( kernel_v ... %)` condition is.
void Lowering::VersionCodeTerm() {
  auto term = [&](std::string_view code, SourceRange token) {
    size_t at = code.find("LINUX_VERSION_CODE");
    if (at == std::string_view::npos) return false;
    SourceRange origin = CodeOrigin(code, token, sm_);
    LineColumn lc = sm_.file(origin.file).Locate(origin.begin + static_cast<uint32_t>(at));
    std::string_view release = program_.kernel.release;
    meta_.kernel_terms.push_back({"kernel_v",
                                  "==", std::string(release.substr(0, release.find('-'))),
                                  KernelTerm::Operand::String, true,
                                  sm_.file(origin.file).name() + ":" + std::to_string(lc.line) +
                                      ":" + std::to_string(lc.column) + ", LINUX_VERSION_CODE"});
    return true;
  };
  for (const ast::EmbeddedDecl* d : program_.embedded)
    if (term(d->code, d->range)) return;
  for (const CFunction& cf : c_functions_)
    if (term(cf.function ? cf.function->decl->embedded : cf.expr->code,
             cf.function ? cf.function->decl->range : cf.expr->range))
      return;
}

bool Lowering::LinkEmbeddedC() {
  if (c_functions_.empty()) return true;
  bool kernel_types = false, trimmed = false;
  for (const ast::EmbeddedDecl* d : program_.embedded) kernel_types |= MayUseKernelTypes(d->code);
  for (const CFunction& cf : c_functions_)
    kernel_types |= MayUseKernelTypes(cf.function ? cf.function->decl->embedded : cf.expr->code);
  const struct btf* btf = kernel_types && program_.kernel.btf ? program_.kernel.btf() : nullptr;
  KernelTypes types;
  if (btf) {
    // The types the C can reach by the words it uses (and `current`'s task_struct; the
    // prelude reads no kernel type); the whole header, precompiled, only when that
    // cannot be made.
    std::set<std::string> words = {"task_struct", "pt_regs"};
    auto add = [&](std::string_view code) {
      for (size_t i = 0; i < code.size();) {
        auto ident = [&](size_t k) {
          return std::isalnum(static_cast<unsigned char>(code[k])) || code[k] == '_';
        };
        size_t start = i;
        while (i < code.size() && ident(i)) ++i;
        if (i > start)
          words.emplace(code.substr(start, i - start));
        else
          ++i;
      }
    };
    for (const std::string& d : options_.c_defines) add(d);
    for (const ast::EmbeddedDecl* d : program_.embedded) add(d->code);
    for (const CFunction& cf : c_functions_)
      add(cf.function ? cf.function->decl->embedded : cf.expr->code);
    // The types the prelude's file-table lookups read.
    for (std::string_view lookup : kFileLookups)
      if (words.count(std::string(lookup)))
        words.insert({"files_struct", "fdtable", "file", "max_fds", "fd", "fdt"});
    std::string error;
    trimmed = KernelTypesFor(btf, words, &types.text, &error);
    if (!trimmed && !KernelTypesHeader(btf, &types, &error)) {
      diags_.Report(Diag::CodegenFailed, SourceRange{}, {error});
      return false;
    }
  }
  SourceRange first;
  // The translation unit over the kernel types `kt`.
  auto build = [&](const KernelTypes& kt, CSource& source) {
    if (btf) {
      if (!kt.text.empty()) source.Add("#line 1 \"<kernel types>\"\n" + kt.text);
      // The current task as a BTF pointer: its members are read directly (CO-RE).
      source.Add(
          "static struct task_struct *(*const bpf_get_current_task_btf)(void) = (void *)158;\n"
          "#define current (bpf_get_current_task_btf())\n");
    }
    source.Add(
        "#line 1 \"<btap prelude>\""
        "\n#define MAXSTRINGLEN " +
        std::to_string(limit_) + "\n#define __BTAP_SLOT " + std::to_string(slot_) + "\n");
    source.Add(kEmbeddedPrelude);
    // -D options (checked when btap read its options; MAXSTRINGLEN is the prelude's already, with
    // the same value). One the prelude defines too (BTAP_LIST_MAX) takes its place: macros are
    // expanded where they are used, after this.
    for (const std::string& d : options_.c_defines) {
      std::string name, directive, error;
      if (CDefine(d, &name, &directive, &error) && name != "MAXSTRINGLEN")
        source.Add("#undef " + name + "\n" + directive + "\n");
    }
    // stap's version macros: STAP_VERSION(a, b) is a version as one number, and
    // STAP_COMPAT_VERSION the --compatible one unless -D gave it.
    source.Add(
        "#define STAP_VERSION(a, b) (((a) << 8) + (b))\n#ifndef STAP_COMPAT_VERSION\n"
        "#define STAP_COMPAT_VERSION STAP_VERSION(" +
        CompatVersion(options_.compatible) + ")\n#endif\n");
    // The kernel's version macros (<linux/version.h>), for the kernel compiled for (-r):
    // from its release, the sublevel capped at 255 as the kernel caps it.
    source.Add(
        "#ifndef KERNEL_VERSION\n#define KERNEL_VERSION(a, b, c) "
        "(((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))\n#endif\n"
        "#ifndef LINUX_VERSION_CODE\n#define LINUX_VERSION_CODE " +
        std::to_string(LinuxVersionCode(program_.kernel.release)) + "\n#endif\n");
    VersionCodeTerm();
    if (!GlobalAccess(source)) return false;
    bool context = false;
    for (const ast::EmbeddedDecl* d : program_.embedded) context |= UsesContext(d->code);
    for (const CFunction& cf : c_functions_)
      context |= UsesContext(cf.function ? cf.function->decl->embedded : cf.expr->code);
    if (context) source.Add(kCContext);
    for (const ast::EmbeddedDecl* d : program_.embedded)
      source.AddScript(d->code, CodeOrigin(d->code, d->range, sm_), sm_);
    for (const CFunction& cf : c_functions_) {
      const sema::Function* f = cf.function;
      const ast::EmbeddedExpr* e = cf.expr;
      std::string_view code = f ? f->decl->embedded : e->code;
      SourceRange token = f ? f->decl->range : e->range;
      if (!first.valid()) first = token;
      Type ret = f ? f->ret : e->type == Type::String ? Type::String : Type::Long;
      const char* ret_c = ret == Type::String ? "char *" : "long ";
      bool unmangled = HasMarker(code, "/* unmangled */");
      std::string s = "\nstruct " + cf.symbol + "_this {\n";
      s += unmangled ? std::string("  union { ") + ret_c + "__retvalue; };\n"
                     : std::string("  ") + ret_c + "__retvalue;\n";
      s += "  char *__btap_error;\n  char *__btap_out;\n";
      if (UsesCompare(code)) s += "  char *__btap_compare;\n";
      if (UsesContext(code)) s += "  struct __btap_context __btap_context;\n";
      std::vector<const sema::Variable*> params =
          f ? std::vector<const sema::Variable*>(f->params.begin(), f->params.end())
            : ExprArgs(program_, e);
      for (const sema::Variable* p : params) {
        std::string name(p->name);
        const char* type = p->type == Type::String ? "char *" : "long ";
        s += unmangled
                 ? "  union { " + std::string(type) + "l_" + name + "; " + type + name + "; };\n"
                 : "  " + std::string(type) + "l_" + name + ";\n";
      }
      s += "};\n#define STAP_RETVALUE (THIS->__retvalue)\n";
      if (UsesContext(code)) s += "#define CONTEXT (&THIS->__btap_context)\n";
      if (ret == Type::String)
        s += "#define STAP_RETURN(...) do { __VA_OPT__(strlcpy(STAP_RETVALUE, (__VA_ARGS__), "
             "MAXSTRINGLEN);) return; } while (0)\n";
      else
        s += "#define STAP_RETURN(...) do { __VA_OPT__(STAP_RETVALUE = (long)(__VA_ARGS__);) "
             "return; } while (0)\n";
      for (const sema::Variable* p : params)
        s += "#define STAP_ARG_" + std::string(p->name) + " (THIS->l_" + std::string(p->name) +
             ")\n";
      source.Add(s);
      std::string head = "void " + cf.symbol + "(struct " + cf.symbol + "_this *THIS) { ";
      if (UsesCompare(code)) head += "char *const __btap_compare_area = THIS->__btap_compare; ";
      SourceRange origin = CodeOrigin(code, token, sm_);
      if (f)
        source.AddScript(code, origin, sm_, head, "\n}");
      else if (ret == Type::String)  // an expression: its value is the result
        source.AddScript(code, origin, sm_, head + "strlcpy(STAP_RETVALUE, (",
                         "), MAXSTRINGLEN); }");
      else
        source.AddScript(code, origin, sm_, head + "STAP_RETVALUE = (long)(", "); }");
      s = "#undef STAP_RETVALUE\n#undef STAP_RETURN\n#undef CONTEXT\n";
      for (const sema::Variable* p : params) s += "#undef STAP_ARG_" + std::string(p->name) + "\n";
      source.Add(s);
    }
    return true;
  };
  CSource source;
  if (!build(types, source)) return false;
  std::unique_ptr<llvm::Module> c;
  if (trimmed) {
    // C that the trimmed types do not serve (an enumerator, a typedef's struct) gets the
    // whole header, precompiled; a compile with warnings is made again to report them.
    DiagnosticSink trial;
    c = CompileC(source, context_, sm_, trial, first);
    if (!c || !trial.diagnostics().empty()) {
      KernelTypes whole;
      std::string error;
      if (!c && KernelTypesHeader(btf, &whole, &error)) {
        CSource again;
        if (!build(whole, again)) return false;
        c = CompileC(again, context_, sm_, diags_, first, whole.pch);
      } else {
        c = CompileC(source, context_, sm_, diags_, first);
      }
    }
  } else {
    c = CompileC(source, context_, sm_, diags_, first, types.pch);
  }
  if (!c) return false;
  KernelLoads loads = ReadKernelAddressesByHelper(*c);
  for (const BitfieldRead& read : loads.bitfields)
    Unsupported(ScriptPlace(read.file, read.line, read.column, first),
                "reading bitfield `" + read.member + "` through an address the C made",
                "; read it in the script (@cast(address, \"" +
                    (read.holder.empty() ? "TYPE" : read.holder) + "\")->" + read.member + ")");
  for (const KernelWrite& write : loads.writes)
    diags_.Report(Diag::EmbeddedCError, ScriptPlace(write.file, write.line, write.column, first),
                  {"a BPF program cannot write kernel memory, and this writes through an "
                   "address the C made (BPF reads kernel memory with bpf_probe_read_kernel; "
                   "it has no way to write it)"});
  if (!loads.bitfields.empty() || !loads.writes.empty()) return false;
  c->setDataLayout(module_.getDataLayout());
  c->setTargetTriple(module_.getTargetTriple());
  std::set<std::string> defined;
  for (llvm::Function& fn : *c)
    if (!fn.isDeclaration()) defined.insert(fn.getName().str());
  NameCFunctions(*c);
  // The C's constants (string literals, STAP_ERROR's formats) join the script's
  // literals in `.rodata`, the one read-only section the runtime places on the user
  // side; bpf_snprintf wants its format there too.
  // Each gets a symbol of its own, as the script's literals have: the runtime's
  // interpreter places data by symbol.
  int constants = 0;
  for (llvm::GlobalVariable& g : c->globals()) {
    if (!g.isConstant() || g.isDeclaration() || g.hasSection()) continue;
    g.setSection(".rodata");
    g.setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::None);  // else a mergeable section
    if (g.hasPrivateLinkage()) {
      g.setLinkage(llvm::GlobalValue::InternalLinkage);
      g.setName("__btap_cdata" + std::to_string(constants++));
    }
  }
  // The linker's complaint (C defining a name the script's module has) becomes btap's.
  struct Keep : llvm::DiagnosticHandler {
    std::string* out;
    explicit Keep(std::string* o) : out(o) {}
    bool handleDiagnostics(const llvm::DiagnosticInfo& info) override {
      if (info.getSeverity() == llvm::DS_Error) {
        llvm::raw_string_ostream text(*out);
        llvm::DiagnosticPrinterRawOStream printer(text);
        info.print(printer);
      }
      return true;
    }
  };
  std::string why;
  std::unique_ptr<llvm::DiagnosticHandler> handler = context_.getDiagnosticHandler();
  context_.setDiagnosticHandler(std::make_unique<Keep>(&why));
  bool link_failed = llvm::Linker::linkModules(module_, std::move(c));
  context_.setDiagnosticHandler(std::move(handler));
  if (link_failed) {
    diags_.Report(Diag::CodegenFailed, first,
                  {"linking the embedded C failed" + (why.empty() ? "" : ": " + why)});
    return false;
  }
  // Inlined into the probes like the runtime library (bpflib.cpp): the same target
  // attributes on both sides, and nothing of the C left as a program of its own.
  for (const std::string& name : defined) {
    llvm::Function* fn = module_.getFunction(name);
    if (!fn) continue;
    fn->removeFnAttr("target-cpu");
    fn->removeFnAttr("target-features");
    fn->removeFnAttr(llvm::Attribute::NoInline);
    fn->addFnAttr(llvm::Attribute::AlwaysInline);
    fn->setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  return true;
}

}  // namespace btap::codegen::lowering
