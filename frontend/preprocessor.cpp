// Preprocessor: macros, conditionals and argument substitution, as stap's parser does
// them on the fly. Only kept tokens are substituted, so `%( $# >= 2 %? $2 %)` is safe.
#include "frontend/preprocessor.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace btap::frontend {

struct Preprocessor::Params {
  struct Binding {
    std::vector<Token> tokens;
    std::shared_ptr<Params> scope;  // parameters visible where the argument was written
    bool library = false;
  };
  std::unordered_map<std::string_view, Binding> bindings;
};

struct Preprocessor::Activation {
  const std::vector<Token>* body;
  size_t cursor = 0;
  std::shared_ptr<Params> params;
  bool library = false;  // inside a library macro: file-local macros are not visible
  std::string_view name;
  uint32_t expansion = 0;  // for macro bodies: the expansion record; 0 for parameters
  // A library macro's body: where its tokens are located, the invocation that the script
  // (or tapset) wrote, so that what they make is reported there, not in the .stpm file.
  std::optional<SourceRange> located;
};

Preprocessor::Preprocessor(SourceManager& sm, FileId file, const PPConfig& config,
                           const MacroTable* library, Arena& arena, DiagnosticSink& diags,
                           bool defining_library)
    : sm_(sm),
      config_(config),
      library_(library),
      arena_(arena),
      diags_(diags),
      defining_library_(defining_library),
      lexer_(sm, file, arena, diags) {}

Preprocessor::~Preprocessor() = default;

Token Preprocessor::Abort(const Token& at, Diag kind,
                          std::initializer_list<std::string_view> args) {
  diags_.Report(kind, at.range, args);
  aborted_ = true;
  stack_.clear();
  pending_.clear();
  Token eof;
  eof.range = at.range;
  return eof;
}

Token Preprocessor::RawNext() {
  if (!placeholder_.empty()) {
    Token t = placeholder_.back();
    placeholder_.pop_back();
    return t;
  }
  while (!stack_.empty()) {
    Activation& a = *stack_.back();
    if (a.cursor < a.body->size()) {
      if (++expanded_ > kMaxExpandedTokens)
        return Abort((*a.body)[a.cursor], Diag::MacroTooLarge,
                     {std::to_string(kMaxExpandedTokens)});
      Token t = (*a.body)[a.cursor++];
      if (a.expansion) t.expansion = a.expansion;
      if (a.located) t.range = *a.located;
      return t;
    }
    stack_.pop_back();
  }
  Token t = lexer_.Next();
  if (t.kind != Tok::Eof) saw_tokens_ = true;
  return t;
}

void Preprocessor::Define(const Token& at) {
  Token name = lexer_.Next();
  if (name.kind != Tok::Identifier && !(name.kind >= Tok::Probe && name.kind <= Tok::Catch)) {
    diags_.Report(Diag::MacroBadDefinition, name.range,
                  {"expected a macro name after `@define`, found " + DescribeToken(name)});
    return;
  }
  if (name.text == "define") {
    diags_.Report(Diag::MacroBadDefinition, name.range, {"cannot redefine `@define`"});
    return;
  }
  auto def = std::make_unique<MacroDef>();
  def->name = name.text;
  def->range = name.range;
  def->library = defining_library_;
  Token t = lexer_.Next();
  bool saw_params = false;
  if (t.kind == Tok::LParen) {
    saw_params = true;
    for (;;) {
      Token p = lexer_.Next();
      if (p.kind != Tok::Identifier) {
        diags_.Report(Diag::MacroBadDefinition, p.range,
                      {"expected a parameter name, found " + DescribeToken(p)});
        return;
      }
      def->params.push_back(p.text);
      t = lexer_.Next();
      if (t.kind == Tok::Comma) continue;
      if (t.kind == Tok::RParen) {
        t = lexer_.Next();
        break;
      }
      diags_.Report(Diag::MacroBadDefinition, t.range,
                    {"expected `,` or `)` in the parameters of macro `@" + std::string(def->name) +
                     "`, found " + DescribeToken(t)});
      return;
    }
  }
  if (t.kind != Tok::PPIf) {
    diags_.Report(Diag::MacroBadDefinition, t.range,
                  {std::string(saw_params ? "expected `%(`" : "expected `%(` or `(`") +
                   " after `@define " + std::string(def->name) + "`, found " + DescribeToken(t)});
    return;
  }
  int nesting = 0;
  for (;;) {
    Token b = lexer_.Next();
    if (b.kind == Tok::Eof) {
      diags_.Report(Diag::MacroUnterminated, name.range, {name.text});
      return;
    }
    if (b.kind == Tok::PPIf) ++nesting;
    if (b.kind == Tok::PPEnd && nesting-- == 0) break;
    def->body.push_back(b);
  }
  auto it = local_.find(def->name);
  if (it != local_.end()) {
    diags_.Report(Diag::MacroRedefined, name.range, {name.text});
    diags_.Note(Diag::MacroFirstDefined, it->second->range, {name.text});
    return;
  }
  (void)at;
  local_.emplace(def->name, std::move(def));
}

// After a bad invocation: consumes the rest of its argument list (when `last` is inside
// it) and leaves a placeholder value, so the parser does not report the hole again.
void Preprocessor::FailInvocation(const Token& at, const Token& last, int nesting) {
  Activation* act = stack_.empty() ? nullptr : stack_.back().get();
  auto next_here = [&]() -> Token {
    if (!act) return lexer_.Next();
    if (act->cursor < act->body->size()) return (*act->body)[act->cursor++];
    return Token{};
  };
  Token t = last;
  while (nesting > 0 && t.kind != Tok::Eof) {
    t = next_here();
    if (t.kind == Tok::LParen || t.kind == Tok::LBracket) ++nesting;
    if (t.kind == Tok::RParen || t.kind == Tok::RBracket) --nesting;
  }
  Token zero = at;
  zero.kind = Tok::Number;
  zero.text = "0";
  placeholder_.push_back(zero);
}

bool Preprocessor::Invoke(const Token& at) {
  Activation* act = stack_.empty() ? nullptr : stack_.back().get();
  std::string_view name = at.text;
  if (act && act->params) {
    auto it = act->params->bindings.find(name);
    if (it != act->params->bindings.end()) {
      if (stack_.size() >= kMaxExpansionDepth) {
        Abort(at, Diag::MacroTooDeep, {std::to_string(kMaxExpansionDepth), name});
        return true;
      }
      auto a = std::make_unique<Activation>();
      a->body = &it->second.tokens;
      a->params = it->second.scope;
      a->library = it->second.library;
      a->name = name;
      stack_.push_back(std::move(a));
      return true;
    }
  }
  const MacroDef* def = nullptr;
  if (!(act && act->library)) {
    auto it = local_.find(name);
    if (it != local_.end()) def = it->second.get();
  }
  if (!def && library_) {
    auto it = library_->find(name);
    if (it != library_->end()) def = it->second.get();
  }
  if (!def) return false;
  if (stack_.size() >= kMaxExpansionDepth) {
    Abort(at, Diag::MacroTooDeep, {std::to_string(kMaxExpansionDepth), name});
    return true;
  }
  auto params = std::make_shared<Params>();
  if (!def->params.empty()) {
    // Arguments are read raw (no expansion) from the current source, which must not
    // end in the middle of the invocation.
    auto next_here = [&]() -> Token {
      if (!act) return lexer_.Next();
      if (act->cursor < act->body->size()) return (*act->body)[act->cursor++];
      Token eof;
      eof.range = at.range;
      return eof;
    };
    Token t = next_here();
    std::string n = std::to_string(def->params.size());
    if (t.kind != Tok::LParen) {
      diags_.Report(Diag::MacroBadInvocation, t.range,
                    {"expected `(` in the invocation of macro `@" + std::string(name) +
                     "` taking " + n + (def->params.size() == 1 ? " parameter" : " parameters") +
                     ", found " + DescribeToken(t)});
      FailInvocation(at, t, 0);
      placeholder_.insert(placeholder_.begin(), t);  // the token after the name is not ours
      return true;
    }
    for (size_t i = 0; i < def->params.size(); ++i) {
      Params::Binding b;
      b.scope = act ? act->params : nullptr;
      b.library = act ? act->library : false;
      int nesting = 0;
      for (;;) {
        t = next_here();
        if (t.kind == Tok::Eof) break;
        if (t.kind == Tok::LParen || t.kind == Tok::LBracket)
          ++nesting;
        else if (nesting && (t.kind == Tok::RParen || t.kind == Tok::RBracket))
          --nesting;
        else if (!nesting && (t.kind == Tok::RParen || t.kind == Tok::Comma))
          break;
        b.tokens.push_back(t);
      }
      if (t.kind == Tok::Eof) {
        diags_.Report(
            Diag::MacroBadInvocation, at.range,
            {"could not find the end of the invocation of macro `@" + std::string(name) + "`"});
        FailInvocation(at, t, 0);
        return true;
      }
      if (t.kind == Tok::Comma && i + 1 == def->params.size()) {
        diags_.Report(
            Diag::MacroBadInvocation, t.range,
            {"too many arguments for macro `@" + std::string(name) + "` (expected " + n + ")"});
        FailInvocation(at, t, 1);
        return true;
      }
      if (t.kind == Tok::RParen && i + 1 != def->params.size()) {
        diags_.Report(
            Diag::MacroBadInvocation, t.range,
            {"too few arguments for macro `@" + std::string(name) + "` (expected " + n + ")"});
        FailInvocation(at, t, 0);
        return true;
      }
      params->bindings[def->params[i]] = std::move(b);
    }
  }
  auto a = std::make_unique<Activation>();
  a->body = &def->body;
  a->params = std::move(params);
  a->library = def->library;
  // Nested library macros keep the outermost invocation: `at` came from a body already
  // located there.
  if (def->library) a->located = at.range;
  a->name = name;
  a->expansion = static_cast<uint32_t>(expansions_.size());
  expansions_.push_back({at.range, name, at.expansion});
  stack_.push_back(std::move(a));
  return true;
}

void Preprocessor::NoteExpansions(const Token& t) const {
  for (uint32_t e = t.expansion; e != 0 && e < expansions_.size(); e = expansions_[e].parent)
    diags_.Note(
        expansions_[e].name.starts_with("$") ? Diag::ArgumentSubstituted : Diag::MacroExpandedFrom,
        expansions_[e].invocation, {expansions_[e].name});
}

Token Preprocessor::MacroNext(bool skipping) {
  for (;;) {
    Token t = RawNext();
    if (aborted_) return t;
    if (t.kind != Tok::AtWord || skipping) return t;
    if (t.text == "define") {
      if (!stack_.empty()) {
        diags_.Report(Diag::MacroDefineInBody, t.range);
        continue;
      }
      Define(t);
      continue;
    }
    if (Invoke(t)) continue;
    return t;
  }
}

Token Preprocessor::SkipToMarker() {
  int nesting = 0;
  for (;;) {
    Token t = MacroNext(true);
    if (t.kind == Tok::Eof) return t;
    if (t.kind == Tok::PPIf)
      ++nesting;
    else if (nesting && t.kind == Tok::PPEnd)
      --nesting;
    else if (!nesting && (t.kind == Tok::PPElse || t.kind == Tok::PPThen || t.kind == Tok::PPEnd))
      return t;
  }
}

namespace {

bool IsComparison(Tok k) {
  return k == Tok::EqEq || k == Tok::NotEq || k == Tok::Less || k == Tok::Greater ||
         k == Tok::LessEq || k == Tok::GreaterEq;
}

template <typename T>
bool Compare(const T& a, Tok op, const T& b) {
  switch (op) {
    case Tok::EqEq:
      return a == b;
    case Tok::NotEq:
      return a != b;
    case Tok::Less:
      return a < b;
    case Tok::Greater:
      return a > b;
    case Tok::LessEq:
      return a <= b;
    case Tok::GreaterEq:
      return a >= b;
    default:
      return false;
  }
}

}  // namespace

bool Preprocessor::EvalComparison(const Token& l, const Token& op, const Token& r, bool* ok) {
  auto fail = [&](const Token& at, std::string msg) {
    diags_.Report(Diag::PPBadCondition, at.range, {msg});
    *ok = false;
    return false;
  };
  if (!IsComparison(op.kind))
    return fail(op, "expected a comparison operator, found " + DescribeToken(op));
  bool equality = op.kind == Tok::EqEq || op.kind == Tok::NotEq;
  auto glob_result = [&](std::string_view pattern, std::string_view value) {
    return GlobMatches(pattern, value) == (op.kind == Tok::EqEq);
  };
  if (l.kind == Tok::Identifier) {
    std::string_view name = l.text;
    // The kernel's: decided as the runtime decides them again (common/kernel_terms.h).
    if (name == "kernel_v" || name == "kernel_vr" || name.starts_with("CONFIG_")) {
      KernelTerm t;
      t.name = std::string(name);
      t.op = std::string(op.text);
      t.operand = std::string(r.text);
      t.kind = r.kind == Tok::String   ? KernelTerm::Operand::String
               : r.kind == Tok::Number ? KernelTerm::Operand::Number
                                       : KernelTerm::Operand::Option;
      if (t.kind == KernelTerm::Operand::Option &&
          !(r.kind == Tok::Identifier && r.text.starts_with("CONFIG_")))
        return fail(r, name.starts_with("CONFIG_")
                           ? "expected a string, a number or another `CONFIG_` option, found " +
                                 DescribeToken(r)
                           : "expected a version string after `" + t.name + "`");
      std::string why;
      TermPart part = TermPart::Op;
      if (!DecideKernelTerm(t, config_.kernel_vr, config_.kernel_config, &t.result, &why, &part))
        return fail(part == TermPart::Left ? l : part == TermPart::Right ? r : op, why);
      if (config_.kernel_terms) {
        const SourceFile& f = sm_.file(l.range.file);
        LineColumn lc = f.Locate(l.range.begin);
        t.where = f.name() + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.column);
        config_.kernel_terms->push_back(t);
      }
      return t.result;
    }
    if (name == "systemtap_v") {
      if (r.kind != Tok::String)
        return fail(r, "expected a version string after `" + std::string(name) + "`");
      const std::string& target = config_.systemtap_v;
      bool wildcard = r.text.find_first_of("*?[") != std::string_view::npos;
      if (wildcard) {
        if (!equality) return fail(op, "wildcards are only allowed with `==` and `!=`");
        return glob_result(r.text, target);
      }
      return Compare(CompareVersions(target, r.text), op.kind, 0);
    }
    if (name == "arch" || name == "runtime" || name == "systemtap_privilege") {
      if (r.kind != Tok::String)
        return fail(r, "expected a string after `" + std::string(name) + "`");
      if (!equality)
        return fail(op, "`" + std::string(name) + "` can only be compared with `==` or `!=`");
      const std::string& target = name == "arch"      ? config_.arch
                                  : name == "runtime" ? config_.runtime
                                                      : config_.privilege;
      if (name == "systemtap_privilege") return (target == r.text) == (op.kind == Tok::EqEq);
      return glob_result(r.text, target);
    }
    if (name == "guru_mode") {
      int64_t v = 0;
      if (r.kind != Tok::Number || !ParseInt64(r.text, &v))
        return fail(r, "expected a number after `guru_mode`");
      if (v != 0 && v != 1) return fail(r, "`guru_mode` is 0 or 1");
      if (!equality) return fail(op, "`guru_mode` can only be compared with `==` or `!=`");
      return Compare<int64_t>(config_.guru_mode ? 1 : 0, op.kind, v);
    }
  }
  if (l.kind == Tok::String && r.kind == Tok::String)
    return Compare(std::string_view(l.text), op.kind, std::string_view(r.text));
  if (l.kind == Tok::Number && r.kind == Tok::Number) {
    int64_t a = 0, b = 0;
    if (!ParseInt64(l.text, &a)) return fail(l, "invalid number `" + std::string(l.text) + "`");
    if (!ParseInt64(r.text, &b)) return fail(r, "invalid number `" + std::string(r.text) + "`");
    return Compare(a, op.kind, b);
  }
  if (l.kind == Tok::String && r.kind == Tok::Number)
    return fail(r, "expected a string to compare with a string");
  if (l.kind == Tok::Number && r.kind == Tok::String)
    return fail(r, "expected a number to compare with a number");
  return fail(l,
              "expected `arch`, `kernel_v`, `kernel_vr`, `systemtap_v`, `runtime`, "
              "`systemtap_privilege`, `guru_mode`, `CONFIG_...`, or a comparison of two "
              "strings or two numbers, found " +
                  DescribeToken(l));
}

bool Preprocessor::EvalCondition(const Token& start, Token* marker) {
  bool result = false, and_result = true;
  for (;;) {
    Token operands[3];
    for (Token& t : operands) {
      t = MacroNext(false);
      if (t.kind == Tok::ArgRef) t = Substitute(t);
      if (t.kind == Tok::Eof || t.kind == Tok::PPThen || t.kind == Tok::PPElse ||
          t.kind == Tok::PPEnd || t.kind == Tok::PPIf) {
        diags_.Report(Diag::PPIncompleteCondition, start.range);
        *marker = t;
        return false;
      }
    }
    bool ok = true;
    and_result = EvalComparison(operands[0], operands[1], operands[2], &ok) && and_result;
    Token n = MacroNext(false);
    if (n.kind == Tok::AndAnd) continue;
    result = result || and_result;
    and_result = true;
    if (n.kind == Tok::OrOr) continue;
    *marker = n;
    return result;
  }
}

Token Preprocessor::Substitute(const Token& t) {
  bool raw = t.text[0] == '$';
  Token out = t;
  if (t.text[1] == '#') {
    std::string count = std::to_string(config_.args.size());
    out.kind = raw ? Tok::Number : Tok::String;
    out.text = arena_.Copy(count);
    return out;
  }
  size_t idx = 0;
  for (char c : t.text.substr(1)) {
    idx = idx * 10 + static_cast<size_t>(c - '0');
    if (idx > 1'000'000) break;
  }
  if (idx == 0 || idx > config_.args.size()) {
    diags_.Report(Diag::ArgOutOfRange, t.range, {t.text, std::to_string(config_.args.size())});
    // A placeholder value keeps the parser from reporting the same hole again.
    out.kind = raw ? Tok::Number : Tok::String;
    out.text = raw ? "0" : "";
    return out;
  }
  const std::string& arg = config_.args[idx - 1];
  // The text lives as long as the sources: the AST keeps views of it, and a tapset file's
  // preprocessor (with its copy of the arguments) is gone once the file is parsed.
  FileId f = sm_.AddFile("<argument " + std::to_string(idx) + ">", arg);
  if (!raw) {
    out.kind = Tok::String;
    out.text = sm_.file(f).text();
    return out;
  }
  Lexer sub(sm_, f, arena_, diags_);
  std::vector<Token> tokens;
  for (Token s = sub.Next(); s.kind != Tok::Eof; s = sub.Next()) {
    if (s.kind == Tok::ArgRef) {
      diags_.Report(Diag::NestedArg, s.range, {s.text});
      continue;
    }
    tokens.push_back(s);
  }
  // Errors in the argument's tokens point at the argument, with a note at `$N`.
  uint32_t expansion = static_cast<uint32_t>(expansions_.size());
  expansions_.push_back({t.range, t.text, t.expansion});
  for (Token& s : tokens) s.expansion = expansion;
  if (tokens.empty()) {
    out.kind = Tok::Invalid;  // an empty argument vanishes
    return out;
  }
  tokens.front().space_before = t.space_before;
  pending_.assign(tokens.rbegin(), tokens.rend() - 1);
  return tokens.front();
}

Token Preprocessor::Next() {
  if (aborted_) {
    Token eof;
    return eof;
  }
  if (!pending_.empty()) {
    Token t = pending_.back();
    pending_.pop_back();
    return t;
  }
  for (;;) {
    Cond state = conds_.empty() ? Cond::KeepThen : conds_.back().second;
    bool skip = !conds_.empty() && (state == Cond::SkipThen || state == Cond::SkipElse);
    Token t = skip ? SkipToMarker() : MacroNext(false);
    if (aborted_) return Token{};
    switch (t.kind) {
      case Tok::Eof:
        if (!conds_.empty()) {
          diags_.Report(Diag::PPUnterminated, conds_.back().first.range);
          conds_.clear();
        }
        return t;
      case Tok::PPThen:
        diags_.Report(Diag::PPMissingOpen, t.range, {"%?"});
        continue;
      case Tok::PPElse:
        if (conds_.empty()) {
          diags_.Report(Diag::PPMissingOpen, t.range, {"%:"});
        } else if (state == Cond::KeepElse || state == Cond::SkipElse) {
          diags_.Report(Diag::PPDuplicateElse, t.range);
          diags_.Note(Diag::PPConditionStart, conds_.back().first.range);
        } else {
          conds_.back().second = state == Cond::KeepThen ? Cond::SkipElse : Cond::KeepElse;
        }
        continue;
      case Tok::PPEnd:
        if (conds_.empty())
          diags_.Report(Diag::PPMissingOpen, t.range, {"%)"});
        else
          conds_.pop_back();
        continue;
      case Tok::PPIf: {
        Token marker;
        bool result = EvalCondition(t, &marker);
        if (aborted_) return Token{};
        if (marker.kind != Tok::PPThen) {
          if (marker.kind != Tok::Eof) diags_.Report(Diag::PPExpectedThen, marker.range);
          result = false;
          if (marker.kind == Tok::Eof) {
            diags_.Report(Diag::PPUnterminated, t.range);
            return marker;
          }
        }
        conds_.emplace_back(t, result ? Cond::KeepThen : Cond::SkipThen);
        continue;
      }
      case Tok::ArgRef: {
        Token s = Substitute(t);
        if (s.kind == Tok::Invalid) continue;
        return s;
      }
      default:
        if (defining_library_) {
          diags_.Report(Diag::LibraryMacroToken, t.range, {DescribeToken(t)});
          continue;
        }
        return t;
    }
  }
}

}  // namespace btap::frontend
