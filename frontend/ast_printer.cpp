// AST printer: canonical SystemTap source with the fewest parentheses that keep the
// tree's shape under stap's precedence (see parser.y for the levels).
#include "frontend/ast_printer.h"

#include <cstdio>
#include <ostream>
#include <sstream>

namespace btap::frontend {

using namespace ast;

namespace {

enum Level : int {
  kAssign = 1,
  kTernary,
  kOr,
  kAnd,
  kBitOr,
  kBitXor,
  kBitAnd,
  kIn,
  kCompare,
  kShift,
  kConcat,
  kAdd,
  kMul,
  kUnary,
  kCrement,
  kPostfix,
  kPrimary,
};

int BinaryLevel(Tok op) {
  switch (op) {
    case Tok::OrOr:
      return kOr;
    case Tok::AndAnd:
      return kAnd;
    case Tok::Pipe:
      return kBitOr;
    case Tok::Caret:
      return kBitXor;
    case Tok::Amp:
      return kBitAnd;
    case Tok::EqEq:
    case Tok::NotEq:
    case Tok::Less:
    case Tok::Greater:
    case Tok::LessEq:
    case Tok::GreaterEq:
    case Tok::Match:
    case Tok::NotMatch:
      return kCompare;
    case Tok::Shl:
    case Tok::Shr:
    case Tok::UShr:
      return kShift;
    case Tok::Dot:
      return kConcat;
    case Tok::Plus:
    case Tok::Minus:
      return kAdd;
    default:
      return kMul;
  }
}

// Whether `a` followed by `b` starts a longer operator, so printing them side by side
// would lex differently.
bool Fuses(char a, char b) {
  static constexpr std::string_view kPuncts[] = {
#define TOKEN(name, desc)
#define KEYWORD(name, spelling)
#define PUNCT(name, spelling) spelling,
#define ATWORD(name, spelling)
#include "common/tokens.def"
  };
  for (std::string_view p : kPuncts)
    if (p.size() >= 2 && p[0] == a && p[1] == b) return true;
  return false;
}

int LevelOf(const Expr* e) {
  switch (e->kind) {
    case Kind::Assign:
      return kAssign;
    case Kind::Ternary:
      return kTernary;
    case Kind::Logical:
      return BinaryLevel(static_cast<const Logical*>(e)->op);
    case Kind::Binary:
      return BinaryLevel(static_cast<const Binary*>(e)->op);
    case Kind::Comparison:
    case Kind::RegexMatch:
      return kCompare;
    case Kind::Concat:
      return kConcat;
    case Kind::ArrayIn:
      return kIn;
    case Kind::Unary:
      return kUnary;
    case Kind::PreCrement:
    case Kind::PostCrement:
      return kCrement;
    case Kind::TargetSymbol:
    case Kind::Cast:
    case Kind::AtVar:
    case Kind::Autocast: {
      auto* t = static_cast<const TargetBase*>(e);
      return t->addressof || !t->components.empty() ? kPostfix : kPrimary;
    }
    default:
      return kPrimary;
  }
}

class Printer {
 public:
  Printer(std::ostream& out, const PrintOptions& options) : out_(out), opts_(options) {}

  void File(const ast::File& f) {
    bool first = true;
    for (const Decl* d : f.decls) {
      if (!first && !(Is<Global>(d) && last_was_global_)) out_ << '\n';
      first = false;
      last_was_global_ = Is<Global>(d);
      Declaration(d);
    }
  }

  // An expression in a position of its own: a statement, an argument, an index, a
  // condition. Only these go without parentheses in the explicit form.
  void Root(const Expr* e) {
    root_ = true;
    Expression(e);
  }

  void BlockAt(const Block* b, int indent) {
    indent_ = indent;
    BlockOut(b);
  }
  void PointAt(const ProbePoint* p) { ProbePointOut(p); }

  void Expression(const Expr* e, int min_level = kAssign) {
    bool root = root_;
    root_ = false;
    bool parens =
        LevelOf(e) < min_level || (opts_.explicit_parens && !root && LevelOf(e) < kPostfix);
    if (parens) out_ << '(';
    ExprBody(e);
    if (parens) out_ << ')';
  }

 private:
  void Indent() {
    for (int i = 0; i < indent_; ++i) out_ << "  ";
  }

  void Number(int64_t v, bool literal_context) {
    if (v < 0 && !literal_context) {
      // A negative literal can only come from wrapping (0xffff...ffff); keep it a literal.
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
      out_ << buf;
      return;
    }
    out_ << v;
  }

  void Literal(const Expr* e) {
    if (auto* n = As<NumberLit>(e))
      Number(n->value, true);
    else if (auto* s = As<StringLit>(e))
      out_ << QuoteString(s->value);
  }

  void Args(std::span<Expr* const> args) {
    for (size_t i = 0; i < args.size(); ++i) {
      if (i) out_ << ", ";
      if (args[i])
        Root(args[i]);
      else
        out_ << '*';
    }
  }

  void Components(const TargetBase* t) {
    for (const TargetComponent& c : t->components) {
      switch (c.kind) {
        case TargetComponent::Kind::Member:
          out_ << "->" << c.name;
          break;
        case TargetComponent::Kind::Index:
          out_ << '[';
          Root(c.index);
          out_ << ']';
          break;
        case TargetComponent::Kind::PrettyPrint:
          out_ << c.name;
          break;
      }
    }
  }

  void BinaryOp(const Expr* lhs, Tok op, const Expr* rhs, int level, bool right_assoc = false) {
    Expression(lhs, right_assoc ? level + 1 : level);
    out_ << ' ' << TokenSpelling(op) << ' ';
    Expression(rhs, right_assoc ? level : level + 1);
  }

  void ExprBody(const Expr* e) {
    switch (e->kind) {
      case Kind::NumberLit:
        Number(static_cast<const NumberLit*>(e)->value, false);
        break;
      case Kind::StringLit:
        out_ << QuoteString(static_cast<const StringLit*>(e)->value);
        break;
      case Kind::EmbeddedExpr:
        out_ << "%{" << static_cast<const EmbeddedExpr*>(e)->code << "%}";
        break;
      case Kind::Symbol:
        out_ << static_cast<const Symbol*>(e)->name;
        break;
      case Kind::ArrayIndex: {
        auto* a = static_cast<const ArrayIndex*>(e);
        Expression(a->base, kPrimary);
        out_ << '[';
        Args(a->indexes);
        out_ << ']';
        break;
      }
      case Kind::Call: {
        auto* c = static_cast<const Call*>(e);
        out_ << c->name << '(';
        Args(c->args);
        out_ << ')';
        break;
      }
      case Kind::Unary: {
        auto* u = static_cast<const Unary*>(e);
        out_ << TokenSpelling(u->op);
        std::ostringstream inner;
        Printer sub(inner, opts_);
        sub.Expression(u->operand, kUnary);
        std::string s = inner.str();
        // Keep `- -x`, `! ~x` and the like from lexing as `--`, `!~`, ...
        if (!s.empty() && Fuses(TokenSpelling(u->op).back(), s[0])) out_ << ' ';
        out_ << s;
        break;
      }
      case Kind::Binary: {
        auto* b = static_cast<const Binary*>(e);
        BinaryOp(b->lhs, b->op, b->rhs, BinaryLevel(b->op));
        break;
      }
      case Kind::Logical: {
        auto* b = static_cast<const Logical*>(e);
        BinaryOp(b->lhs, b->op, b->rhs, BinaryLevel(b->op));
        break;
      }
      case Kind::Comparison: {
        auto* b = static_cast<const Comparison*>(e);
        BinaryOp(b->lhs, b->op, b->rhs, kCompare);
        break;
      }
      case Kind::Concat: {
        auto* b = static_cast<const Concat*>(e);
        BinaryOp(b->lhs, Tok::Dot, b->rhs, kConcat);
        break;
      }
      case Kind::RegexMatch: {
        auto* r = static_cast<const RegexMatch*>(e);
        Expression(r->lhs, kCompare);
        out_ << ' ' << TokenSpelling(r->op) << ' ' << QuoteString(r->pattern->value);
        break;
      }
      case Kind::Ternary: {
        auto* t = static_cast<const Ternary*>(e);
        Expression(t->cond, kOr);
        out_ << " ? ";
        Expression(t->then, kAssign);
        out_ << " : ";
        Expression(t->otherwise, kTernary);
        break;
      }
      case Kind::Assign: {
        auto* a = static_cast<const Assign*>(e);
        BinaryOp(a->lhs, a->op, a->rhs, kAssign, /*right_assoc=*/true);
        break;
      }
      case Kind::PreCrement: {
        auto* c = static_cast<const PreCrement*>(e);
        out_ << TokenSpelling(c->op);
        Expression(c->operand, kPostfix);
        break;
      }
      case Kind::PostCrement: {
        auto* c = static_cast<const PostCrement*>(e);
        Expression(c->operand, kPostfix);
        out_ << TokenSpelling(c->op);
        break;
      }
      case Kind::ArrayIn: {
        auto* a = static_cast<const ArrayIn*>(e);
        if (a->bracketed) {
          out_ << '[';
          Args(a->index->indexes);
          out_ << ']';
        } else {
          Expression(a->index->indexes[0], kCompare);
        }
        out_ << " in ";
        Expression(a->index->base, kPrimary);
        break;
      }
      case Kind::TargetSymbol: {
        auto* t = static_cast<const TargetSymbol*>(e);
        if (t->addressof) out_ << '&';
        out_ << t->name;
        Components(t);
        break;
      }
      case Kind::Cast: {
        auto* c = static_cast<const Cast*>(e);
        if (c->addressof) out_ << '&';
        out_ << "@cast(";
        Root(c->operand);
        out_ << ", " << QuoteString(c->type_name);
        if (c->has_module) out_ << ", " << QuoteString(c->module);
        out_ << ')';
        Components(c);
        break;
      }
      case Kind::AtVar: {
        auto* v = static_cast<const AtVar*>(e);
        if (v->addressof) out_ << '&';
        out_ << "@var(" << QuoteString(v->target_name);
        if (v->has_module) out_ << ", " << QuoteString(v->module);
        out_ << ')';
        Components(v);
        break;
      }
      case Kind::Autocast: {
        auto* a = static_cast<const Autocast*>(e);
        if (a->addressof) out_ << '&';
        Expression(a->operand, kPrimary);
        Components(a);
        break;
      }
      case Kind::Defined:
        out_ << "@defined(";
        Root(static_cast<const Defined*>(e)->operand);
        out_ << ')';
        break;
      case Kind::Entry:
        out_ << "@entry(";
        Root(static_cast<const Entry*>(e)->operand);
        out_ << ')';
        break;
      case Kind::Probewrite:
        out_ << "@probewrite(" << static_cast<const Probewrite*>(e)->name << ')';
        break;
      case Kind::Const:
        out_ << "@const(" << QuoteString(static_cast<const Const*>(e)->value) << ')';
        break;
      case Kind::Perf:
        out_ << "@perf(" << QuoteString(static_cast<const Perf*>(e)->counter) << ')';
        break;
      case Kind::Register: {
        auto* r = static_cast<const Register*>(e);
        if (r->entry_function) out_ << "@entry(";
        out_ << (r->user ? "@uregister(" : "@kregister(") << r->regno << ')';
        if (r->entry_function) out_ << ')';
        break;
      }
      case Kind::Deref: {
        auto* d = static_cast<const Deref*>(e);
        out_ << (d->user ? "@uderef(" : "@kderef(") << d->size << ", ";
        Root(d->address);
        out_ << ')';
        break;
      }
      case Kind::StatOp:
        AggregateOp(static_cast<const StatOp*>(e));
        break;
      case Kind::HistOp:
        AggregateOp(static_cast<const HistOp*>(e));
        break;
      default:
        out_ << "<?>";
        break;
    }
  }

  template <typename T>
  void AggregateOp(const T* s) {
    out_ << '@' << AtWordSpelling(s->op) << '(';
    Root(s->operand);
    for (int64_t p : s->params) out_ << ", " << p;
    out_ << ')';
  }

  void ProbePointOut(const ProbePoint* p) {
    for (size_t i = 0; i < p->components.size(); ++i) {
      const ProbePointComponent& c = p->components[i];
      if (i) out_ << '.';
      out_ << c.name;
      if (c.arg) {
        out_ << '(';
        auto* n = As<NumberLit>(c.arg);
        if (n && (c.name == "statement" || c.name == "function")) {
          char hex[24];  // an address, in hex as stap prints it
          std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(n->value));
          out_ << hex;
        } else
          Literal(c.arg);
        out_ << ')';
      }
    }
    if (p->sufficient)
      out_ << '!';
    else if (p->optional)
      out_ << '?';
    if (p->condition) {
      out_ << " if (";
      Root(p->condition);
      out_ << ')';
    }
  }

  void ProbePoints(std::span<ProbePoint* const> points) {
    for (size_t i = 0; i < points.size(); ++i) {
      if (i) out_ << ", ";
      ProbePointOut(points[i]);
    }
  }

  static const char* TypeName(TypeAnn t) { return t == TypeAnn::Long ? "long" : "string"; }

  void Declaration(const Decl* d) {
    switch (d->kind) {
      case Kind::Probe: {
        auto* p = static_cast<const Probe*>(d);
        out_ << "probe ";
        ProbePoints(p->points);
        out_ << ' ';
        BlockOut(p->body);
        out_ << '\n';
        break;
      }
      case Kind::Alias: {
        auto* a = static_cast<const Alias*>(d);
        out_ << "probe ";
        for (size_t i = 0; i < a->names.size(); ++i) {
          ProbePointOut(a->names[i]);
          out_ << ' ' << TokenSpelling(a->name_ops[i]) << ' ';
        }
        ProbePoints(a->points);
        out_ << ' ';
        BlockOut(a->body);
        if (a->epilogue) {
          out_ << ", ";
          BlockOut(a->epilogue);
        }
        out_ << '\n';
        break;
      }
      case Kind::Global: {
        auto* g = static_cast<const Global*>(d);
        out_ << (g->is_private ? "private global " : "global ") << g->name;
        if (g->wrap) out_ << '%';
        if (g->size) out_ << '[' << g->size << ']';
        if (g->init) {
          out_ << " = ";
          Literal(g->init);
        }
        out_ << '\n';
        break;
      }
      case Kind::Function: {
        auto* f = static_cast<const Function*>(d);
        out_ << (f->is_private ? "private function " : "function ") << f->name;
        if (f->type != TypeAnn::None) out_ << ':' << TypeName(f->type);
        out_ << '(';
        for (size_t i = 0; i < f->params.size(); ++i) {
          if (i) out_ << ", ";
          out_ << f->params[i].name;
          if (f->params[i].type != TypeAnn::None) out_ << ':' << TypeName(f->params[i].type);
        }
        out_ << ')';
        if (f->priority) out_ << " : " << f->priority;
        out_ << ' ';
        if (f->has_embedded)
          out_ << "%{" << f->embedded << "%}";
        else
          BlockOut(f->body);
        out_ << '\n';
        break;
      }
      case Kind::EmbeddedDecl:
        out_ << "%{" << static_cast<const EmbeddedDecl*>(d)->code << "%}\n";
        break;
      default:
        break;
    }
  }

  void BlockOut(const Block* b) {
    out_ << "{\n";
    ++indent_;
    for (const Stmt* s : b->statements) {
      Indent();
      Statement(s);
      out_ << '\n';
    }
    --indent_;
    Indent();
    out_ << '}';
  }

  // A statement nested in if/for/while/foreach: blocks stay on the line.
  void Nested(const Stmt* s) {
    if (auto* b = As<Block>(s)) {
      out_ << ' ';
      BlockOut(b);
      return;
    }
    out_ << '\n';
    ++indent_;
    Indent();
    Statement(s);
    --indent_;
  }

  void Statement(const Stmt* s) {
    switch (s->kind) {
      case Kind::Block:
        BlockOut(static_cast<const Block*>(s));
        break;
      case Kind::Null:
        out_ << ';';
        break;
      case Kind::ExprStmt:
        Root(static_cast<const ExprStmt*>(s)->expr);
        out_ << ';';
        break;
      case Kind::Return: {
        auto* r = static_cast<const Return*>(s);
        out_ << "return";
        if (r->value) {
          out_ << ' ';
          Root(r->value);
        }
        out_ << ';';
        break;
      }
      case Kind::Delete:
        out_ << "delete ";
        Root(static_cast<const Delete*>(s)->target);
        out_ << ';';
        break;
      case Kind::Next:
        out_ << "next;";
        break;
      case Kind::Break:
        out_ << "break;";
        break;
      case Kind::Continue:
        out_ << "continue;";
        break;
      case Kind::If: {
        auto* i = static_cast<const If*>(s);
        out_ << "if (";
        Root(i->cond);
        out_ << ')';
        Nested(i->then);
        if (i->otherwise) {
          if (Is<Block>(i->then))
            out_ << ' ';
          else {
            out_ << '\n';
            Indent();
          }
          out_ << "else";
          if (Is<If>(i->otherwise)) {
            out_ << ' ';
            Statement(i->otherwise);
          } else {
            Nested(i->otherwise);
          }
        }
        break;
      }
      case Kind::While: {
        auto* w = static_cast<const While*>(s);
        out_ << "while (";
        Root(w->cond);
        out_ << ')';
        Nested(w->body);
        break;
      }
      case Kind::For: {
        auto* f = static_cast<const For*>(s);
        out_ << "for (";
        if (f->init) Root(f->init);
        out_ << "; ";
        if (f->cond) Root(f->cond);
        out_ << "; ";
        if (f->step) Root(f->step);
        out_ << ')';
        Nested(f->body);
        break;
      }
      case Kind::Foreach:
        ForeachOut(static_cast<const Foreach*>(s));
        break;
      case Kind::TryCatch: {
        auto* t = static_cast<const TryCatch*>(s);
        out_ << "try ";
        BlockOut(t->body);
        out_ << " catch ";
        if (!t->error_var.empty()) out_ << '(' << t->error_var << ") ";
        BlockOut(t->handler);
        break;
      }
      default:
        break;
    }
  }

  void ForeachOut(const Foreach* f) {
    auto sort_mark = [&](size_t column) {
      if (f->sort_direction && f->sort_column == column && f->sort_aggregate == AtWord::None)
        out_ << (f->sort_direction > 0 ? '+' : '-');
    };
    out_ << "foreach (";
    if (f->value) out_ << f->value->name << " = ";
    if (f->bracketed) out_ << '[';
    for (size_t i = 0; i < f->keys.size(); ++i) {
      if (i) out_ << ", ";
      out_ << f->keys[i]->name;
      sort_mark(i + 1);
    }
    if (f->bracketed) out_ << ']';
    out_ << " in ";
    Expression(f->array, kPrimary);
    if (f->has_slice) {
      out_ << '[';
      Args(f->slice);
      out_ << ']';
    }
    if (f->sort_aggregate != AtWord::None) {
      out_ << " @" << AtWordSpelling(f->sort_aggregate) << (f->sort_direction > 0 ? '+' : '-');
    } else {
      sort_mark(0);
    }
    if (f->limit) {
      out_ << " limit ";
      Root(f->limit);
    }
    out_ << ')';
    Nested(f->body);
  }

  std::ostream& out_;
  const PrintOptions& opts_;
  int indent_ = 0;
  bool root_ = false;
  bool last_was_global_ = false;
};

}  // namespace

std::string QuoteString(std::string_view value) {
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\%03o", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

void PrintFile(const ast::File& file, std::ostream& out, const PrintOptions& options) {
  Printer(out, options).File(file);
}

std::string PrintToString(const ast::File& file, const PrintOptions& options) {
  std::ostringstream out;
  PrintFile(file, out, options);
  return out.str();
}

void PrintBlock(const ast::Block* block, int indent, std::ostream& out,
                const PrintOptions& options) {
  Printer(out, options).BlockAt(block, indent);
}

std::string PrintProbePoint(const ast::ProbePoint* point) {
  std::ostringstream out;
  PrintOptions options;
  Printer(out, options).PointAt(point);
  return out.str();
}

std::string PrintExpr(const ast::Expr* e, const PrintOptions& options) {
  std::ostringstream out;
  Printer(out, options).Root(e);
  return out.str();
}

}  // namespace btap::frontend
