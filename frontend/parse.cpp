// Pass 1 driver: token filter, Bison glue (yylex, syntax-error messages) and the
// frontend entry points.
#include <algorithm>
#include <string>

#include "frontend/frontend.h"
#include "frontend/parse_context.h"

namespace btap::frontend {

using Parser = yy::Parser;
using SymbolKind = Parser::symbol_kind_type;

namespace {

constexpr Parser::token_kind_type kBisonToken[] = {
#define TOKEN(name, desc) Parser::token::TOK_##name,
#define KEYWORD(name, spelling) Parser::token::TOK_##name,
#define PUNCT(name, spelling) Parser::token::TOK_##name,
#define ATWORD(name, spelling)
#include "common/tokens.def"
};

Parser::token_kind_type AtWordToken(std::string_view name) {
  switch (ClassifyAtWord(name)) {
    case AtWord::Cast:
      return Parser::token::TOK_AtCast;
    case AtWord::Var:
      return Parser::token::TOK_AtVar;
    case AtWord::Defined:
      return Parser::token::TOK_AtDefined;
    case AtWord::Entry:
      return Parser::token::TOK_AtEntry;
    case AtWord::Probewrite:
      return Parser::token::TOK_AtProbewrite;
    case AtWord::Const:
      return Parser::token::TOK_AtConst;
    case AtWord::Perf:
      return Parser::token::TOK_AtPerf;
    case AtWord::Kregister:
    case AtWord::Uregister:
      return Parser::token::TOK_AtRegister;
    case AtWord::Kderef:
    case AtWord::Uderef:
      return Parser::token::TOK_AtDeref;
    case AtWord::HistLog:
    case AtWord::HistLinear:
      return Parser::token::TOK_AtHist;
    case AtWord::Count:
    case AtWord::Sum:
    case AtWord::Min:
    case AtWord::Max:
    case AtWord::Avg:
    case AtWord::Variance:
      return Parser::token::TOK_AtStat;
    case AtWord::None:
      break;
  }
  return Parser::token::TOK_AtUnknown;
}

bool IsKeyword(Tok k) { return k >= Tok::Probe && k <= Tok::Catch; }

bool IsTopLevelStart(Tok k) {
  return k == Tok::Probe || k == Tok::Global || k == Tok::Private || k == Tok::Function ||
         k == Tok::Embedded;
}

}  // namespace

Token ParseContext::Pull() {
  if (!ahead_.empty()) {
    Token t = ahead_.front();
    ahead_.pop_front();
    return t;
  }
  for (;;) {
    Token t = pp_.Next();
    if (t.kind != Tok::Invalid) return t;  // already reported
  }
}

const Token& ParseContext::Peek() {
  if (ahead_.empty()) {
    Token t;
    do t = pp_.Next();
    while (t.kind == Tok::Invalid);
    ahead_.push_back(t);
  }
  return ahead_.front();
}

Token ParseContext::Glue(Token t) {
  if (paren_depth_ > 0) {
    if (t.kind == Tok::LParen) ++paren_depth_;
    if (t.kind == Tok::RParen) --paren_depth_;
    return t;
  }
  auto gluable = [](const Token& u) {
    return u.kind == Tok::Identifier || u.kind == Tok::Star || IsKeyword(u.kind);
  };
  if (expect_component_) {
    if (gluable(t)) {
      std::string joined;
      while (gluable(Peek()) && !Peek().space_before) {
        if (joined.empty()) joined = t.text;
        Token u = Pull();
        joined += u.text;
        t.range = SourceRange::Join(t.range, u.range);
      }
      if (!joined.empty()) t.text = arena_.Copy(joined);
      t.kind = Tok::PPName;
      expect_component_ = false;
      return t;
    }
    if (t.kind == Tok::LBrace) {
      t.kind = Tok::PPLBrace;
      ++group_depth_;
    }
    return t;
  }
  switch (t.kind) {
    case Tok::Dot:
    case Tok::Comma:
    case Tok::Assign:
    case Tok::AddAssign:
      expect_component_ = true;
      break;
    case Tok::LParen:
      paren_depth_ = 1;
      break;
    case Tok::RBrace:
      if (group_depth_ > 0) {
        t.kind = Tok::PPRBrace;
        --group_depth_;
      }
      break;
    case Tok::LBrace:
      header_ = false;  // the probe body
      break;
    default:
      break;
  }
  return t;
}

Token ParseContext::Filter() {
  Token t = Pull();
  if (t.kind == Tok::String && Peek().kind == Tok::String) {
    std::string joined(t.text);
    while (Peek().kind == Tok::String) {
      Token u = Pull();
      joined += u.text;
      t.range = SourceRange::Join(t.range, u.range);
    }
    t.text = arena_.Copy(joined);
  }
  if (header_) t = Glue(t);
  return t;
}

void ParseContext::Deliver(const Token& t) {
  last_ = t;
  ++since_lexical_error_;
  if (diags_.error_count() != errors_seen_) {
    errors_seen_ = diags_.error_count();
    Diag last = diags_.diagnostics().empty() ? Diag::SyntaxError : diags_.diagnostics().back().kind;
    if (last == Diag::UnterminatedString || last == Diag::StrayCharacter ||
        last == Diag::UnterminatedEmbedded || last == Diag::UnterminatedComment)
      since_lexical_error_ = 0;
  }
  // A closer is popped one token late, so that a syntax error reported at a closer
  // still sees the bracket it failed to close.
  if (pop_pending_ && !open_.empty()) open_.pop_back();
  pop_pending_ = false;
  switch (t.kind) {
    case Tok::LParen:
    case Tok::LBracket:
    case Tok::LBrace:
    case Tok::PPLBrace:
      open_.push_back(t);
      break;
    case Tok::RParen:
    case Tok::RBracket:
    case Tok::RBrace:
    case Tok::PPRBrace:
      pop_pending_ = true;
      break;
    default:
      break;
  }
  if (t.kind == Tok::Probe) {
    header_ = true;
    expect_component_ = true;
    group_depth_ = 0;
    paren_depth_ = 0;
  }
}

Parser::symbol_type ParseContext::NextSymbol() {
  Token t = replay_ ? last_ : Filter();
  replay_ = false;
  Deliver(t);
  Parser::token_kind_type kind =
      t.kind == Tok::AtWord ? AtWordToken(t.text) : kBisonToken[static_cast<int>(t.kind)];
  return Parser::symbol_type(kind, t, t.range);
}

bool ParseContext::Recover() {
  if (pp_.aborted()) return false;
  header_ = false;
  open_.clear();
  pop_pending_ = false;
  Token t = last_;
  bool same_place = t.range.file == restart_range_.file && t.range.begin == restart_range_.begin;
  // A declaration keyword restarts parsing where a declaration can begin: at the start
  // of a line or after a closing brace (so `kernel.function(...)` in a broken probe
  // header is not taken for a function declaration).
  Tok previous = Tok::RBrace;
  auto restarts = [&](const Token& u) {
    return IsTopLevelStart(u.kind) && (u.line_start || previous == Tok::RBrace ||
                                       previous == Tok::Semi || previous == Tok::Embedded);
  };
  if (same_place) {  // no progress since the last restart: drop the token
    previous = t.kind;
    t = Filter();
  }
  while (!restarts(t)) {
    if (t.kind == Tok::Eof) return false;
    previous = t.kind;
    t = Filter();
  }
  last_ = t;
  restart_range_ = t.range;
  replay_ = true;
  builder_.Reset();
  return true;
}

namespace yy {

Parser::symbol_type yylex(ParseContext& ctx) { return ctx.NextSymbol(); }

void Parser::error(const location_type& loc, const std::string& msg) {
  ctx.diags().Report(Diag::SyntaxError, loc, {msg});
}

namespace {

std::string DescribeSymbol(SymbolKind k) {
  for (size_t i = 0; i < std::size(kBisonToken); ++i) {
    if (Parser::by_kind(kBisonToken[i]).kind() != k) continue;
    Tok tok = static_cast<Tok>(i);
    switch (tok) {
      case Tok::PPName:
        return "probe point";
      case Tok::PPLBrace:
        return "`{`";
      case Tok::PPRBrace:
        return "`}`";
      case Tok::Identifier:
        return "identifier";
      case Tok::String:
        return "string";
      case Tok::Number:
        return "number";
      default:
        break;
    }
    if (static_cast<int>(tok) >= static_cast<int>(Tok::Probe))
      return "`" + std::string(TokenSpelling(tok)) + "`";
    return std::string(TokenSpelling(tok));
  }
  std::string name = Parser::symbol_name(k);
  return name;
}

bool IsOperator(SymbolKind k) {
  using S = Parser::symbol_kind;
  switch (k) {
    case S::S_Assign:
    case S::S_StatAccum:
    case S::S_AddAssign:
    case S::S_SubAssign:
    case S::S_MulAssign:
    case S::S_DivAssign:
    case S::S_ModAssign:
    case S::S_ShlAssign:
    case S::S_ShrAssign:
    case S::S_AndAssign:
    case S::S_XorAssign:
    case S::S_OrAssign:
    case S::S_ConcatAssign:
    case S::S_Question:
    case S::S_OrOr:
    case S::S_AndAnd:
    case S::S_Pipe:
    case S::S_Caret:
    case S::S_Amp:
    case S::S_In:
    case S::S_EqEq:
    case S::S_NotEq:
    case S::S_Less:
    case S::S_Greater:
    case S::S_LessEq:
    case S::S_GreaterEq:
    case S::S_Match:
    case S::S_NotMatch:
    case S::S_Shl:
    case S::S_Shr:
    case S::S_UShr:
    case S::S_Dot:
    case S::S_Plus:
    case S::S_Minus:
    case S::S_Star:
    case S::S_Slash:
    case S::S_Percent:
    case S::S_PlusPlus:
    case S::S_MinusMinus:
    case S::S_Arrow:
    case S::S_LBracket:
    case S::S_Dollars:
      return true;
    default:
      return false;
  }
}

bool StartsExpression(SymbolKind k) {
  using S = Parser::symbol_kind;
  switch (k) {
    case S::S_Number:
    case S::S_String:
    case S::S_Identifier:
    case S::S_Target:
    case S::S_Embedded:
    case S::S_LParen:
    case S::S_LBracket:
    case S::S_Plus:
    case S::S_Minus:
    case S::S_Bang:
    case S::S_Tilde:
    case S::S_Amp:
    case S::S_PlusPlus:
    case S::S_Dollars:
    case S::S_MinusMinus:
      return true;
    default:
      return k >= S::S_AtCast && k <= S::S_AtUnknown;
  }
}

bool StartsStatement(SymbolKind k) {
  using S = Parser::symbol_kind;
  switch (k) {
    case S::S_If:
    case S::S_For:
    case S::S_Foreach:
    case S::S_While:
    case S::S_Try:
    case S::S_Return:
    case S::S_Delete:
    case S::S_Next:
    case S::S_Break:
    case S::S_Continue:
    case S::S_Semi:
    case S::S_LBrace:
      return true;
    default:
      return StartsExpression(k);
  }
}

}  // namespace

void Parser::report_syntax_error(const context& yyctx) const {
  if (ctx.preprocessor_aborted()) return;      // the preprocessor said why already
  if (ctx.just_after_lexical_error()) return;  // a bad string or byte explains this one
  SymbolKind expected[128];
  int n = yyctx.expected_tokens(expected, 128);
  const auto& la = yyctx.lookahead();
  Token found;
  if (!la.empty() && la.kind() != symbol_kind::S_YYerror && la.kind() != symbol_kind::S_YYUNDEF)
    found = la.value.as<Token>();
  bool statement = false, expression = false, operators = false;
  for (int i = 0; i < n; ++i) {
    statement = statement || expected[i] == symbol_kind::S_While;
    expression = expression || expected[i] == symbol_kind::S_Number;
    operators = operators || expected[i] == symbol_kind::S_Star;
  }
  std::vector<std::string> wanted;
  if (statement)
    wanted.push_back("a statement");
  else if (expression)
    wanted.push_back("an expression");
  if (operators) wanted.push_back("an operator");
  for (int i = 0; i < n; ++i) {
    SymbolKind k = expected[i];
    if (statement && StartsStatement(k)) continue;
    if (expression && StartsExpression(k)) continue;
    if (operators && IsOperator(k)) continue;
    if (k == symbol_kind::S_Invalid || k == symbol_kind::S_AtWord || k == symbol_kind::S_ArgRef)
      continue;
    if (k == symbol_kind::S_PPRBrace && !ctx.in_probe_point_group()) continue;
    wanted.push_back(DescribeSymbol(k));
  }
  std::string msg = "unexpected " + DescribeToken(found);
  if (!wanted.empty() && wanted.size() <= 10) {
    msg += "; expected ";
    for (size_t i = 0; i < wanted.size(); ++i) {
      if (i) msg += i + 1 == wanted.size() ? " or " : ", ";
      msg += wanted[i];
    }
  }
  SourceRange where = found.range.valid() ? found.range : yyctx.location();
  ctx.diags().Report(Diag::SyntaxError, where, {msg});
  ctx.NoteExpansions(found);
  // Point at the bracket that is still open when the error is about a closer or the end.
  const Token* open = ctx.innermost_open();
  auto closes = [](Tok opener, Tok closer) {
    return (opener == Tok::LParen && closer == Tok::RParen) ||
           (opener == Tok::LBracket && closer == Tok::RBracket) ||
           ((opener == Tok::LBrace || opener == Tok::PPLBrace) && closer == Tok::RBrace);
  };
  bool closer = found.kind == Tok::Eof || found.kind == Tok::RParen ||
                found.kind == Tok::RBracket || found.kind == Tok::RBrace;
  if (open && closer && !closes(open->kind, found.kind)) {
    std::string spelling =
        open->kind == Tok::PPLBrace ? "{" : std::string(TokenSpelling(open->kind));
    ctx.diags().Note(Diag::UnclosedBracket, open->range, {spelling});
  }
}

}  // namespace yy

ast::File* ParseFile(SourceManager& sm, FileId file, const MacroTable* library,
                     const ParseOptions& options, Arena& arena, DiagnosticSink& diags) {
  size_t errors_before = diags.error_count();
  Preprocessor pp(sm, file, options.pp, library, arena, diags);
  AstBuilder builder(arena, diags, options.privileged);
  ParseContext ctx(pp, builder, diags, arena);
  for (;;) {
    Parser parser(ctx);
    if (parser.parse() == 0) break;
    if (!ctx.Recover()) break;
  }
  auto* result = arena.New<ast::File>();
  result->file = file;
  result->name = sm.file(file).name();
  result->privileged = options.privileged;
  // A tree nested past the limit is dropped: later passes walk trees recursively.
  if (!builder.too_deep()) result->decls = arena.Copy(builder.decls());
  if (options.user_file && builder.decls().empty() && diags.error_count() == errors_before) {
    std::string what = pp.saw_tokens() ? " is empty after preprocessing" : " is empty";
    diags.Report(Diag::EmptyInput, {}, {"input file `" + std::string(result->name) + "`" + what});
  }
  return result;
}

bool LoadLibraryMacros(SourceManager& sm, FileId file, const PPConfig& config, MacroTable& library,
                       Arena& arena, DiagnosticSink& diags) {
  size_t errors_before = diags.error_count();
  Preprocessor pp(sm, file, config, &library, arena, diags, /*defining_library=*/true);
  while (pp.Next().kind != Tok::Eof) {
  }
  if (diags.error_count() != errors_before) return false;
  MacroTable& defined = pp.local_macros();
  for (auto& [name, def] : defined) {
    auto it = library.find(name);
    if (it != library.end()) {
      diags.Report(Diag::DuplicateLibraryMacro, def->range, {name});
      diags.Note(Diag::MacroFirstDefined, it->second->range, {name});
      return false;
    }
  }
  for (auto& [name, def] : defined) library.emplace(name, std::move(def));
  return true;
}

}  // namespace btap::frontend
