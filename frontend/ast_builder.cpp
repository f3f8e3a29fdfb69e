// AstBuilder: node construction and the checks stap makes while parsing.
#include "frontend/ast_builder.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>
#include <unordered_set>

namespace btap::frontend {

using namespace ast;

void AstBuilder::SetDepth(Node* n, uint32_t d) {
  n->depth = d;
  if (d > kMaxDepth && !too_deep_) {
    too_deep_ = true;
    diags_.Report(Diag::NestingTooDeep, n->range, {std::to_string(kMaxDepth)});
  }
}

void AstBuilder::FinishList(Node* n, std::span<Expr* const> items, uint32_t extra) {
  uint32_t d = extra;
  for (const Expr* e : items)
    if (e && e->depth > d) d = e->depth;
  SetDepth(n, d + 1);
}

void AstBuilder::FinishStmts(Node* n, std::span<Stmt* const> items) {
  uint32_t d = 0;
  for (const Stmt* s : items)
    if (s && s->depth > d) d = s->depth;
  SetDepth(n, d + 1);
}

bool AstBuilder::RequireGuru(const Token& t, std::string_view what) {
  if (privileged_) return true;
  if (what == "embedded code")  // stap's own words (parse.cxx)
    diags_.Report(Diag::EmbeddedNeedsGuru, t.range);
  else
    diags_.Report(Diag::NeedsGuruMode, t.range, {what});
  return false;
}

int64_t AstBuilder::SignedNumber(const Token& t, bool negative) {
  std::string text(t.text);
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (text.empty() || *end != '\0' || errno == EINVAL) {
    diags_.Report(Diag::InvalidNumber, t.range, {t.text});
    return 0;
  }
  if (errno == ERANGE || (negative && v > 9223372036854775808ULL)) {
    diags_.Report(Diag::NumberOutOfRange, t.range, {(negative ? "-" : "") + text});
    return 0;
  }
  // Values above INT64_MAX wrap, as in stap: 0xffffffffffffffff is -1.
  return negative ? static_cast<int64_t>(0ULL - v) : static_cast<int64_t>(v);
}

NumberLit* AstBuilder::Number(const Token& t, bool negative, SourceRange range) {
  auto* n = New<NumberLit>(range);
  n->value = SignedNumber(t, negative);
  return n;
}

StringLit* AstBuilder::String(const Token& t) {
  auto* s = New<StringLit>(t.range);
  s->value = t.text;
  return s;
}

Expr* AstBuilder::Embedded(const Token& t) {
  RequireGuru(t, "embedded code");
  auto* e = New<EmbeddedExpr>(t.range);
  e->code = t.text;
  return e;
}

Expr* AstBuilder::Binary(Tok op, Expr* lhs, Expr* rhs, SourceRange r) {
  Expr* result;
  switch (op) {
    case Tok::AndAnd:
    case Tok::OrOr: {
      auto* e = New<Logical>(r);
      e->op = op, e->lhs = lhs, e->rhs = rhs;
      result = e;
      break;
    }
    case Tok::Less:
    case Tok::Greater:
    case Tok::LessEq:
    case Tok::GreaterEq:
    case Tok::EqEq:
    case Tok::NotEq: {
      auto* e = New<Comparison>(r);
      e->op = op, e->lhs = lhs, e->rhs = rhs;
      result = e;
      break;
    }
    case Tok::Dot: {
      auto* e = New<Concat>(r);
      e->lhs = lhs, e->rhs = rhs;
      result = e;
      break;
    }
    case Tok::Assign:
    case Tok::StatAccum:
    case Tok::AddAssign:
    case Tok::SubAssign:
    case Tok::MulAssign:
    case Tok::DivAssign:
    case Tok::ModAssign:
    case Tok::ShlAssign:
    case Tok::ShrAssign:
    case Tok::AndAssign:
    case Tok::XorAssign:
    case Tok::OrAssign:
    case Tok::ConcatAssign: {
      auto* e = New<Assign>(r);
      e->op = op, e->lhs = lhs, e->rhs = rhs;
      result = e;
      break;
    }
    default: {
      auto* e = New<ast::Binary>(r);
      e->op = op, e->lhs = lhs, e->rhs = rhs;
      result = e;
    }
  }
  Finish(result, lhs, rhs);
  return result;
}

Expr* AstBuilder::Unary(Tok op, Expr* operand, SourceRange r) {
  auto* e = New<ast::Unary>(r);
  e->op = op, e->operand = operand;
  Finish(e, operand);
  return e;
}

Expr* AstBuilder::Crement(bool prefix, Tok op, Expr* operand, SourceRange r) {
  Expr* result;
  if (prefix) {
    auto* e = New<PreCrement>(r);
    e->op = op, e->operand = operand;
    result = e;
  } else {
    auto* e = New<PostCrement>(r);
    e->op = op, e->operand = operand;
    result = e;
  }
  Finish(result, operand);
  return result;
}

Expr* AstBuilder::Regex(Tok op, Expr* lhs, const Token& pattern, SourceRange r) {
  auto* e = New<RegexMatch>(r);
  e->op = op, e->lhs = lhs, e->pattern = String(pattern);
  Finish(e, lhs);
  return e;
}

Expr* AstBuilder::Ternary(Expr* c, Expr* t, Expr* f, SourceRange r) {
  auto* e = New<ast::Ternary>(r);
  e->cond = c, e->then = t, e->otherwise = f;
  Finish(e, c, t, f);
  return e;
}

Expr* AstBuilder::Index(Expr* base, std::vector<Expr*> indexes, SourceRange r) {
  auto* e = New<ArrayIndex>(r);
  e->base = base;
  e->indexes = arena_.Copy(indexes);
  FinishList(e, e->indexes, base->depth);
  return e;
}

Expr* AstBuilder::Bracketed(std::vector<Expr*> items, SourceRange r) {
  if (items.size() == 1 && items[0]) return items[0];
  diags_.Report(Diag::SyntaxError, r, {"a bracketed list of keys must be followed by `in`"});
  for (Expr* e : items)
    if (e) return e;
  return Number(Token{Tok::Number, true, true, 0, r, "0"}, false, r);
}

Expr* AstBuilder::ArrayIn(std::vector<Expr*> keys, bool bracketed, Expr* array, SourceRange r) {
  auto* index = static_cast<ArrayIndex*>(Index(array, std::move(keys), r));
  auto* e = New<ast::ArrayIn>(r);
  e->index = index;
  e->bracketed = bracketed;
  Finish(e, index);
  return e;
}

namespace {

enum class PrintKind { None, Plain, Line, Format, Delimited };

// The print family is built into stap's grammar (print_format::create).
PrintKind PrintFamily(std::string_view name) {
  if (name == "print" || name == "sprint") return PrintKind::Plain;
  if (name == "println" || name == "sprintln") return PrintKind::Line;
  if (name == "printf" || name == "sprintf") return PrintKind::Format;
  if (name == "printd" || name == "sprintd" || name == "printdln" || name == "sprintdln")
    return PrintKind::Delimited;
  return PrintKind::None;
}

}  // namespace

Expr* AstBuilder::Call(const Token& name, std::vector<Expr*> args, SourceRange r) {
  switch (PrintFamily(name.text)) {
    case PrintKind::Plain:
      if (args.empty())
        diags_.Report(Diag::SyntaxError, r, {"`" + std::string(name.text) + "` needs an argument"});
      break;
    case PrintKind::Format:
    case PrintKind::Delimited: {
      bool delimited = PrintFamily(name.text) == PrintKind::Delimited;
      if (args.empty() || !Is<StringLit>(args[0]))
        diags_.Report(Diag::SyntaxError, args.empty() ? r : args[0]->range,
                      {"`" + std::string(name.text) + "` takes a literal " +
                       (delimited ? "delimiter" : "format") + " string first"});
      else if (delimited && args.size() < 3)
        diags_.Report(
            Diag::SyntaxError, r,
            {"`" + std::string(name.text) + "` needs at least two values after the delimiter"});
      break;
    }
    default:
      break;
  }
  auto* e = New<ast::Call>(r);
  e->name = name.text;
  e->name_range = name.range;
  e->args = arena_.Copy(args);
  FinishList(e, e->args);
  return e;
}

Expr* AstBuilder::Value(const Token& t) {
  if (PrintFamily(t.text) != PrintKind::None)
    diags_.Report(Diag::SyntaxError, t.range, {"expected `(` after `" + std::string(t.text) + "`"});
  return Symbol(t);
}

Expr* AstBuilder::Symbol(const Token& t) {
  auto* e = New<ast::Symbol>(t.range);
  e->name = t.text;
  return e;
}

namespace {

// Appends in amortized constant time: long `->a->b->...` chains stay linear.
void Append(Arena& arena, TargetBase* t, const TargetComponent& c) {
  size_t n = t->components.size();
  if (n == t->components_capacity) {
    size_t cap = n ? n * 2 : 4;
    auto* p = static_cast<TargetComponent*>(
        arena.Allocate(sizeof(TargetComponent) * cap, alignof(TargetComponent)));
    std::copy(t->components.begin(), t->components.end(), p);
    t->components = {p, n};
    t->components_capacity = static_cast<uint32_t>(cap);
  }
  t->components.data()[n] = c;
  t->components = {t->components.data(), n + 1};
}

// Splits a trailing run of `$` off a name: "$x$$" -> {"$x", "$$"}.
std::pair<std::string_view, std::string_view> SplitDollars(std::string_view name) {
  size_t last = name.find_last_not_of('$');
  if (last == std::string_view::npos) return {{}, name};
  return {name.substr(0, last + 1), name.substr(last + 1)};
}

}  // namespace

Expr* AstBuilder::Target(const Token& t) {
  auto* e = New<TargetSymbol>(t.range);
  // `$x$` is one token; its trailing dollars are a pretty-print suffix. A name made
  // only of a leading `$` run ($$vars) keeps it.
  size_t last = t.text.find_last_not_of('$');
  if (last != std::string_view::npos && last + 1 < t.text.size()) {
    e->name = t.text.substr(0, last + 1);
    Append(arena_, e,
           {TargetComponent::Kind::PrettyPrint, t.range, t.text.substr(last + 1), nullptr});
  } else {
    e->name = t.text;
  }
  return e;
}

Expr* AstBuilder::CastOp(Expr* operand, const Token& type, const Token* module, SourceRange r) {
  auto* e = New<Cast>(r);
  e->operand = operand;
  e->type_name = type.text;
  if (type.text.empty()) diags_.Report(Diag::EmptyString, type.range);
  if (module) e->module = module->text, e->has_module = true;
  Finish(e, operand);
  return e;
}

Expr* AstBuilder::AtVarOp(const Token& name, const Token* module, SourceRange r) {
  auto* e = New<AtVar>(r);
  e->target_name = name.text;
  if (module) e->module = module->text, e->has_module = true;
  return e;
}

TargetBase* AstBuilder::EnsureTarget(Expr* base, SourceRange r) {
  switch (base->kind) {
    case Kind::TargetSymbol:
    case Kind::Cast:
    case Kind::AtVar:
    case Kind::Autocast: {
      auto* t = static_cast<TargetBase*>(base);
      if (!t->components.empty() &&
          t->components.back().kind == TargetComponent::Kind::PrettyPrint) {
        diags_.Report(Diag::PrettyPrintSuffix, r);
      }
      t->range = SourceRange::Join(t->range, r);
      return t;
    }
    default: {
      auto* a = New<Autocast>(SourceRange::Join(base->range, r));
      a->operand = base;
      Finish(a, base);
      return a;
    }
  }
}

Expr* AstBuilder::Member(Expr* base, const Token& member, SourceRange r) {
  TargetBase* t = EnsureTarget(base, r);
  auto [name, dollars] = SplitDollars(member.text);
  if (!name.empty())
    Append(arena_, t, {TargetComponent::Kind::Member, member.range, name, nullptr});
  if (!dollars.empty())
    Append(arena_, t, {TargetComponent::Kind::PrettyPrint, member.range, dollars, nullptr});
  SetDepth(t, t->depth + 1);
  return t;
}

Expr* AstBuilder::TargetIndex(Expr* base, Expr* index, SourceRange r) {
  TargetBase* t = EnsureTarget(base, r);
  Append(arena_, t, {TargetComponent::Kind::Index, r, {}, index});
  SetDepth(t, (t->depth > index->depth ? t->depth : index->depth) + 1);
  return t;
}

Expr* AstBuilder::PrettyPrint(Expr* base, const Token& dollars, SourceRange r) {
  TargetBase* t = EnsureTarget(base, r);
  Append(arena_, t, {TargetComponent::Kind::PrettyPrint, dollars.range, dollars.text, nullptr});
  return t;
}

Expr* AstBuilder::AddressOf(Expr* value, SourceRange r) {
  TargetBase* t = nullptr;
  switch (value->kind) {
    case Kind::TargetSymbol:
    case Kind::Cast:
    case Kind::AtVar:
    case Kind::Autocast:
      t = static_cast<TargetBase*>(value);
      if (t->addressof) diags_.Report(Diag::AddressTwice, r);
      t->range = SourceRange::Join(r, t->range);
      break;
    default: {
      auto* a = New<Autocast>(SourceRange::Join(r, value->range));
      a->operand = value;
      Finish(a, value);
      t = a;
    }
  }
  t->addressof = true;
  return t;
}

Expr* AstBuilder::Simple(AtWord which, const Token& at, Expr* operand, const Token* arg,
                         SourceRange r) {
  switch (which) {
    case AtWord::Defined: {
      auto* e = New<Defined>(r);
      e->operand = operand;
      Finish(e, operand);
      return e;
    }
    case AtWord::Entry: {
      auto* e = New<Entry>(r);
      e->operand = operand;
      Finish(e, operand);
      return e;
    }
    case AtWord::Probewrite: {
      auto* e = New<Probewrite>(r);
      e->name = arg->text;
      return e;
    }
    case AtWord::Const: {
      RequireGuru(at, "`@const`");
      if (arg->text.empty()) diags_.Report(Diag::EmptyString, arg->range);
      auto* e = New<Const>(r);
      e->value = arg->text;
      return e;
    }
    default: {  // Perf
      if (arg->text.empty()) diags_.Report(Diag::EmptyString, arg->range);
      auto* e = New<Perf>(r);
      e->counter = arg->text;
      return e;
    }
  }
}

Expr* AstBuilder::Stat(const Token& at, Expr* operand, std::vector<int64_t> params, SourceRange r) {
  AtWord op = ClassifyAtWord(at.text);
  size_t max = op == AtWord::Variance ? 1 : 0;
  if (params.size() > max)
    diags_.Report(Diag::StatParams, r,
                  {"@" + std::string(at.text), max ? "at most one parameter" : "no parameters"});
  auto* e = New<StatOp>(r);
  e->op = op;
  e->operand = operand;
  e->params = arena_.Copy(params);
  Finish(e, operand);
  return e;
}

Expr* AstBuilder::Hist(const Token& at, Expr* operand, std::vector<int64_t> params, SourceRange r) {
  AtWord op = ClassifyAtWord(at.text);
  if (op == AtWord::HistLog && !params.empty())
    diags_.Report(Diag::StatParams, r, {"@hist_log", "one argument"});
  if (op == AtWord::HistLinear && params.size() != 3)
    diags_.Report(Diag::StatParams, r,
                  {"@hist_linear", "a value and three numbers (start, stop, interval)"});
  auto* e = New<HistOp>(r);
  e->op = op;
  e->operand = operand;
  e->params = arena_.Copy(params);
  Finish(e, operand);
  return e;
}

Expr* AstBuilder::Register(const Token& at, int64_t regno, SourceRange r) {
  bool user = at.text[0] == 'u';
  if (!user) RequireGuru(at, "`@kregister`");
  auto* e = New<ast::Register>(r);
  e->user = user;
  e->regno = regno;
  return e;
}

Expr* AstBuilder::Deref(const Token& at, int64_t size, Expr* address, SourceRange r) {
  bool user = at.text[0] == 'u';
  if (!user) RequireGuru(at, "`@kderef`");
  auto* e = New<ast::Deref>(r);
  e->user = user;
  e->size = size;
  e->address = address;
  Finish(e, address);
  return e;
}

Expr* AstBuilder::Unknown(const Token& at, std::vector<Expr*> args, SourceRange r) {
  diags_.Report(Diag::UnknownAtOperator, at.range, {"@" + std::string(at.text)});
  Token name = at;
  return Call(name, std::move(args), r);
}

// ---- Statements ----

Block* AstBuilder::Block(std::vector<Stmt*> stmts, SourceRange r) {
  auto* b = New<ast::Block>(r);
  b->statements = arena_.Copy(stmts);
  FinishStmts(b, b->statements);
  return b;
}

Stmt* AstBuilder::ExprStmt(Expr* e, SourceRange r) {
  auto* s = New<ast::ExprStmt>(r);
  s->expr = e;
  Finish(s, e);
  return s;
}

Stmt* AstBuilder::Return(Expr* value, SourceRange r) {
  if (!in_function_) diags_.Report(Diag::ReturnOutsideFunction, r);
  auto* s = New<ast::Return>(r);
  s->value = value;
  Finish(s, value);
  return s;
}

Stmt* AstBuilder::If(Expr* c, Stmt* t, Stmt* f, SourceRange r) {
  auto* s = New<ast::If>(r);
  s->cond = c, s->then = t, s->otherwise = f;
  Finish(s, static_cast<Node*>(c), static_cast<Node*>(t), static_cast<Node*>(f));
  return s;
}

Stmt* AstBuilder::For(Expr* init, Expr* cond, Expr* step, Stmt* body, SourceRange r) {
  auto* s = New<ast::For>(r);
  s->init = init, s->cond = cond, s->step = step, s->body = body;
  Finish(s, static_cast<Node*>(init), static_cast<Node*>(cond), static_cast<Node*>(step),
         static_cast<Node*>(body));
  return s;
}

Stmt* AstBuilder::While(Expr* cond, Stmt* body, SourceRange r) {
  auto* s = New<ast::While>(r);
  s->cond = cond, s->body = body;
  Finish(s, static_cast<Node*>(cond), static_cast<Node*>(body));
  return s;
}

Stmt* AstBuilder::Try(ast::Block* body, const Token* var, ast::Block* handler, SourceRange r) {
  auto* s = New<TryCatch>(r);
  s->body = body;
  s->handler = handler;
  if (var) s->error_var = var->text, s->error_var_range = var->range;
  Finish(s, body, handler);
  return s;
}

Stmt* AstBuilder::Delete(Expr* target, SourceRange r) {
  auto* s = New<ast::Delete>(r);
  s->target = target;
  Finish(s, target);
  return s;
}

ast::Symbol* AstBuilder::ForeachVar(const Token& t) { return static_cast<ast::Symbol*>(Symbol(t)); }

Stmt* AstBuilder::Foreach(ForeachHead head, ForeachTail tail, Stmt* body, SourceRange r) {
  auto* s = New<ast::Foreach>(r);
  s->value = head.value;
  s->keys = arena_.Copy(head.keys);
  s->bracketed = head.bracketed;
  s->array = tail.array;
  s->slice = arena_.Copy(tail.slice);
  s->has_slice = tail.has_slice;
  s->sort_aggregate = tail.aggregate;
  s->limit = tail.limit;
  s->body = body;
  // One sort directive at most: on the value variable, one key, or the array.
  int sorts = 0;
  if (head.value_sort) s->sort_direction = head.value_sort, s->sort_column = 0, ++sorts;
  for (size_t i = 0; i < head.key_sorts.size(); ++i)
    if (head.key_sorts[i])
      s->sort_direction = head.key_sorts[i], s->sort_column = static_cast<uint8_t>(i + 1), ++sorts;
  if (tail.sort) s->sort_direction = tail.sort, s->sort_column = 0, ++sorts;
  if (sorts > 1) diags_.Report(Diag::MultipleSort, tail.sort ? tail.sort_range : r);
  uint32_t d = body ? body->depth : 0;
  for (Expr* e : s->slice)
    if (e && e->depth > d) d = e->depth;
  if (s->limit && s->limit->depth > d) d = s->limit->depth;
  SetDepth(s, d + 1);
  return s;
}

// ---- Probe points ----

ProbePointList AstBuilder::Component(const Token& name, Expr* arg, SourceRange r) {
  auto* pp = arena_.New<ProbePoint>();
  pp->range = r;
  pp->components = arena_.Copy(std::vector<ProbePointComponent>{{name.text, r, arg}});
  return {{pp}};
}

ProbePointList AstBuilder::Concatenate(ProbePointList prefix, ProbePointList suffix) {
  ProbePointList out;
  for (ProbePoint* p : prefix.points) {
    if (p->optional || p->condition) diags_.Report(Diag::SuffixOnly, p->range);
    for (ProbePoint* s : suffix.points) {
      if (out.points.size() >= kMaxExpandedPoints) {
        diags_.Report(Diag::ExpansionTooLarge, s->range, {std::to_string(kMaxExpandedPoints)});
        return out;
      }
      auto* pp = arena_.New<ProbePoint>(*s);
      std::vector<ProbePointComponent> comps(p->components.begin(), p->components.end());
      comps.insert(comps.end(), s->components.begin(), s->components.end());
      pp->components = arena_.Copy(comps);
      pp->range = SourceRange::Join(p->range, s->range);
      out.points.push_back(pp);
    }
  }
  return out;
}

ProbePointList AstBuilder::Finalize(ProbePointList points, const Token* marker, Expr* condition,
                                    SourceRange r) {
  for (ProbePoint* p : points.points) {
    if (marker) {
      if (p->optional) diags_.Report(Diag::SyntaxError, marker->range, {"`?` or `!` given twice"});
      p->optional = true;
      p->sufficient = marker->kind == Tok::Bang;
    }
    if (condition) {
      if (p->condition)
        diags_.Report(Diag::SyntaxError, condition->range, {"probe point condition given twice"});
      p->condition = condition;
    }
    if (points.points.size() == 1) p->range = SourceRange::Join(p->range, r);
  }
  return points;
}

// ---- Declarations ----

void AstBuilder::Probe(const ProbePointList& points, ast::Block* body, SourceRange r) {
  auto* p = New<ast::Probe>(r);
  p->points = arena_.Copy(points.points);
  p->body = body;
  Finish(p, body);
  decls_.push_back(p);
  in_function_ = false;
}

void AstBuilder::Alias(std::vector<std::pair<ProbePointList, Tok>> names,
                       const ProbePointList& points, ast::Block* body, ast::Block* epilogue,
                       SourceRange r) {
  std::vector<ProbePoint*> name_points;
  std::vector<Tok> ops;
  bool plus = false;
  for (auto& [list, op] : names) {
    for (ProbePoint* pp : list.points) {
      if (pp->optional || pp->condition || list.points.size() != 1)
        diags_.Report(Diag::AliasNotPlain, pp->range);
      name_points.push_back(pp);
      ops.push_back(op);
    }
    plus = plus || op == Tok::AddAssign;
  }
  if (plus && epilogue) diags_.Report(Diag::EpilogueWithPlusEq, epilogue->range);
  auto* a = New<ast::Alias>(r);
  a->names = arena_.Copy(name_points);
  a->name_ops = arena_.Copy(ops);
  a->points = arena_.Copy(points.points);
  a->body = body;
  a->epilogue = epilogue;
  Finish(a, body, epilogue);
  decls_.push_back(a);
}

void AstBuilder::Global(const Token& name, bool is_private, bool wrap, const Token* size,
                        bool size_negative, Expr* init, SourceRange r) {
  for (Decl* d : decls_) {
    auto* g = As<ast::Global>(d);
    if (g && g->name == name.text) {
      diags_.Report(Diag::DuplicateGlobal, name.range, {name.text});
      diags_.Note(Diag::FirstDefinedHere, g->range);
      break;
    }
  }
  auto* g = New<ast::Global>(r);
  g->name = name.text;
  g->is_private = is_private;
  g->wrap = wrap;
  if (size) {
    int64_t n = SignedNumber(*size, size_negative);
    if (n <= 0 || n > INT_MAX) diags_.Report(Diag::ArraySizeRange, size->range);
    g->size = n;
    if (init) diags_.Report(Diag::ArrayInitialized, init->range);
  }
  g->init = init;
  decls_.push_back(g);
}

void AstBuilder::Function(const Token& name, bool is_private, TypeAnn type,
                          std::vector<Param> params, Expr* priority, ast::Block* body,
                          const Token* embedded, SourceRange r) {
  std::unordered_set<std::string_view> seen;
  for (const Param& p : params)
    if (!seen.insert(p.name).second) diags_.Report(Diag::DuplicateParam, p.range, {p.name});
  auto* f = New<ast::Function>(r);
  f->name = name.text;
  f->name_range = name.range;
  f->is_private = is_private;
  f->type = type;
  f->params = arena_.Copy(params);
  if (priority) {
    auto* n = As<NumberLit>(priority);
    if (!n)
      diags_.Report(Diag::SyntaxError, priority->range,
                    {"expected a number for the function priority"});
    else if (n->value < 1)
      diags_.Report(Diag::PriorityRange, priority->range);
    else
      f->priority = n->value;
  }
  f->body = body;
  if (embedded) {
    RequireGuru(*embedded, "embedded code");
    f->embedded = embedded->text;
    f->has_embedded = true;
  }
  Finish(f, body);
  decls_.push_back(f);
  in_function_ = false;
}

void AstBuilder::EmbeddedDecl(const Token& code) {
  RequireGuru(code, "embedded code");
  auto* e = New<ast::EmbeddedDecl>(code.range);
  e->code = code.text;
  decls_.push_back(e);
}

}  // namespace btap::frontend
