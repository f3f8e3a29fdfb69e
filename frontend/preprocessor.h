// Preprocessor: reads the lexer's tokens and yields what the parser sees.
// Layers, innermost first: macro definition and expansion (@define, @name(args),
// library macros from .stpm files), then conditionals (%( cond %? then %: else %)),
// then command-line argument substitution ($1, @1, $#, @#) on the tokens kept.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/arena.h"
#include "common/diagnostics.h"
#include "common/kernel_terms.h"
#include "frontend/lexer.h"

namespace btap::frontend {

// What preprocessor conditions compare against.
struct PPConfig {
  std::string kernel_v = "0.0.0";   // base kernel release, e.g. "6.18.0"
  std::string kernel_vr = "0.0.0";  // full release, e.g. "6.18.0-1-amd64"
  std::string arch = "x86_64";
  std::string runtime = "bpf";
  std::string systemtap_v = "4.8";  // language version (--compatible)
  std::string privilege = "stapdev";
  bool guru_mode = false;
  std::vector<std::string> args;  // script arguments: $1 is args[0]
  // CONFIG_* values ("y", "m", "64", or "" when unset); looked up only when a
  // condition names one.
  std::function<std::string(std::string_view)> kernel_config;
  // When set, every kernel_v, kernel_vr and CONFIG_ comparison decided is added here, for
  // the object to carry (the runtime decides them again on the kernel that loads it).
  std::shared_ptr<std::vector<KernelTerm>> kernel_terms;
};

struct MacroDef {
  std::string_view name;
  SourceRange range;  // the name in the definition
  std::vector<std::string_view> params;
  std::vector<Token> body;
  bool library = false;
};

// Macros from .stpm files, visible in every script; owned by the frontend context.
using MacroTable = std::unordered_map<std::string_view, std::unique_ptr<MacroDef>>;

class Preprocessor {
 public:
  // `library` holds the library macros (may be null). When `defining_library` is set,
  // the file is a .stpm file: it may only define macros, which land in `local_macros()`.
  Preprocessor(SourceManager& sm, FileId file, const PPConfig& config, const MacroTable* library,
               Arena& arena, DiagnosticSink& diags, bool defining_library = false);
  ~Preprocessor();

  Token Next();
  MacroTable& local_macros() { return local_; }
  // True once a limit (expansion depth, size) stopped processing.
  bool aborted() const { return aborted_; }
  // Adds "in expansion of macro" notes, innermost first, for a token from a macro body.
  void NoteExpansions(const Token& t) const;
  // True if the lexer produced any token at all (for "empty after preprocessing").
  bool saw_tokens() const { return saw_tokens_; }

  static constexpr size_t kMaxExpansionDepth = 1000;
  static constexpr size_t kMaxExpandedTokens = 5'000'000;

 private:
  struct Params;
  struct Activation;
  enum class Cond { KeepThen, SkipThen, KeepElse, SkipElse };

  Token RawNext();
  Token MacroNext(bool skipping);
  void Define(const Token& at);
  bool Invoke(const Token& at);
  Token SkipToMarker();
  bool EvalCondition(const Token& start, Token* marker);
  bool EvalComparison(const Token& l, const Token& op, const Token& r, bool* ok);
  Token Substitute(const Token& t);
  Token Abort(const Token& at, Diag kind, std::initializer_list<std::string_view> args);
  void FailInvocation(const Token& at, const Token& last, int nesting);

  SourceManager& sm_;
  const PPConfig& config_;
  const MacroTable* library_;
  Arena& arena_;
  DiagnosticSink& diags_;
  bool defining_library_;
  Lexer lexer_;
  MacroTable local_;
  std::vector<std::unique_ptr<Activation>> stack_;
  std::vector<std::pair<Token, Cond>> conds_;
  std::vector<Token> pending_;      // substituted argument tokens, in reverse order
  std::vector<Token> placeholder_;  // stands for a failed macro invocation
  struct Expansion {
    SourceRange invocation;
    std::string_view name;
    uint32_t parent;  // the expansion the invocation itself came from
  };
  std::vector<Expansion> expansions_{Expansion{}};  // index 0: not expanded
  size_t expanded_ = 0;
  bool aborted_ = false;
  bool saw_tokens_ = false;
};

// Compares versions like GNU strverscmp (common/kernel_terms.h); exposed for tests.
using btap::CompareVersions;

}  // namespace btap::frontend
