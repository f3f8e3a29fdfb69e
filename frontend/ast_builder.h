// AstBuilder: what the grammar's actions call to make nodes. It allocates in the arena,
// computes each node's depth (and reports trees nested too deeply for later passes to
// walk recursively), and performs the checks stap's parser makes while it parses.
#pragma once

#include <string_view>
#include <vector>

#include "common/arena.h"
#include "common/diagnostics.h"
#include "frontend/ast.h"
#include "frontend/token.h"

namespace btap::frontend {

struct ProbePointList {
  std::vector<ast::ProbePoint*> points;
};

class AstBuilder {
 public:
  static constexpr uint32_t kMaxDepth = 1000;
  static constexpr size_t kMaxExpandedPoints = 10000;

  AstBuilder(Arena& arena, DiagnosticSink& diags, bool privileged)
      : arena_(arena), diags_(diags), privileged_(privileged) {}

  Arena& arena() { return arena_; }
  DiagnosticSink& diags() { return diags_; }

  template <typename T>
  T* New(SourceRange range) {
    T* n = arena_.New<T>();
    n->kind = T::kKind;
    n->range = range;
    return n;
  }
  // Sets n->depth from its children and reports the first tree that is too deep.
  template <typename... Children>
  void Finish(ast::Node* n, const Children*... children) {
    uint32_t d = 0;
    ((d = children && children->depth > d ? children->depth : d), ...);
    SetDepth(n, d + 1);
  }
  void FinishList(ast::Node* n, std::span<ast::Expr* const> items, uint32_t extra = 0);
  void FinishStmts(ast::Node* n, std::span<ast::Stmt* const> items);

  // Literals
  ast::NumberLit* Number(const Token& t, bool negative, SourceRange range);
  int64_t SignedNumber(const Token& t, bool negative);
  ast::StringLit* String(const Token& t);
  ast::Expr* Embedded(const Token& t);

  // Expressions
  ast::Expr* Binary(Tok op, ast::Expr* lhs, ast::Expr* rhs, SourceRange r);
  ast::Expr* Unary(Tok op, ast::Expr* operand, SourceRange r);
  ast::Expr* Crement(bool prefix, Tok op, ast::Expr* operand, SourceRange r);
  ast::Expr* Regex(Tok op, ast::Expr* lhs, const Token& pattern, SourceRange r);
  ast::Expr* Ternary(ast::Expr* c, ast::Expr* t, ast::Expr* f, SourceRange r);
  ast::Expr* ArrayIn(std::vector<ast::Expr*> keys, bool bracketed, ast::Expr* array, SourceRange r);
  ast::Expr* Index(ast::Expr* base, std::vector<ast::Expr*> indexes, SourceRange r);
  ast::Expr* Bracketed(std::vector<ast::Expr*> items, SourceRange r);
  ast::Expr* Call(const Token& name, std::vector<ast::Expr*> args, SourceRange r);
  ast::Expr* Symbol(const Token& t);
  ast::Expr* Value(const Token& t);  // a name used as a value (not a print function)
  ast::Expr* Target(const Token& t);
  ast::Expr* CastOp(ast::Expr* operand, const Token& type, const Token* module, SourceRange r);
  ast::Expr* AtVarOp(const Token& name, const Token* module, SourceRange r);
  // Applies ->member, [index] or `$` to a value; a non-target value becomes an Autocast.
  ast::Expr* Member(ast::Expr* base, const Token& member, SourceRange r);
  ast::Expr* TargetIndex(ast::Expr* base, ast::Expr* index, SourceRange r);
  ast::Expr* PrettyPrint(ast::Expr* base, const Token& dollars, SourceRange r);
  ast::Expr* AddressOf(ast::Expr* value, SourceRange r);
  ast::Expr* Simple(AtWord which, const Token& at, ast::Expr* operand, const Token* arg,
                    SourceRange r);
  ast::Expr* Stat(const Token& at, ast::Expr* operand, std::vector<int64_t> params, SourceRange r);
  ast::Expr* Hist(const Token& at, ast::Expr* operand, std::vector<int64_t> params, SourceRange r);
  ast::Expr* Register(const Token& at, int64_t regno, SourceRange r);
  ast::Expr* Deref(const Token& at, int64_t size, ast::Expr* address, SourceRange r);
  ast::Expr* Unknown(const Token& at, std::vector<ast::Expr*> args, SourceRange r);

  // Statements
  ast::Block* Block(std::vector<ast::Stmt*> stmts, SourceRange r);
  ast::Stmt* ExprStmt(ast::Expr* e, SourceRange r);
  ast::Stmt* Return(ast::Expr* value, SourceRange r);
  ast::Stmt* If(ast::Expr* c, ast::Stmt* t, ast::Stmt* f, SourceRange r);
  ast::Stmt* For(ast::Expr* init, ast::Expr* cond, ast::Expr* step, ast::Stmt* body, SourceRange r);
  ast::Stmt* While(ast::Expr* cond, ast::Stmt* body, SourceRange r);
  ast::Stmt* Try(ast::Block* body, const Token* var, ast::Block* handler, SourceRange r);
  ast::Stmt* Delete(ast::Expr* target, SourceRange r);
  template <typename T>
  ast::Stmt* Leaf(SourceRange r) {
    return New<T>(r);
  }

  // foreach pieces, gathered by the grammar then assembled.
  struct ForeachHead {
    ast::Symbol* value = nullptr;
    int8_t value_sort = 0;
    std::vector<ast::Symbol*> keys;
    std::vector<int8_t> key_sorts;
    bool bracketed = false;
  };
  struct ForeachTail {
    ast::Expr* array = nullptr;
    std::vector<ast::Expr*> slice;
    bool has_slice = false;
    AtWord aggregate = AtWord::None;
    SourceRange aggregate_range;
    int8_t sort = 0;
    SourceRange sort_range;
    ast::Expr* limit = nullptr;
  };
  ast::Symbol* ForeachVar(const Token& t);
  ast::Stmt* Foreach(ForeachHead head, ForeachTail tail, ast::Stmt* body, SourceRange r);

  // Probe points
  ProbePointList Component(const Token& name, ast::Expr* arg, SourceRange r);
  ProbePointList Concatenate(ProbePointList prefix, ProbePointList suffix);
  ProbePointList Finalize(ProbePointList points, const Token* marker, ast::Expr* condition,
                          SourceRange r);

  // Declarations, appended to the file in source order.
  void Probe(const ProbePointList& points, ast::Block* body, SourceRange r);
  void Alias(std::vector<std::pair<ProbePointList, Tok>> names, const ProbePointList& points,
             ast::Block* body, ast::Block* epilogue, SourceRange r);
  void Global(const Token& name, bool is_private, bool wrap, const Token* size, bool size_negative,
              ast::Expr* init, SourceRange r);
  void BeginFunction() { in_function_ = true; }
  void Function(const Token& name, bool is_private, ast::TypeAnn type,
                std::vector<ast::Param> params, ast::Expr* priority, ast::Block* body,
                const Token* embedded, SourceRange r);
  void EmbeddedDecl(const Token& code);
  ast::TypeAnn Type(const Token& t) {
    return t.kind == Tok::Long ? ast::TypeAnn::Long : ast::TypeAnn::String;
  }

  std::vector<ast::Decl*>& decls() { return decls_; }
  // A tree past kMaxDepth was built; it must not be walked recursively.
  bool too_deep() const { return too_deep_; }
  void Reset() { in_function_ = false; }

 private:
  void SetDepth(ast::Node* n, uint32_t d);
  bool RequireGuru(const Token& t, std::string_view what);
  ast::TargetBase* EnsureTarget(ast::Expr* base, SourceRange r);

  Arena& arena_;
  DiagnosticSink& diags_;
  bool privileged_;
  bool in_function_ = false;
  bool too_deep_ = false;
  std::vector<ast::Decl*> decls_;
};

}  // namespace btap::frontend
