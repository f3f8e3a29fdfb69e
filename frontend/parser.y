// The SystemTap grammar (Bison, LALR(1), C++ variants). Precedence and associativity
// follow stap's recursive-descent parser level by level. Every shift/reduce choice is
// made by a precedence declaration below, each with its reason; %expect 0 keeps it so.
%require "3.8"
%language "c++"
%skeleton "lalr1.cc"
%define api.namespace {btap::frontend::yy}
%define api.parser.class {Parser}
%define api.value.type variant
%define api.token.constructor
%define api.token.prefix {TOK_}
%define api.location.type {btap::SourceRange}
%define parse.error custom
%define lr.default-reduction consistent
%locations
%expect 0
%param {btap::frontend::ParseContext& ctx}

%code requires {
#include <utility>
#include <vector>
#include "frontend/ast_builder.h"
namespace btap::frontend { class ParseContext; }

#define YYLLOC_DEFAULT(Current, Rhs, N)                                   \
  do {                                                                    \
    if (N) {                                                              \
      (Current) = btap::SourceRange::Join(YYRHSLOC(Rhs, 1), YYRHSLOC(Rhs, N)); \
    } else {                                                              \
      (Current) = YYRHSLOC(Rhs, 0);                                       \
      (Current).begin = (Current).end;                                    \
    }                                                                     \
  } while (false)

namespace btap::frontend::grammar {
struct GlobalItem {
  Token name;
  bool wrap = false;
  bool has_size = false;
  Token size;
  bool size_negative = false;
  ast::Expr* init = nullptr;
  SourceRange range;
};
struct SignedNumber {
  Token number;
  bool negative = false;
  SourceRange range;
};
}  // namespace btap::frontend::grammar
}

%code {
#include "frontend/parse_context.h"
namespace btap::frontend::yy {
Parser::symbol_type yylex(ParseContext& ctx);
}
using namespace btap;
using namespace btap::ast;
using btap::frontend::Token;
using btap::frontend::ProbePointList;
#define B (ctx.builder())
}

// Tokens: names match Tok in tokens.def (checked by the table in parse.cpp).
%token <Token> Eof 0
%token <Token> Invalid Identifier Target Dollars Number String Embedded AtWord ArgRef
%token <Token> PPName PPLBrace PPRBrace
%token <Token> Probe Global Private Function If Else For Foreach In Limit Return Delete
%token <Token> While Break Continue Next String_ Long Try Catch
%token <Token> StatAccum UShr ShlAssign ShrAssign EqEq NotEq LessEq GreaterEq Match NotMatch
%token <Token> AddAssign SubAssign MulAssign DivAssign ModAssign AndAssign XorAssign OrAssign
%token <Token> ConcatAssign AndAnd OrOr PlusPlus MinusMinus Arrow Shl Shr PPIf PPThen PPElse PPEnd
%token <Token> Plus Minus Star Slash Percent Amp Pipe Caret Tilde Bang Less Greater Assign
%token <Token> Question Colon Semi Comma Dot LParen RParen LBracket RBracket LBrace RBrace
// The built-in @-operators, classified by the token filter.
%token <Token> AtCast AtVar AtDefined AtEntry AtProbewrite AtConst AtPerf AtRegister AtDeref
%token <Token> AtStat AtHist AtUnknown

// Lowest first.
// An expression statement, or `return` without a value, ends only where the next token
// cannot continue it: stap's parser is greedy and `;` is optional between statements.
%precedence STMT
// Dangling else binds to the nearest if.
%precedence THEN
%precedence Else
// A name followed by `(` is a call and by `[` an index; a value followed by `[` or `++`
// takes it as a suffix rather than ending a statement.
%precedence SUFFIXABLE
%right Assign StatAccum AddAssign SubAssign MulAssign DivAssign ModAssign ShlAssign ShrAssign AndAssign XorAssign OrAssign ConcatAssign
%right Question Colon
%left OrOr
%left AndAnd
%left Pipe
%left Caret
%left Amp
%precedence In
%left EqEq NotEq Less Greater LessEq GreaterEq Match NotMatch
%left Shl Shr UShr
%left Dot
%left Plus Minus
%left Star Slash Percent
%precedence UNARY
%precedence PlusPlus MinusMinus
%precedence LBracket LParen Dollars
// Tokens that can start an expression: after `return`, or after a statement that
// could end, they are shifted (they continue the statement), matching stap.
%precedence Semi Identifier Target Number String Embedded Bang Tilde AtCast AtVar AtDefined AtEntry AtProbewrite AtConst AtPerf AtRegister AtDeref AtStat AtHist AtUnknown

%type <ast::Expr*> expr dwarf postfix crement primary literal opt_expr indexable hist_op opt_pp_cond
%type <ast::Stmt*> stmt simple
%type <ast::Block*> block
%type <std::vector<ast::Stmt*>> stmts
%type <std::vector<ast::Expr*>> index_list args
%type <ast::Expr*> index_item
%type <std::vector<int64_t>> stat_params
%type <grammar::SignedNumber> signed_number
%type <ProbePointList> probe_points probe_point pp_components pp_component
%type <std::vector<std::pair<ProbePointList, ast::Tok>>> alias_heads
%type <std::pair<ProbePointList, ast::Tok>> alias_head
%type <const Token*> opt_marker
%type <Token> fn_name member_name any_keyword
%type <ast::TypeAnn> opt_type
%type <std::vector<ast::Param>> opt_params params
%type <ast::Param> param
%type <ast::Expr*> opt_priority
%type <bool> fn_start opt_wrap
%type <std::vector<grammar::GlobalItem>> global_list
%type <grammar::GlobalItem> global_item
%type <grammar::SignedNumber> opt_size
%type <ast::Expr*> opt_init
%type <int8_t> opt_sort
%type <btap::frontend::AstBuilder::ForeachHead> foreach_head foreach_keys foreach_key_list
%type <btap::frontend::AstBuilder::ForeachTail> foreach_tail
%type <std::vector<ast::Expr*>> opt_slice
%type <Token> opt_aggr

%start file

%%

file
  : %empty
  | file decl
  ;

decl
  : probe_decl
  | global_decl
  | function_decl
  | Embedded { B.EmbeddedDecl($1); }
  ;

/* ---- Probes and aliases ---- */

probe_decl
  : Probe probe_points block { B.Probe($2, $3, @$); }
  | Probe alias_heads probe_points block { B.Alias(std::move($2), $3, $4, nullptr, @$); }
  | Probe alias_heads probe_points block Comma block { B.Alias(std::move($2), $3, $4, $6, @$); }
  ;

alias_heads
  : alias_head { $$.push_back(std::move($1)); }
  | alias_heads alias_head { $$ = std::move($1); $$.push_back(std::move($2)); }
  ;

alias_head
  : probe_point Assign { $$ = {std::move($1), Tok::Assign}; }
  | probe_point AddAssign { $$ = {std::move($1), Tok::AddAssign}; }
  ;

probe_points
  : probe_point { $$ = std::move($1); }
  | probe_points Comma probe_point {
      $$ = std::move($1);
      $$.points.insert($$.points.end(), $3.points.begin(), $3.points.end());
    }
  ;

probe_point
  : pp_components opt_marker opt_pp_cond { $$ = B.Finalize(std::move($1), $2, $3, @$); }
  ;

pp_components
  : pp_component { $$ = std::move($1); }
  | pp_components Dot pp_component { $$ = B.Concatenate(std::move($1), std::move($3)); }
  ;

pp_component
  : PPName { $$ = B.Component($1, nullptr, @$); }
  | PPName LParen literal RParen { $$ = B.Component($1, $3, @$); }
  | PPLBrace probe_points PPRBrace { $$ = std::move($2); }
  ;

opt_marker
  : %empty { $$ = nullptr; }
  | Question { $$ = ctx.Keep($1); }
  | Bang { $$ = ctx.Keep($1); }
  ;

opt_pp_cond
  : %empty { $$ = nullptr; }
  | If LParen expr RParen { $$ = $3; }
  ;

literal
  : Number { $$ = B.Number($1, false, @$); }
  | Minus Number { $$ = B.Number($2, true, @$); }
  | String { $$ = B.String($1); }
  ;

signed_number
  : Number { $$ = {$1, false, @$}; }
  | Minus Number { $$ = {$2, true, @$}; }
  ;

/* ---- Globals ---- */

global_decl
  : Global global_list opt_semi {
      for (auto& g : $2) B.Global(g.name, false, g.wrap, g.has_size ? &g.size : nullptr, g.size_negative, g.init, g.range);
    }
  | Private Global global_list opt_semi {
      for (auto& g : $3) B.Global(g.name, true, g.wrap, g.has_size ? &g.size : nullptr, g.size_negative, g.init, g.range);
    }
  | Private global_list opt_semi {
      for (auto& g : $2) B.Global(g.name, true, g.wrap, g.has_size ? &g.size : nullptr, g.size_negative, g.init, g.range);
    }
  ;

opt_semi
  : %empty
  | Semi
  ;

global_list
  : global_item { $$.push_back(std::move($1)); }
  | global_list Comma global_item { $$ = std::move($1); $$.push_back(std::move($3)); }
  ;

global_item
  : Identifier opt_wrap opt_size opt_init {
      $$.name = $1; $$.wrap = $2; $$.init = $4; $$.range = @$;
      if ($3.range.valid()) { $$.has_size = true; $$.size = $3.number; $$.size_negative = $3.negative; }
    }
  ;

opt_wrap
  : %empty { $$ = false; }
  | Percent { $$ = true; }
  ;

opt_size
  : %empty { $$ = {}; }
  | LBracket signed_number RBracket { $$ = $2; }
  ;

opt_init
  : %empty { $$ = nullptr; }
  | Assign literal { $$ = $2; }
  ;

/* ---- Functions ---- */

function_decl
  : fn_start fn_name opt_type LParen opt_params RParen opt_priority block {
      B.Function($2, $1, $3, std::move($5), $7, $8, nullptr, @$);
    }
  | fn_start fn_name opt_type LParen opt_params RParen opt_priority Embedded {
      B.Function($2, $1, $3, std::move($5), $7, nullptr, &$8, @$);
    }
  ;

fn_start
  : Function { B.BeginFunction(); $$ = false; }
  | Private Function { B.BeginFunction(); $$ = true; }
  ;

fn_name
  : Identifier { $$ = $1; }
  | String_ { $$ = $1; }
  | Long { $$ = $1; }
  ;

opt_type
  : %empty { $$ = TypeAnn::None; }
  | Colon String_ { $$ = TypeAnn::String; }
  | Colon Long { $$ = TypeAnn::Long; }
  ;

opt_params
  : %empty { }
  | params { $$ = std::move($1); }
  ;

params
  : param { $$.push_back($1); }
  | params Comma param { $$ = std::move($1); $$.push_back($3); }
  ;

param
  : Identifier opt_type { $$ = {$1.text, $1.range, $2}; }
  ;

opt_priority
  : %empty { $$ = nullptr; }
  | Colon literal { $$ = $2; }
  ;

/* ---- Statements ---- */

block
  : LBrace stmts RBrace { $$ = B.Block(std::move($2), @$); }
  ;

stmts
  : %empty { }
  | stmts stmt { $$ = std::move($1); $$.push_back($2); }
  ;

stmt
  : block { $$ = $1; }
  | Semi { $$ = B.Leaf<ast::Null>(@$); }
  | If LParen expr RParen stmt %prec THEN { $$ = B.If($3, $5, nullptr, @$); }
  | If LParen expr RParen stmt Else stmt { $$ = B.If($3, $5, $7, @$); }
  | While LParen expr RParen stmt { $$ = B.While($3, $5, @$); }
  | For LParen opt_expr Semi opt_expr Semi opt_expr RParen stmt { $$ = B.For($3, $5, $7, $9, @$); }
  | Foreach LParen foreach_head In foreach_tail RParen stmt {
      $$ = B.Foreach(std::move($3), std::move($5), $7, @$);
    }
  | Try block Catch block { $$ = B.Try($2, nullptr, $4, @$); }
  | Try block Catch LParen Identifier RParen block { $$ = B.Try($2, &$5, $7, @$); }
  | simple %prec STMT { $$ = $1; }
  | simple Semi { $$ = $1; $$->range = @$; }
  ;

simple
  : expr %prec STMT { $$ = B.ExprStmt($1, @$); }
  | Return %prec STMT { $$ = B.Return(nullptr, @$); }
  | Return expr %prec STMT { $$ = B.Return($2, @$); }
  | Delete expr %prec STMT { $$ = B.Delete($2, @$); }
  | Next { $$ = B.Leaf<ast::Next>(@$); }
  | Break { $$ = B.Leaf<ast::Break>(@$); }
  | Continue { $$ = B.Leaf<ast::Continue>(@$); }
  ;

opt_expr
  : %empty { $$ = nullptr; }
  | expr { $$ = $1; }
  ;

foreach_head
  : foreach_keys { $$ = std::move($1); }
  | Identifier opt_sort Assign foreach_keys {
      $$ = std::move($4); $$.value = B.ForeachVar($1); $$.value_sort = $2;
    }
  ;

foreach_keys
  : Identifier opt_sort { $$.keys.push_back(B.ForeachVar($1)); $$.key_sorts.push_back($2); }
  | LBracket foreach_key_list RBracket { $$ = std::move($2); $$.bracketed = true; }
  ;

foreach_key_list
  : Identifier opt_sort { $$.keys.push_back(B.ForeachVar($1)); $$.key_sorts.push_back($2); }
  | foreach_key_list Comma Identifier opt_sort {
      $$ = std::move($1); $$.keys.push_back(B.ForeachVar($3)); $$.key_sorts.push_back($4);
    }
  ;

opt_sort
  : %empty { $$ = 0; }
  | Plus { $$ = 1; }
  | Minus { $$ = -1; }
  ;

foreach_tail
  : indexable opt_slice opt_aggr opt_sort {
      $$.array = $1;
      $$.has_slice = @2.begin != @2.end;
      $$.slice = std::move($2);
      if ($3.kind == Tok::AtWord) {
        $$.aggregate = frontend::ClassifyAtWord($3.text);
        $$.aggregate_range = $3.range;
        if (!$4) ctx.diags().Report(Diag::SyntaxError, $3.range, {"expected `+` or `-` after `@" + std::string($3.text) + "` in `foreach`"});
      }
      $$.sort = $4; $$.sort_range = @4;
    }
  | indexable opt_slice opt_aggr opt_sort Limit expr {
      $$.array = $1;
      $$.has_slice = @2.begin != @2.end;
      $$.slice = std::move($2);
      if ($3.kind == Tok::AtWord) {
        $$.aggregate = frontend::ClassifyAtWord($3.text);
        $$.aggregate_range = $3.range;
        if (!$4) ctx.diags().Report(Diag::SyntaxError, $3.range, {"expected `+` or `-` after `@" + std::string($3.text) + "` in `foreach`"});
      }
      $$.sort = $4; $$.sort_range = @4;
      $$.limit = $6;
    }
  ;

opt_slice
  : %empty { }
  | LBracket index_list RBracket { $$ = std::move($2); }
  ;

opt_aggr
  : %empty { $$ = Token{}; }
  | AtStat { $$ = $1; $$.kind = Tok::AtWord; }
  ;

indexable
  : Identifier { $$ = B.Symbol($1); }
  | hist_op { $$ = $1; }
  ;

/* ---- Expressions, loosest first ---- */

expr
  : expr Assign expr { $$ = B.Binary(Tok::Assign, $1, $3, @$); }
  | expr StatAccum expr { $$ = B.Binary(Tok::StatAccum, $1, $3, @$); }
  | expr AddAssign expr { $$ = B.Binary(Tok::AddAssign, $1, $3, @$); }
  | expr SubAssign expr { $$ = B.Binary(Tok::SubAssign, $1, $3, @$); }
  | expr MulAssign expr { $$ = B.Binary(Tok::MulAssign, $1, $3, @$); }
  | expr DivAssign expr { $$ = B.Binary(Tok::DivAssign, $1, $3, @$); }
  | expr ModAssign expr { $$ = B.Binary(Tok::ModAssign, $1, $3, @$); }
  | expr ShlAssign expr { $$ = B.Binary(Tok::ShlAssign, $1, $3, @$); }
  | expr ShrAssign expr { $$ = B.Binary(Tok::ShrAssign, $1, $3, @$); }
  | expr AndAssign expr { $$ = B.Binary(Tok::AndAssign, $1, $3, @$); }
  | expr XorAssign expr { $$ = B.Binary(Tok::XorAssign, $1, $3, @$); }
  | expr OrAssign expr { $$ = B.Binary(Tok::OrAssign, $1, $3, @$); }
  | expr ConcatAssign expr { $$ = B.Binary(Tok::ConcatAssign, $1, $3, @$); }
  | expr Question expr Colon expr { $$ = B.Ternary($1, $3, $5, @$); }
  | expr OrOr expr { $$ = B.Binary(Tok::OrOr, $1, $3, @$); }
  | expr AndAnd expr { $$ = B.Binary(Tok::AndAnd, $1, $3, @$); }
  | expr Pipe expr { $$ = B.Binary(Tok::Pipe, $1, $3, @$); }
  | expr Caret expr { $$ = B.Binary(Tok::Caret, $1, $3, @$); }
  | expr Amp expr { $$ = B.Binary(Tok::Amp, $1, $3, @$); }
  | expr In indexable { $$ = B.ArrayIn({$1}, false, $3, @$); }
  | LBracket index_list RBracket In indexable { $$ = B.ArrayIn(std::move($2), true, $5, @$); }
  // As in stap, `[e]` not followed by `in` is just `e`.
  | LBracket index_list RBracket %prec SUFFIXABLE { $$ = B.Bracketed(std::move($2), @$); }
  | expr EqEq expr { $$ = B.Binary(Tok::EqEq, $1, $3, @$); }
  | expr NotEq expr { $$ = B.Binary(Tok::NotEq, $1, $3, @$); }
  | expr Less expr { $$ = B.Binary(Tok::Less, $1, $3, @$); }
  | expr Greater expr { $$ = B.Binary(Tok::Greater, $1, $3, @$); }
  | expr LessEq expr { $$ = B.Binary(Tok::LessEq, $1, $3, @$); }
  | expr GreaterEq expr { $$ = B.Binary(Tok::GreaterEq, $1, $3, @$); }
  | expr Match String { $$ = B.Regex(Tok::Match, $1, $3, @$); }
  | expr NotMatch String { $$ = B.Regex(Tok::NotMatch, $1, $3, @$); }
  | expr Shl expr { $$ = B.Binary(Tok::Shl, $1, $3, @$); }
  | expr Shr expr { $$ = B.Binary(Tok::Shr, $1, $3, @$); }
  | expr UShr expr { $$ = B.Binary(Tok::UShr, $1, $3, @$); }
  | expr Dot expr { $$ = B.Binary(Tok::Dot, $1, $3, @$); }
  | expr Plus expr { $$ = B.Binary(Tok::Plus, $1, $3, @$); }
  | expr Minus expr { $$ = B.Binary(Tok::Minus, $1, $3, @$); }
  | expr Star expr { $$ = B.Binary(Tok::Star, $1, $3, @$); }
  | expr Slash expr { $$ = B.Binary(Tok::Slash, $1, $3, @$); }
  | expr Percent expr { $$ = B.Binary(Tok::Percent, $1, $3, @$); }
  | Plus expr %prec UNARY { $$ = B.Unary(Tok::Plus, $2, @$); }
  | Minus expr %prec UNARY { $$ = B.Unary(Tok::Minus, $2, @$); }
  | Bang expr %prec UNARY { $$ = B.Unary(Tok::Bang, $2, @$); }
  | Tilde expr %prec UNARY { $$ = B.Unary(Tok::Tilde, $2, @$); }
  | crement { $$ = $1; }
  ;

crement
  : PlusPlus dwarf { $$ = B.Crement(true, Tok::PlusPlus, $2, @$); }
  | MinusMinus dwarf { $$ = B.Crement(true, Tok::MinusMinus, $2, @$); }
  | dwarf PlusPlus { $$ = B.Crement(false, Tok::PlusPlus, $1, @$); }
  | dwarf MinusMinus { $$ = B.Crement(false, Tok::MinusMinus, $1, @$); }
  | dwarf %prec SUFFIXABLE { $$ = $1; }
  ;

dwarf
  : Amp postfix { $$ = B.AddressOf($2, @1); }
  | postfix %prec SUFFIXABLE { $$ = $1; }
  ;

postfix
  : primary { $$ = $1; }
  | postfix Arrow member_name { $$ = B.Member($1, $3, @$); }
  | postfix LBracket expr RBracket { $$ = B.TargetIndex($1, $3, @$); }
  | postfix Dollars { $$ = B.PrettyPrint($1, $2, @$); }
  ;

member_name
  : Identifier { $$ = $1; }
  | Dollars { $$ = $1; }
  | any_keyword { $$ = $1; }
  ;

any_keyword
  : Probe | Global | Private | Function | If | Else | For | Foreach | In | Limit | Return
  | Delete | While | Break | Continue | Next | String_ | Long | Try | Catch
  ;

primary
  : Number { $$ = B.Number($1, false, @$); }
  | String { $$ = B.String($1); }
  | Embedded { $$ = B.Embedded($1); }
  | LParen expr RParen { $$ = $2; }
  | Identifier %prec SUFFIXABLE { $$ = B.Value($1); }
  | Identifier LBracket index_list RBracket { $$ = B.Index(B.Value($1), std::move($3), @$); }
  | Identifier LParen RParen { $$ = B.Call($1, {}, @$); }
  | Identifier LParen args RParen { $$ = B.Call($1, std::move($3), @$); }
  | hist_op %prec SUFFIXABLE { $$ = $1; }
  | hist_op LBracket index_list RBracket { $$ = B.Index($1, std::move($3), @$); }
  | Target { $$ = B.Target($1); }
  | Dollars { $$ = B.Target($1); }
  | AtCast LParen expr Comma String RParen { $$ = B.CastOp($3, $5, nullptr, @$); }
  | AtCast LParen expr Comma String Comma String RParen { $$ = B.CastOp($3, $5, &$7, @$); }
  | AtVar LParen String RParen { $$ = B.AtVarOp($3, nullptr, @$); }
  | AtVar LParen String Comma String RParen { $$ = B.AtVarOp($3, &$5, @$); }
  | AtDefined LParen expr RParen { $$ = B.Simple(AtWord::Defined, $1, $3, nullptr, @$); }
  | AtEntry LParen expr RParen { $$ = B.Simple(AtWord::Entry, $1, $3, nullptr, @$); }
  | AtProbewrite LParen Identifier RParen { $$ = B.Simple(AtWord::Probewrite, $1, nullptr, &$3, @$); }
  | AtConst LParen String RParen { $$ = B.Simple(AtWord::Const, $1, nullptr, &$3, @$); }
  | AtPerf LParen String RParen { $$ = B.Simple(AtWord::Perf, $1, nullptr, &$3, @$); }
  | AtRegister LParen signed_number RParen { $$ = B.Register($1, B.SignedNumber($3.number, $3.negative), @$); }
  | AtDeref LParen signed_number Comma expr RParen {
      $$ = B.Deref($1, B.SignedNumber($3.number, $3.negative), $5, @$);
    }
  | AtStat LParen expr stat_params RParen { $$ = B.Stat($1, $3, std::move($4), @$); }
  | AtUnknown %prec SUFFIXABLE { $$ = B.Unknown($1, {}, @$); }
  | AtUnknown LParen args RParen { $$ = B.Unknown($1, std::move($3), @$); }
  ;

hist_op
  : AtHist LParen expr stat_params RParen { $$ = B.Hist($1, $3, std::move($4), @$); }
  ;

stat_params
  : %empty { }
  | stat_params Comma signed_number {
      $$ = std::move($1); $$.push_back(B.SignedNumber($3.number, $3.negative));
    }
  ;

index_list
  : index_item { $$.push_back($1); }
  | index_list Comma index_item { $$ = std::move($1); $$.push_back($3); }
  ;

index_item
  : expr { $$ = $1; }
  | Star { $$ = nullptr; }
  ;

args
  : expr { $$.push_back($1); }
  | args Comma expr { $$ = std::move($1); $$.push_back($3); }
  ;

%%
