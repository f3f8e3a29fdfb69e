// Embedded C compiled by Clang in process (see embedded_c.h): a CompilerInstance over an
// in-memory file, for the BPF target, emitting a module in the script's LLVMContext.
#include "codegen/embedded_c.h"

#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/DiagnosticOptions.h>
#include <clang/Basic/SourceManager.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/FrontendActions.h>
#include <clang/Lex/PreprocessorOptions.h>
#include <llvm/IR/Module.h>
#include <llvm/Passes/PassPlugin.h>
#include <llvm/Support/MemoryBuffer.h>

#include <algorithm>
#include <cctype>
#include <set>

// Debian's Clang is built to register Polly's passes (linked into its own tools); btap
// links no Polly, and its pipeline needs none.
llvm::PassPluginLibraryInfo getPollyPluginInfo() {
  return {LLVM_PLUGIN_API_VERSION, "Polly", "0", [](llvm::PassBuilder&) {}};
}

namespace btap::codegen {
namespace {

constexpr const char* kFileName = "btap-embedded.c";

struct ClangMessage {
  clang::DiagnosticsEngine::Level level;
  std::string text;
  size_t offset = SIZE_MAX;  // in the translation unit, when known
};

// Keeps Clang's diagnostics for the script's sink (Clang never prints here).
class Collector : public clang::DiagnosticConsumer {
 public:
  void HandleDiagnostic(clang::DiagnosticsEngine::Level level,
                        const clang::Diagnostic& info) override {
    DiagnosticConsumer::HandleDiagnostic(level, info);
    ClangMessage m;
    m.level = level;
    llvm::SmallString<160> text;
    info.FormatDiagnostic(text);
    m.text = std::string(text);
    if (info.hasSourceManager() && info.getLocation().isValid()) {
      const clang::SourceManager& sm = info.getSourceManager();
      clang::SourceLocation loc = sm.getFileLoc(info.getLocation());
      if (sm.getFileID(loc) == sm.getMainFileID()) m.offset = sm.getFileOffset(loc);
    }
    messages.push_back(std::move(m));
  }
  std::vector<ClangMessage> messages;
};

// Clang's quotes become the backticks btap's messages quote code with.
std::string Requote(std::string text) {
  bool open = true;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\'') continue;
    // An apostrophe inside a word ("doesn't") stays.
    bool inside_word = i > 0 && i + 1 < text.size() && std::isalpha(text[i - 1]) &&
                       std::isalpha(text[i + 1]) && open;
    if (inside_word) continue;
    text[i] = '`';
    open = !open;
  }
  return text;
}

// What to add to Clang's "call to undeclared function `f`": the kernel's functions are
// not in reach of BPF (its types are).
std::string UndeclaredFunctionNote(std::string_view text) {
  if (!text.starts_with("call to undeclared function `")) return "";
  return "embedded C compiled to BPF has the kernel's types (from BTF), not its functions or "
         "header inlines: read kernel memory with kread()";
}

}  // namespace

void CSource::AddScript(std::string_view code, SourceRange origin, const SourceManager& sm,
                        std::string_view lead, std::string_view tail) {
  const SourceFile& file = sm.file(origin.file);
  LineColumn lc = file.Locate(origin.begin);
  // Backslashes and quotes in a file name would end the directive's string early.
  std::string name;
  for (char c : file.name()) {
    if (c == '"' || c == '\\') name += '\\';
    name += c;
  }
  if (!text_.empty() && text_.back() != '\n') text_ += '\n';
  text_ += "#line " + std::to_string(lc.line) + " \"" + name + "\"\n";
  text_ += lead;
  if (lead.empty()) text_.append(lc.column > 0 ? lc.column - 1 : 0, ' ');
  pieces_.push_back({text_.size(), code.size(), origin});
  text_ += code;
  text_ += tail;
  // What follows is btap's again: its lines must not pass for the script's.
  text_ += "\n#line 1 \"<btap embedded C>\"\n";
}

SourceRange CSource::Origin(size_t offset) const {
  for (const Piece& p : pieces_)
    if (offset >= p.at && offset <= p.at + p.size) {
      uint32_t at = p.origin.begin + static_cast<uint32_t>(offset - p.at);
      return {p.origin.file, at, at + 1};
    }
  return {};
}

namespace {

// The flags bpflib's C is built with (codegen/CMakeLists.txt), with debug info so that
// BTF line info quotes the script's lines; `.` as the compilation directory so that the
// file names match the script's own debug info (maps.cpp); with the source embedded, as
// the script's files have it (a line table mixing files with and without source comes
// out different on every run). A precompiled header must be made with the same flags.
std::vector<const char*> BaseArgs() {
  return {"-triple",
          "bpfel",
          "-target-cpu",
          "v3",
          "-O2",
          "-disable-llvm-passes",
          "-ffreestanding",
          "-nostdsysteminc",
          "-nobuiltininc",
          "-std=gnu11",
          "-debug-info-kind=constructor",
          "-dwarf-version=4",
          "-gembed-source",
          "-fdebug-compilation-dir=.",
          "-Wall",
          "-Wno-unused-function",
          "-Wno-unused-variable",
          "-Wno-unused-label",
          "-ferror-limit",
          "20"};
}

}  // namespace

bool CDefine(std::string_view option, std::string* name, std::string* directive,
             std::string* error) {
  auto identifier = [](std::string_view w) {
    if (w.empty() || std::isdigit(static_cast<unsigned char>(w[0]))) return false;
    return std::all_of(w.begin(), w.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
  };
  auto trim = [](std::string_view w) {
    while (!w.empty() && std::isspace(static_cast<unsigned char>(w.front()))) w.remove_prefix(1);
    while (!w.empty() && std::isspace(static_cast<unsigned char>(w.back()))) w.remove_suffix(1);
    return w;
  };
  size_t eq = option.find('=');
  size_t paren = option.find('(');
  std::string_view head = option.substr(0, eq), params;
  if (paren < eq) {
    size_t close = option.find(')', paren);
    if (close == std::string_view::npos || close > eq ||
        trim(option.substr(close + 1, eq - close - 1)) != "") {
      *error =
          "-D `" + std::string(option) + "`: expected NAME(ARGS)=VALUE, with the `)` before `=`";
      return false;
    }
    head = option.substr(0, paren);
    params = option.substr(paren + 1, close - paren - 1);
  }
  if (!identifier(head)) {
    *error = "-D `" + std::string(option) + "`: `" + std::string(head) +
             "` is not a macro name (letters, digits and `_`, not starting with a digit)";
    return false;
  }
  std::string args;
  if (paren < eq) {
    std::string_view rest = params;
    bool first = true, variadic = false;
    std::set<std::string_view> seen;
    while (!trim(rest).empty() || !first) {
      size_t comma = rest.find(',');
      std::string_view arg = trim(rest.substr(0, comma));
      if (variadic || !(identifier(arg) || arg == "...") || !seen.insert(arg).second) {
        *error = "-D `" + std::string(option) + "`: the macro's parameters must be distinct " +
                 "names, separated by commas, with `...` only last";
        return false;
      }
      variadic = arg == "...";
      args += (first ? "" : ", ") + std::string(arg);
      first = false;
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    args = "(" + args + ")";
  }
  std::string value = eq == std::string_view::npos ? "1" : std::string(option.substr(eq + 1));
  for (char& c : value)
    if (c == '\n' || c == '\r') c = ' ';  // either would end the directive
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  // What would reach past the `#define` line: a comment left open, or a continuation
  // (a backslash before the line's end, spaces between them included).
  size_t open = value.rfind("/*");
  if ((open != std::string::npos && value.find("*/", open + 2) == std::string::npos) ||
      (!value.empty() && value.back() == '\\')) {
    *error = "-D `" + std::string(option) +
             "`: a macro's value cannot leave a comment open or end in `\\`";
    return false;
  }
  *name = std::string(head);
  *directive = "#define " + *name + args + " " + value;
  return true;
}

bool PrecompileHeader(const std::string& header, const std::string& pch, std::string* error) {
  std::vector<const char*> args = BaseArgs();
  // No timestamps: the cached header's name fixes its content, and a copy of the cache
  // with other file times (cp, rsync) must not make every later compile fail.
  for (const char* a : {"-emit-pch", "-fno-pch-timestamp", "-x", "c-header", "-o"})
    args.push_back(a);
  args.push_back(pch.c_str());
  args.push_back(header.c_str());
  Collector collector;
  auto options = llvm::makeIntrusiveRefCnt<clang::DiagnosticOptions>();
  clang::DiagnosticsEngine engine(llvm::makeIntrusiveRefCnt<clang::DiagnosticIDs>(), options,
                                  &collector, false);
  auto invocation = std::make_shared<clang::CompilerInvocation>();
  bool ok = clang::CompilerInvocation::CreateFromArgs(*invocation, args, engine);
  if (ok) {
    invocation->getDiagnosticOpts().ShowCarets = false;
    clang::CompilerInstance clang;
    clang.setInvocation(invocation);
    clang.createDiagnostics(&collector, false);
    clang::GeneratePCHAction action;
    ok = clang.ExecuteAction(action);
  }
  if (!ok) {
    *error = "cannot precompile `" + header + "`";
    for (const ClangMessage& m : collector.messages)
      if (m.level >= clang::DiagnosticsEngine::Error) {
        *error += ": " + m.text;
        break;
      }
  }
  return ok;
}

// The kernel headers the C includes (`#include <linux/sched.h>`): stap's C gets them
// from the kernel's build tree; here the kernel's types come from its BTF, so each is an
// empty file in a folder of its own (a macro it would have defined is then an error that
// names it).
constexpr char kKernelHeaders[] = "/btap-kernel-headers";

static std::vector<std::string> KernelIncludes(std::string_view text) {
  std::vector<std::string> out;
  for (size_t at = text.find("#include"); at != std::string_view::npos;
       at = text.find("#include", at + 1)) {
    size_t open = text.find_first_not_of(" \t", at + 8);
    if (open == std::string_view::npos || text[open] != '<') continue;
    size_t close = text.find('>', open);
    if (close == std::string_view::npos ||
        text.substr(open, close - open).find('\n') != std::string_view::npos)
      continue;
    std::string name(text.substr(open + 1, close - open - 1));
    for (const char* dir : {"linux/", "asm/", "asm-generic/", "net/", "uapi/", "trace/",
                            "generated/", "crypto/", "scsi/", "sound/", "keys/", "xen/"})
      if (name.rfind(dir, 0) == 0) out.push_back(std::string(kKernelHeaders) + "/" + name);
  }
  return out;
}

std::unique_ptr<llvm::Module> CompileC(const CSource& source, llvm::LLVMContext& context,
                                       const SourceManager& sm, DiagnosticSink& diags,
                                       SourceRange fallback, const std::string& pch) {
  std::vector<const char*> args = BaseArgs();
  std::vector<std::string> headers = KernelIncludes(source.text());
  if (!headers.empty()) {
    args.push_back("-I");
    args.push_back(kKernelHeaders);
  }
  if (!pch.empty()) {
    args.push_back("-include-pch");
    args.push_back(pch.c_str());
  }
  for (const char* a : {"-x", "c", kFileName}) args.push_back(a);
  Collector collector;
  auto options = llvm::makeIntrusiveRefCnt<clang::DiagnosticOptions>();
  clang::DiagnosticsEngine engine(llvm::makeIntrusiveRefCnt<clang::DiagnosticIDs>(), options,
                                  &collector, false);
  auto invocation = std::make_shared<clang::CompilerInvocation>();
  std::unique_ptr<llvm::Module> module;
  if (clang::CompilerInvocation::CreateFromArgs(*invocation, args, engine)) {
    invocation->getDiagnosticOpts().ShowCarets = false;  // no "N errors generated." of its own
    invocation->getPreprocessorOpts().addRemappedFile(
        kFileName, llvm::MemoryBuffer::getMemBufferCopy(source.text(), kFileName).release());
    for (const std::string& header : headers)
      invocation->getPreprocessorOpts().addRemappedFile(
          header, llvm::MemoryBuffer::getMemBufferCopy(
                      "/* the kernel's types come from its BTF */\n", header)
                      .release());
    clang::CompilerInstance clang;
    clang.setInvocation(invocation);
    clang.createDiagnostics(&collector, false);
    clang::EmitLLVMOnlyAction action(&context);
    if (clang.ExecuteAction(action)) module = action.takeModule();
  }
  bool failed = !module;
  for (const ClangMessage& m : collector.messages) {
    SourceRange at = m.offset == SIZE_MAX ? SourceRange{} : source.Origin(m.offset);
    std::string text = Requote(m.text);
    if (!at.valid()) {
      at = fallback;
      // Where Clang points into generated text, its text is not the user's: say so.
      if (m.offset != SIZE_MAX) text += " (in btap's code around the embedded C)";
    }
    switch (m.level) {
      case clang::DiagnosticsEngine::Error:
      case clang::DiagnosticsEngine::Fatal:
        failed = true;
        diags.Report(Diag::EmbeddedCError, at, {text});
        if (std::string note = UndeclaredFunctionNote(text); !note.empty())
          diags.Note(Diag::EmbeddedCNote, at, {note});
        break;
      case clang::DiagnosticsEngine::Warning:
        diags.Report(Diag::EmbeddedCWarning, at, {text});
        break;
      case clang::DiagnosticsEngine::Note:
        if (!diags.diagnostics().empty()) diags.Note(Diag::EmbeddedCNote, at, {text});
        break;
      default:
        break;
    }
  }
  if (failed) {
    if (collector.messages.empty())
      diags.Report(Diag::EmbeddedCError, fallback, {"clang could not compile the embedded C"});
    return nullptr;
  }
  return module;
}

}  // namespace btap::codegen
