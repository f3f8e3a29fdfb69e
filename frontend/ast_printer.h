// Prints an AST back as SystemTap source (`btap -p1`). The canonical form parses back to
// the same tree; with `explicit_parens` every compound expression is parenthesised,
// which makes the tree's shape visible (used by the round-trip tests).
#pragma once

#include <iosfwd>
#include <string>

#include "frontend/ast.h"

namespace btap::frontend {

struct PrintOptions {
  bool explicit_parens = false;
};

void PrintFile(const ast::File& file, std::ostream& out, const PrintOptions& options = {});
std::string PrintToString(const ast::File& file, const PrintOptions& options = {});
// A block as in -p1, its inner lines indented `indent` levels (stap's -p2 -v bodies).
void PrintBlock(const ast::Block* block, int indent, std::ostream& out,
                const PrintOptions& options = {});
std::string PrintProbePoint(const ast::ProbePoint* point);
std::string PrintExpr(const ast::Expr* e, const PrintOptions& options = {});
std::string QuoteString(std::string_view value);

}  // namespace btap::frontend
