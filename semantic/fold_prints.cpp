// Pass 2e: printf takes over the strings it prints. A probe local that is made once, by
// `v = sprintf(FORMAT, ...)` or `v = "text"`, and read only where a printf's `%s` prints
// it, is not made at all: the printf's format gets FORMAT (or the text) as a group (see
// printf_format.h) and the sprintf's arguments in its place, so the runtime formats it
// once, in user space. Likewise `v = user_string_quoted(a)`: the kernel only reads the
// string, and the printf's `%{quoted}s` quotes and escapes it; and `v = __get_argv(a, n)`:
// each print copies the vector's strings raw, and `%{argv}s` quotes and joins them. The
// syscall tapset's aliases make `name`, `argstr` and their strings this way; a handler
// printing them cost a kernel sprintf, an escaping loop per string and three string
// copies per call, and the verifier a walk of each. And `v = F(a)`, where the tapset
// function F's body is one `return __btap_flag_names(E, K, Z, "TABLE")` or
// `return __btap_value_name(E, N, "TABLE")` with literal options: the kernel only works
// out the number E (of `a`, where the call was), and the printf's `%{decode:...}d` names
// it (common/decode_names.h, bpflib's decoder's rules).
//
// What makes it safe: the assignment is a statement that runs before every print of the
// value (a later statement of its block, or of an enclosing plain block), nothing else
// writes the variable, and each argument of the sprintf keeps its value until the
// print: a literal, a local assigned once before the sprintf, or a new local set where
// the sprintf was. The runtime cuts a group's text, and a quoted string, where the
// kernel would have cut the string. -u keeps everything as written.
#include <algorithm>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/decode_names.h"
#include "common/printf_format.h"
#include "frontend/ast_walk.h"
#include "semantic/elab.h"

namespace btap::sema {
namespace {

// Where a statement sits: its block and index.
struct Place {
  ast::Block* block = nullptr;
  size_t index = 0;
};

// A printf argument that a plain `%s` prints (no `*` width or precision).
struct PrintUse {
  ast::Call* call;
  size_t arg;  // index into call->args
};

std::string EscapePercent(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

class ProbeFolding {
 public:
  ProbeFolding(Elab& e, Probe* p) : e_(e), p_(p) {}

  void Run() {
    // Each fold changes the tree: look again until nothing folds (bounded, for huge
    // handlers; what is left is merely not folded).
    for (int round = 0; round < 256 && FoldOne(); ++round) {
    }
  }

 private:
  struct Facts {
    std::map<const ast::Stmt*, Place> places;
    std::map<const ast::Block*, const ast::Stmt*> block_stmt;  // a plain block as a statement
    std::map<const Variable*, std::vector<ast::Symbol*>> mentions;
    std::map<Variable*, std::vector<ast::ExprStmt*>> plain_writes;  // `v = ...;`
    std::map<const Variable*, int> writes;                          // every way of writing it
    std::map<const ast::Symbol*, PrintUse> print_uses;
    std::map<const ast::Call*, ast::ExprStmt*> call_stmts;  // a call that is a statement
  };

  void Gather(Facts& f) {
    std::vector<ast::Block*> blocks;
    ast::WalkTree(p_->body, [&](ast::Node* n) {
      if (auto* b = ast::As<ast::Block>(n)) {
        for (size_t i = 0; i < b->statements.size(); ++i) {
          f.places[b->statements[i]] = {b, i};
          if (auto* inner = ast::As<ast::Block>(b->statements[i])) f.block_stmt[inner] = inner;
        }
      }
      if (auto* s = ast::As<ast::Symbol>(n); s && s->var) f.mentions[s->var].push_back(s);
      if (auto* es = ast::As<ast::ExprStmt>(n)) {
        auto* a = ast::As<ast::Assign>(es->expr);
        auto* s = a ? ast::As<ast::Symbol>(a->lhs) : nullptr;
        if (s && s->var && a->op == ast::Tok::Assign) f.plain_writes[s->var].push_back(es);
        if (auto* c = ast::As<ast::Call>(es->expr)) f.call_stmts[c] = es;
      }
      if (auto* a = ast::As<ast::Assign>(n))
        if (auto* s = ast::As<ast::Symbol>(a->lhs); s && s->var) ++f.writes[s->var];
      if (auto* c = ast::As<ast::PreCrement>(n))
        if (auto* s = ast::As<ast::Symbol>(c->operand); s && s->var) ++f.writes[s->var];
      if (auto* c = ast::As<ast::PostCrement>(n))
        if (auto* s = ast::As<ast::Symbol>(c->operand); s && s->var) ++f.writes[s->var];
      // `delete v` and `catch (v)` write v where no assignment shows it.
      if (auto* d = ast::As<ast::Delete>(n))
        if (auto* s = ast::As<ast::Symbol>(d->target); s && s->var) f.writes[s->var] += 2;
      if (auto* t = ast::As<ast::TryCatch>(n); t && t->error_sym) f.writes[t->error_sym] += 2;
      if (auto* l = ast::As<ast::Foreach>(n)) {
        if (l->value && l->value->var) f.writes[l->value->var] += 2;
        for (ast::Symbol* k : l->keys)
          if (k && k->var) f.writes[k->var] += 2;
      }
      if (auto* c = ast::As<ast::Call>(n)) PrintUses(c, f);
    });
    // The condition's reads are not the body's to fold.
    ast::WalkTree(p_->condition, [&](ast::Node* n) {
      if (auto* s = ast::As<ast::Symbol>(n); s && s->var) f.mentions[s->var].push_back(s);
    });
  }

  static void PrintUses(ast::Call* c, Facts& f) {
    if (c->callee || c->name != "printf" || c->args.empty()) return;
    auto* format = ast::As<ast::StringLit>(c->args[0]);
    std::vector<FormatDirective> directives;
    std::string error;
    size_t offset = 0;
    // Groups are what earlier folds wrote (a script's format has none: pass 2 refused it).
    if (!format || !ParseFormat(format->value, directives, &error, &offset, /*internal=*/true))
      return;
    size_t next = 1;
    for (const FormatDirective& d : directives) {
      if (d.literal || d.group != FormatDirective::Group::None) continue;
      if (d.width == -2) ++next;
      if (d.precision == -2) ++next;
      size_t arg = next++;
      if (arg >= c->args.size()) return;
      auto* s = ast::As<ast::Symbol>(c->args[arg]);
      if (s && d.conversion == 's' && d.width != -2 && d.precision != -2 &&
          d.symbolic == Symbolic::None && d.rendering == FormatDirective::Rendering::AsIs)
        f.print_uses[s] = {c, arg};
    }
  }

  // Whether `stmt` has run whenever `node` runs: `node` lies in a later statement of
  // stmt's block, or of a plain block that holds it (at any depth).
  bool RunsBefore(const Facts& f, const ast::Stmt* stmt, const ast::Node* node) {
    for (const ast::Stmt* at = stmt;;) {
      auto place = f.places.find(at);
      if (place == f.places.end()) return false;
      ast::Block* block = place->second.block;
      for (size_t j = place->second.index + 1; j < block->statements.size(); ++j) {
        bool inside = false;
        ast::WalkTree(block->statements[j], [&](ast::Node* n) { inside |= n == node; });
        if (inside) return true;
      }
      auto outer = f.block_stmt.find(block);
      if (outer == f.block_stmt.end()) return false;
      at = outer->second;
    }
  }

  // A local written once, by a plain assignment that has run by `before`.
  bool Settled(const Facts& f, Variable* v, const ast::Stmt* before) {
    if (v->kind != VarKind::Local) return false;
    auto writes = f.writes.find(v);
    auto plain = f.plain_writes.find(v);
    if (writes == f.writes.end() || writes->second != 1 || plain == f.plain_writes.end())
      return false;
    return RunsBefore(f, plain->second.front(), before);
  }

  bool FoldOne() {
    Facts f;
    Gather(f);
    for (auto& [var, writes] : f.plain_writes) {
      if (var->kind != VarKind::Local || var->type != Type::String || writes.size() != 1 ||
          f.writes[var] != 1)
        continue;
      ast::ExprStmt* def = writes.front();
      auto* rhs = static_cast<ast::Assign*>(def->expr)->rhs;
      auto* text = ast::As<ast::StringLit>(rhs);
      auto* made = ast::As<ast::Call>(rhs);
      bool sprintf = made && !made->callee && made->name == "sprintf" && !made->args.empty() &&
                     ast::Is<ast::StringLit>(made->args[0]);
      auto tapset = [&](std::string_view name, size_t arity) {
        return made && made->callee && made->callee->from_tapset && made->callee->name == name &&
               made->args.size() == arity;
      };
      bool quoting = tapset("user_string_quoted", 1), vector = tapset("__get_argv", 2);
      std::string decode;  // the spec of `%{decode:SPEC}d`, for a decoder's call
      ast::Expr* number = nullptr;
      if (made && made->callee && made->callee->from_tapset && !quoting && !vector)
        number = Decoder(made, &decode);
      auto* choice = ast::As<ast::Ternary>(rhs);
      if (choice && !(Formatted(choice->then) && Formatted(choice->otherwise))) choice = nullptr;
      if (!text && !sprintf && !quoting && !vector && !number && !choice) continue;
      if (text && text->value.find('\0') != std::string_view::npos) continue;
      std::vector<PrintUse> uses;
      bool all = true;
      for (ast::Symbol* s : f.mentions[var]) {
        if (s == static_cast<ast::Assign*>(def->expr)->lhs) continue;
        auto use = f.print_uses.find(s);
        if (use == f.print_uses.end() || !RunsBefore(f, def, use->second.call)) {
          all = false;
          break;
        }
        uses.push_back(use->second);
      }
      if (!all || uses.empty()) continue;
      if (quoting  ? Quote(def, uses)
          : vector ? ArgList(f, var, def, uses)
          : number ? Decode(f, var, def, uses, number, decode)
          : choice ? Choose(f, var, def, uses, choice)
                   : Fold(f, var, def, uses))
        return true;
    }
    return false;
  }

  ast::Symbol* Read(Variable* v, SourceRange at) {
    auto* s = e_.arena.New<ast::Symbol>();
    s->kind = ast::Kind::Symbol;
    s->range = at;
    s->name = v->name;
    s->var = v;
    s->type = v->type;
    return s;
  }

  // A new local `name` set to `a` (the setting is added to `sets`), and a reading of it.
  ast::Symbol* Temp(const std::string& name, ast::Expr* a, std::vector<ast::Stmt*>& sets) {
    Variable* t = e_.program.NewVariable();
    t->name = e_.arena.Copy(name);
    t->kind = VarKind::Local;
    t->type = a->type;
    t->arity = 0;
    t->decl = a->range;
    t->file = p_->file;
    t->written = t->read = t->used = true;
    p_->locals.push_back(t);
    auto* assign = e_.arena.New<ast::Assign>();
    assign->kind = ast::Kind::Assign;
    assign->range = a->range;
    assign->op = ast::Tok::Assign;
    assign->lhs = Read(t, a->range);
    assign->rhs = a;
    assign->type = a->type;
    auto* set = e_.arena.New<ast::ExprStmt>();
    set->kind = ast::Kind::ExprStmt;
    set->range = a->range;
    set->expr = assign;
    sets.push_back(set);
    return Read(t, a->range);
  }

  // Values readable at every print: literals, settled locals, or new locals set where
  // `def` was (their settings are added to `sets`).
  bool Readable(const Facts& f, Variable* var, ast::ExprStmt* def, std::span<ast::Expr*> values,
                std::vector<ast::Expr*>& args, std::vector<ast::Stmt*>& sets) {
    for (ast::Expr* a : values) {
      if (a->type != Type::Long && a->type != Type::String) return false;
      auto* s = ast::As<ast::Symbol>(a);
      if (ast::Is<ast::NumberLit>(a) || ast::Is<ast::StringLit>(a) ||
          (s && s->var && Settled(f, s->var, def))) {
        args.push_back(a);
        continue;
      }
      args.push_back(
          Temp("__" + std::string(var->name) + "_" + std::to_string(args.size() + 1), a, sets));
    }
    return true;
  }

  // The assignment `def` of `var` gives way to `sets`.
  void Replace(const Facts& f, Variable* var, ast::ExprStmt* def,
               const std::vector<ast::Stmt*>& sets) {
    Place place = f.places.at(def);
    std::vector<ast::Stmt*> statements(place.block->statements.begin(),
                                       place.block->statements.end());
    statements.erase(statements.begin() + static_cast<ptrdiff_t>(place.index));
    statements.insert(statements.begin() + static_cast<ptrdiff_t>(place.index), sets.begin(),
                      sets.end());
    place.block->statements = e_.arena.Copy(statements);
    std::erase(p_->locals, var);
  }

  // `v = sprintf(FORMAT, ...)` or `v = "text"`: a group of the printf.
  bool Fold(const Facts& f, Variable* var, ast::ExprStmt* def, const std::vector<PrintUse>& uses) {
    auto* rhs = static_cast<ast::Assign*>(def->expr)->rhs;
    std::string inner;             // the group's format
    std::vector<ast::Expr*> args;  // its arguments, each readable at every print
    std::vector<ast::Stmt*> sets;  // what replaces the assignment
    if (auto* text = ast::As<ast::StringLit>(rhs)) {
      inner = EscapePercent(text->value);
    } else {
      auto* made = static_cast<ast::Call*>(rhs);
      inner = std::string(static_cast<ast::StringLit*>(made->args[0])->value);
      if (!Readable(f, var, def, made->args.subspan(1), args, sets)) return false;
    }
    // A short text that a bare `%s` prints joins the format's own text.
    bool plain = ast::Is<ast::StringLit>(rhs) && inner.size() < 16;
    for (auto& [c, printed] : ByCall(uses))
      Splice(c, printed,
             [&](const FormatDirective& d, ast::Expr*, std::string& text,
                 std::vector<ast::Expr*>& out) {
               if (plain && d.text == "%s") {
                 text += inner;
                 return;
               }
               // The directive's flag, width and precision stay, on the group's end.
               text += "%{(}" + inner + std::string(d.text.substr(0, d.text.size() - 1)) + "{)}s";
               for (ast::Expr* a : args) out.push_back(Again(a));
             });
    Replace(f, var, def, sets);
    return true;
  }

  // `v = __get_argv(argv, first)`: each print reads the vector (reading cannot fail,
  // so it may move), and the runtime quotes and joins its strings.
  bool ArgList(const Facts& f, Variable* var, ast::ExprStmt* def,
               const std::vector<PrintUse>& uses) {
    auto* made = static_cast<ast::Call*>(static_cast<ast::Assign*>(def->expr)->rhs);
    Function* raw = e_.FindFunction("__btap_user_argv_raw", p_->file, 2);
    std::vector<ast::Expr*> args;
    std::vector<ast::Stmt*> sets;
    if (!raw || !Readable(f, var, def, made->args, args, sets)) return false;
    for (auto& [c, printed] : ByCall(uses))
      Splice(c, printed,
             [&](const FormatDirective& d, ast::Expr*, std::string& text,
                 std::vector<ast::Expr*>& out) {
               text += std::string(d.text.substr(0, d.text.size() - 1)) + "{argv}s";
               auto* read = e_.arena.New<ast::Call>(*made);
               read->name = raw->name;
               read->callee = raw;
               read->args = e_.arena.Copy(std::vector<ast::Expr*>{Again(args[0]), Again(args[1])});
               out.push_back(read);
             });
    Replace(f, var, def, sets);
    return true;
  }

  // A fresh node for another reading of a group argument (a literal or a local).
  ast::Expr* Again(ast::Expr* a) {
    if (auto* s = ast::As<ast::Symbol>(a)) return Read(s->var, s->range);
    if (auto* n = ast::As<ast::NumberLit>(a)) return e_.arena.New<ast::NumberLit>(*n);
    return e_.arena.New<ast::StringLit>(*static_cast<ast::StringLit*>(a));
  }

  // Rewrites the printf `c`: `change` writes the directive and arguments that replace
  // the directive printing argument `arg` when that is one of `printed`.
  template <typename Change>
  void Splice(ast::Call* c, const std::vector<size_t>& printed, Change&& change) {
    auto* format = static_cast<ast::StringLit*>(c->args[0]);
    std::vector<FormatDirective> directives;
    std::string error;
    size_t offset = 0;
    ParseFormat(format->value, directives, &error, &offset, /*internal=*/true);
    std::string text;
    std::vector<ast::Expr*> out = {nullptr};
    size_t next = 1;
    for (const FormatDirective& d : directives) {
      if (d.literal) {
        text += EscapePercent(d.text);
        continue;
      }
      if (d.group != FormatDirective::Group::None) {
        text += d.text;
        continue;
      }
      size_t count = 1 + (d.width == -2) + (d.precision == -2);
      size_t arg = next + count - 1;
      bool changed = std::find(printed.begin(), printed.end(), arg) != printed.end();
      if (changed) {
        change(d, c->args[arg], text, out);
      } else {
        text += d.text;
        for (size_t k = next; k < next + count && k < c->args.size(); ++k)
          out.push_back(c->args[k]);
      }
      next += count;
    }
    for (size_t k = next; k < c->args.size(); ++k) out.push_back(c->args[k]);
    auto* folded = e_.arena.New<ast::StringLit>(*format);
    folded->value = e_.arena.Copy(text);
    out[0] = folded;
    c->args = e_.arena.Copy(out);
  }

  static std::map<ast::Call*, std::vector<size_t>> ByCall(const std::vector<PrintUse>& uses) {
    std::map<ast::Call*, std::vector<size_t>> by_call;
    for (const PrintUse& use : uses) by_call[use.call].push_back(use.arg);
    return by_call;
  }

  // A sprintf with a literal format.
  static ast::Call* Formatted(ast::Expr* e) {
    auto* c = ast::As<ast::Call>(e);
    return c && !c->callee && c->name == "sprintf" && !c->args.empty() &&
                   ast::Is<ast::StringLit>(c->args[0])
               ? c
               : nullptr;
  }

  // Whether `a` and `b` are the same expression of locals, literals and calls (each
  // evaluated, in the same order, the same way).
  static bool Same(const ast::Expr* a, const ast::Expr* b) {
    if (!a || !b || a->kind != b->kind || a->type != b->type) return false;
    if (auto* x = ast::As<ast::Symbol>(a)) return x->var && x->var == ast::As<ast::Symbol>(b)->var;
    if (auto* x = ast::As<ast::NumberLit>(a)) return x->value == ast::As<ast::NumberLit>(b)->value;
    if (auto* x = ast::As<ast::StringLit>(a)) return x->value == ast::As<ast::StringLit>(b)->value;
    if (auto* x = ast::As<ast::Call>(a)) {
      auto* y = ast::As<ast::Call>(b);
      if (!x->callee || x->callee != y->callee || x->args.size() != y->args.size()) return false;
      for (size_t i = 0; i < x->args.size(); ++i)
        if (!Same(x->args[i], y->args[i])) return false;
      return true;
    }
    if (auto* x = ast::As<ast::Binary>(a)) {
      auto* y = ast::As<ast::Binary>(b);
      return x->op == y->op && Same(x->lhs, y->lhs) && Same(x->rhs, y->rhs);
    }
    return false;
  }

  // `v = c ? sprintf(A, ...) : sprintf(B, ...)` where one sprintf's arguments start with
  // all of the other's, the rest being literals and settled locals (so both evaluate what
  // either did, in its order): the condition is settled where the assignment was, with
  // the longer list's arguments, and each printf (a statement) becomes
  // `if (c) printf(..A..) else printf(..B..)`.
  bool Choose(const Facts& f, Variable* var, ast::ExprStmt* def, const std::vector<PrintUse>& uses,
              ast::Ternary* choice) {
    ast::Call* a = Formatted(choice->then);
    ast::Call* b = Formatted(choice->otherwise);
    std::span<ast::Expr*> av = a->args.subspan(1), bv = b->args.subspan(1);
    std::span<ast::Expr*> longer = av.size() >= bv.size() ? av : bv;
    std::span<ast::Expr*> shorter = av.size() >= bv.size() ? bv : av;
    if (choice->cond->type != Type::Long) return false;
    for (size_t i = 0; i < longer.size(); ++i) {
      if (i < shorter.size()
              ? Same(longer[i], shorter[i])
              : ast::Is<ast::NumberLit>(longer[i]) || ast::Is<ast::StringLit>(longer[i]))
        continue;
      auto* s = ast::As<ast::Symbol>(longer[i]);
      if (i < shorter.size() || !s || !s->var || !Settled(f, s->var, def)) return false;
    }
    // Each printf is a statement of a block (its other arguments that are not literals or
    // variables are set, in their order, into new locals just before the choice).
    auto by_call = ByCall(uses);
    for (auto& [c, printed] : by_call) {
      auto stmt = f.call_stmts.find(c);
      if (stmt == f.call_stmts.end() || !f.places.count(stmt->second)) return false;
      for (size_t k = 1; k < c->args.size(); ++k)
        if (c->args[k]->type != Type::Long && c->args[k]->type != Type::String) return false;
    }
    std::vector<ast::Expr*> args;
    std::vector<ast::Stmt*> sets;
    ast::Expr* cond[] = {choice->cond};
    if (!Readable(f, var, def, cond, args, sets)) return false;
    if (!Readable(f, var, def, longer, args, sets)) return false;
    ast::Expr* test = args[0];
    std::span<ast::Expr*> values = std::span(args).subspan(1);
    auto group = [&](ast::Call* c, const std::vector<size_t>& printed, ast::Call* made) {
      std::string inner(static_cast<ast::StringLit*>(made->args[0])->value);
      size_t count = made->args.size() - 1;
      Splice(c, printed,
             [&](const FormatDirective& d, ast::Expr*, std::string& text,
                 std::vector<ast::Expr*>& out) {
               text += "%{(}" + inner + std::string(d.text.substr(0, d.text.size() - 1)) + "{)}s";
               for (size_t k = 0; k < count; ++k) out.push_back(Again(values[k]));
             });
    };
    for (auto& [c, printed] : by_call) {
      ast::ExprStmt* stmt = f.call_stmts.at(c);
      std::vector<ast::Stmt*> before;
      std::vector<ast::Expr*> kept(c->args.begin(), c->args.end());
      for (size_t k = 1; k < kept.size(); ++k) {
        ast::Expr* arg = kept[k];
        bool ours = std::find(printed.begin(), printed.end(), k) != printed.end();
        if (!ours && !ast::Is<ast::NumberLit>(arg) && !ast::Is<ast::StringLit>(arg) &&
            !(ast::Is<ast::Symbol>(arg) && static_cast<ast::Symbol*>(arg)->var))
          kept[k] = Temp("__" + std::string(var->name) + "_arg" + std::to_string(k), arg, before);
      }
      c->args = e_.arena.Copy(kept);
      auto* other = e_.arena.New<ast::Call>(*c);
      std::vector<ast::Expr*> copied(c->args.begin(), c->args.end());
      for (size_t k = 1; k < copied.size(); ++k) copied[k] = Again(copied[k]);
      other->args = e_.arena.Copy(copied);
      auto* otherwise = e_.arena.New<ast::ExprStmt>(*stmt);
      otherwise->expr = other;
      group(c, printed, a);
      group(other, printed, b);
      auto* branch = e_.arena.New<ast::If>();
      branch->kind = ast::Kind::If;
      branch->range = stmt->range;
      branch->cond = Again(test);
      branch->then = stmt;
      branch->otherwise = otherwise;
      ast::Stmt* choice_stmt = branch;
      if (!before.empty()) {
        before.push_back(branch);
        auto* block = e_.arena.New<ast::Block>();
        block->kind = ast::Kind::Block;
        block->range = stmt->range;
        block->statements = e_.arena.Copy(before);
        choice_stmt = block;
      }
      Place place = f.places.at(stmt);
      std::vector<ast::Stmt*> statements(place.block->statements.begin(),
                                         place.block->statements.end());
      statements[place.index] = choice_stmt;
      place.block->statements = e_.arena.Copy(statements);
    }
    Replace(f, var, def, sets);
    return true;
  }

  // The text of a literal, or of literals joined by `.` (a table over several lines).
  static bool LiteralText(ast::Expr* e, std::string* out) {
    if (auto* lit = ast::As<ast::StringLit>(e)) {
      out->append(lit->value);
      return true;
    }
    auto* join = ast::As<ast::Concat>(e);
    return join && LiteralText(join->lhs, out) && LiteralText(join->rhs, out);
  }

  // `e` with `param`'s one reading replaced by `arg`: a copy, or nullptr when `e` is not
  // made of numbers, that reading and operators that cannot fail.
  ast::Expr* Substitute(ast::Expr* e, const Variable* param, ast::Expr* arg, int* reads) {
    if (auto* n = ast::As<ast::NumberLit>(e)) return e_.arena.New<ast::NumberLit>(*n);
    if (auto* s = ast::As<ast::Symbol>(e)) {
      if (s->var != param || (*reads)++) return nullptr;
      return arg;
    }
    if (auto* u = ast::As<ast::Unary>(e)) {
      ast::Expr* operand = Substitute(u->operand, param, arg, reads);
      if (!operand) return nullptr;
      auto* copy = e_.arena.New<ast::Unary>(*u);
      copy->operand = operand;
      return copy;
    }
    auto* b = ast::As<ast::Binary>(e);
    if (!b || b->op == ast::Tok::Slash || b->op == ast::Tok::Percent) return nullptr;
    ast::Expr* lhs = Substitute(b->lhs, param, arg, reads);
    ast::Expr* rhs = lhs ? Substitute(b->rhs, param, arg, reads) : nullptr;
    if (!rhs) return nullptr;
    auto* copy = e_.arena.New<ast::Binary>(*b);
    copy->lhs = lhs;
    copy->rhs = rhs;
    return copy;
  }

  // When `made` calls a decoder (a tapset function of one number whose body is one
  // return of __btap_flag_names or __btap_value_name with literal options and table):
  // the number it decodes, of the call's argument, and the spec of its `%{decode}d`.
  ast::Expr* Decoder(ast::Call* made, std::string* spec) {
    Function* fn = made->callee;
    if (!fn->decl || !fn->decl->body || fn->params.size() != 1 || made->args.size() != 1 ||
        fn->params[0]->type != Type::Long || made->args[0]->type != Type::Long ||
        fn->decl->body->statements.size() != 1)
      return nullptr;
    auto* ret = ast::As<ast::Return>(fn->decl->body->statements[0]);
    auto* inner = ret && ret->value ? ast::As<ast::Call>(ret->value) : nullptr;
    if (!inner || !inner->callee || inner->callee->intrinsic < 0) return nullptr;
    bool flags = inner->name == "__btap_flag_names";
    if (!flags && inner->name != "__btap_value_name") return nullptr;
    if (inner->args.size() != (flags ? 4u : 3u)) return nullptr;
    auto literal = [&](size_t i) { return ast::As<ast::NumberLit>(inner->args[i]); };
    std::string table;
    const ast::NumberLit* option = literal(flags ? 2 : 1);
    const ast::NumberLit* known = flags ? literal(1) : nullptr;
    if (!option || (flags && !known) || !LiteralText(inner->args.back(), &table) ||
        table.find('}') != std::string::npos)
      return nullptr;
    if (!flags && (option->value < 0 || option->value > 2)) return nullptr;
    uint64_t mode = DecodeMode(flags, option->value);
    // A table that codegen would refuse stays as written (and is refused there).
    std::vector<DecodeEntry> entries;
    std::string why;
    if (!ParseDecodeTable(table, (mode & kDecodeEqual) != 0, &entries, &why)) return nullptr;
    int reads = 0;
    ast::Expr* number = Substitute(inner->args[0], fn->params[0], made->args[0], &reads);
    if (!number || reads != 1) return nullptr;
    *spec = DecodeSpec(mode, flags ? static_cast<uint64_t>(known->value) : 0, table);
    return number;
  }

  // `v = F(a)`, F a decoder: the number is worked out where the call was, and each print
  // names it.
  bool Decode(const Facts& f, Variable* var, ast::ExprStmt* def, const std::vector<PrintUse>& uses,
              ast::Expr* number, const std::string& spec) {
    std::vector<ast::Expr*> args;
    std::vector<ast::Stmt*> sets;
    ast::Expr* values[] = {number};
    if (!Readable(f, var, def, values, args, sets)) return false;
    for (auto& [c, printed] : ByCall(uses))
      Splice(c, printed,
             [&](const FormatDirective& d, ast::Expr*, std::string& text,
                 std::vector<ast::Expr*>& out) {
               text += std::string(d.text.substr(0, d.text.size() - 1)) + "{decode:" + spec + "}d";
               out.push_back(Again(args[0]));
             });
    Replace(f, var, def, sets);
    return true;
  }

  // `v = user_string_quoted(a)`: the kernel reads the string, the printer quotes it.
  bool Quote(ast::ExprStmt* def, const std::vector<PrintUse>& uses) {
    auto* assign = static_cast<ast::Assign*>(def->expr);
    auto* call = static_cast<ast::Call*>(assign->rhs);
    Function* marked = e_.FindFunction("__btap_user_string_marked", p_->file, 1);
    if (!marked) return false;
    auto* read = e_.arena.New<ast::Call>(*call);
    read->name = marked->name;
    read->callee = marked;
    assign->rhs = read;
    for (auto& [c, printed] : ByCall(uses))
      Splice(c, printed,
             [&](const FormatDirective& d, ast::Expr* arg, std::string& text,
                 std::vector<ast::Expr*>& out) {
               text += std::string(d.text.substr(0, d.text.size() - 1)) + "{quoted}s";
               out.push_back(arg);
             });
    return true;
  }

  Elab& e_;
  Probe* p_;
};

}  // namespace

void FoldPrints(Elab& e) {
  if (e.options.keep_unused || e.options.listing) return;
  for (Probe* p : e.program.probes) ProbeFolding(e, p).Run();
}

}  // namespace btap::sema
