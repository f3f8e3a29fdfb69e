// ParseContext: the token filter between the preprocessor and the Bison parser.
// It joins adjacent string literals, turns probe-point headers into component tokens
// (stap joins adjacent pieces such as `open` and `*` into one `open*`), classifies
// @-operators, and restarts parsing at the next declaration after a syntax error.
#pragma once

#include <deque>

#include "frontend/ast_builder.h"
#include "frontend/parser.hpp"
#include "frontend/preprocessor.h"

namespace btap::frontend {

class ParseContext {
 public:
  ParseContext(Preprocessor& pp, AstBuilder& builder, DiagnosticSink& diags, Arena& arena)
      : pp_(pp), builder_(builder), diags_(diags), arena_(arena) {}

  yy::Parser::symbol_type NextSymbol();
  // After a syntax error: skips to the next `probe`, `global`, `private`, `function` or
  // top-level `%{`. Returns false at end of file.
  bool Recover();

  AstBuilder& builder() { return builder_; }
  DiagnosticSink& diags() { return diags_; }
  const Token* Keep(const Token& t) { return arena_.New<Token>(t); }
  const Token& last() const { return last_; }
  bool preprocessor_aborted() const { return pp_.aborted(); }
  void NoteExpansions(const Token& t) const { pp_.NoteExpansions(t); }
  bool in_probe_point_group() const { return header_ && group_depth_ > 0; }
  // A syntax error this close after a lexical one is its echo, not news.
  bool just_after_lexical_error() const { return since_lexical_error_ <= 3; }
  // The innermost bracket still open, for "unclosed `(`" notes.
  const Token* innermost_open() const { return open_.empty() ? nullptr : &open_.back(); }

 private:
  Token Pull();
  const Token& Peek();
  Token Filter();
  Token Glue(Token t);
  void Deliver(const Token& t);

  Preprocessor& pp_;
  AstBuilder& builder_;
  DiagnosticSink& diags_;
  Arena& arena_;
  std::deque<Token> ahead_;
  std::vector<Token> open_;  // brackets delivered and not yet closed
  bool pop_pending_ = false;
  size_t errors_seen_ = 0;
  size_t since_lexical_error_ = 1000;
  Token last_;
  bool replay_ = false;
  SourceRange restart_range_;
  // Probe-header state.
  bool header_ = false;
  bool expect_component_ = false;
  int group_depth_ = 0;
  int paren_depth_ = 0;
};

}  // namespace btap::frontend
