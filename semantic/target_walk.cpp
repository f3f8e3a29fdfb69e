// Pass 2b's walk over user-space probes: resolves each target expression's base ($var,
// $return, $argN of SDT marks, @var, @cast), applies ->field, [i], & and the `$`/`$$`
// suffixes, writes `$$parms`/`$$locals`/`$$vars`/`$$return`, and settles `@defined`.
#include <dwarf.h>

#include <functional>

#include "frontend/ast_walk.h"
#include "semantic/elab.h"
#include "semantic/machine/header_types.h"
#include "semantic/machine/user_binary.h"
#include "semantic/suggest.h"
#include "semantic/target_vars.h"

namespace btap::sema {
namespace {

using ast::Tok;

ast::TargetBase* TargetOf(ast::Node* n) {
  if (!n) return nullptr;
  switch (n->kind) {
    case ast::Kind::TargetSymbol:
    case ast::Kind::Cast:
    case ast::Kind::AtVar:
    case ast::Kind::Autocast:
      return static_cast<ast::TargetBase*>(n);
    default:
      return nullptr;
  }
}

// printf text with its arguments, built piece by piece.
struct Format {
  std::string text;
  std::vector<ast::Expr*> args;
  void Literal(std::string_view s) {
    for (char c : s) text += c == '%' ? std::string("%%") : std::string(1, c);
  }
};

// How deep a `$` suffix prints: 0 for `$$parms` itself (numbers in hex, records elided),
// 1 for `$` (one level of records), 2 for `$$` (records inside records too).
constexpr int kMaxPrettyDepth = 6;

}  // namespace

// `sprintf(text, args...)`, or the literal when there is nothing to format.
ast::Expr* TargetLowering::Sprintf(const std::string& text, const std::vector<ast::Expr*>& args) {
  if (args.empty()) return Str(text);
  std::vector<ast::Expr*> call{Str(text)};
  call.insert(call.end(), args.begin(), args.end());
  return CallFn("sprintf", call);
}

ast::Expr* TargetLowering::Entry(ast::Expr* value) {
  auto* e = Node<ast::Entry>();
  e->operand = value;
  e->depth = value->depth + 1;
  return e;
}

std::optional<bool> Settled(const ast::Expr* e, bool here) {
  if (auto* d = ast::As<ast::Defined>(e)) {
    if (d->known == 0) return false;
    if (d->known == 1 && here) return true;
    // A variable itself (no member chain) is there or not whatever kernel loads it; so is
    // its value at the entry (`@entry($sk)`).
    const ast::Expr* operand = d->operand;
    while (auto* entry = ast::As<ast::Entry>(operand)) operand = entry->operand;
    auto* t = ast::As<ast::TargetSymbol>(operand);
    if (d->known == 1 && t && t->components.empty()) return true;
    return std::nullopt;
  }
  if (auto* u = ast::As<ast::Unary>(e); u && u->op == Tok::Bang) {
    std::optional<bool> inner = Settled(u->operand, here);
    if (inner) return !*inner;
    return std::nullopt;
  }
  if (auto* x = ast::As<ast::Logical>(e)) {
    std::optional<bool> l = Settled(x->lhs, here), r = Settled(x->rhs, here);
    bool is_and = x->op == Tok::AndAnd;
    // As codegen decides it (KnownCondition): the left side alone, or both.
    if (l && *l != is_and) return !is_and;  // false && ..., true || ...
    if (l && r) return *r;
  }
  return std::nullopt;
}

void TargetLowering::Run() {
  std::function<void(ast::Node*)> walk = [&](ast::Node* n) {
    if (!n) return;
    if (auto* d = ast::As<ast::Defined>(n)) {
      ast::Node* operand = d->operand;  // `@defined(@entry($x))` asks about $x
      while (auto* entry = ast::As<ast::Entry>(operand)) operand = entry->operand;
      if (ast::TargetBase* t = TargetOf(operand); t && Handles(t)) {
        d->known = Lower(t, true) ? 1 : 0;
        return;
      }
    }
    // `@defined($x) ? $x : $y` (stap's @choose_defined) and `if (@defined($x))`: what the
    // condition rules out is never compiled, so its target variables need not exist.
    // A branch that only this kernel's @defined of a member chain rules out is lowered
    // quietly: codegen compiles it (for the loading kernel to decide) only if it lowered.
    auto branch = [&](ast::Node* b, bool dead, bool dead_here) {
      if (dead) return;
      quiet_ += dead_here;
      walk(b);
      quiet_ -= dead_here;
    };
    auto branches = [&](ast::Expr* cond, ast::Node* then, ast::Node* otherwise) {
      walk(cond);
      std::optional<bool> settled = Settled(cond), here = Settled(cond, true);
      branch(then, settled && !*settled, here && !*here);
      branch(otherwise, settled && *settled, here && *here);
    };
    if (auto* t = ast::As<ast::Ternary>(n)) return branches(t->cond, t->then, t->otherwise);
    // `@defined($x) && $x`: the right side is not evaluated when the left decides.
    if (auto* x = ast::As<ast::Logical>(n)) {
      walk(x->lhs);
      bool is_and = x->op == Tok::AndAnd;
      std::optional<bool> l = Settled(x->lhs), here = Settled(x->lhs, true);
      branch(x->rhs, l && *l != is_and, here && *here != is_and);
      return;
    }
    if (auto* i = ast::As<ast::If>(n)) return branches(i->cond, i->then, i->otherwise);
    if (ast::TargetBase* t = TargetOf(n); t && !t->lowered && Handles(t)) Lower(t, quiet_ > 0);
    ast::ForEachChild(n, walk);
  };
  walk(p_.body);
  walk(p_.condition);
}

bool TargetLowering::Handles(ast::TargetBase* t) const {
  auto* c = ast::As<ast::Cast>(t);
  // A kernel type's `@cast` is codegen's, from BTF (CO-RE), in every probe.
  if (c && c->has_module && c->module.starts_with("kernel")) return false;
  return !headers_only_ || (c && c->has_module && IsUserHeaderModule(c->module));
}

bool TargetLowering::Lower(ast::TargetBase* t, bool quiet) {
  range_ = t->range;
  std::string spelled(
      e_.sm.file(t->range.file).text().substr(t->range.begin, t->range.end - t->range.begin));
  auto fail = [&](const std::string& why) {
    if (!quiet) e_.diags.Report(Diag::TargetVariableError, t->range, {spelled, p_.spec.point, why});
    return false;
  };
  TValue v;
  std::string why;
  bool done = false;
  if (!Base(t, &v, &why, &done)) {
    if (why.empty()) return false;  // reported
    return fail(why);
  }
  if (done) return true;
  ast::Expr* value = nullptr;
  for (const ast::TargetComponent& c : t->components) {
    range_ = SourceRange::Join(t->range, c.range);
    switch (c.kind) {
      case ast::TargetComponent::Kind::Member:
        if (!Member(&v, c.name, &why)) return fail(why);
        break;
      case ast::TargetComponent::Kind::Index:
        // In a return probe the whole expression is read at the entry, where the
        // script's variables do not have their values yet.
        if (p_.spec.is_return && ast::Is<ast::TargetSymbol>(t) &&
            static_cast<ast::TargetSymbol*>(t)->name != "$return" &&
            !ast::Is<ast::NumberLit>(c.index))
          return fail(
              "in a return probe an index must be a number, as the value is read at the "
              "function's entry; use @entry on a variable holding it");
        if (!Index(&v, c.index, &why, ast::Is<ast::Cast>(t) && &c == &t->components.front()))
          return fail(why);
        break;
      case ast::TargetComponent::Kind::PrettyPrint:
        value = Pretty(v, c.name == "$$" ? 2 : 1);
        break;
    }
  }
  range_ = t->range;
  if (t->addressof) {
    if (!v.in_memory || v.bit_size) return fail("it is not in memory, so it has no address");
    value = v.expr;
  } else if (!value) {
    value = Final(v, &why);
    if (!value) return fail(why);
  }
  auto* sym = ast::As<ast::TargetSymbol>(t);
  if (p_.spec.is_return && sym && sym->name != "$return") value = Entry(value);
  t->lowered = value;
  return true;
}

bool TargetLowering::Base(ast::TargetBase* t, TValue* v, std::string* why, bool* done) {
  const ProbeSpec& spec = p_.spec;
  uint64_t at = spec.is_return ? call_pc_ : pc_;
  auto finish = [&](ast::Expr* value) {
    if (!value) return false;
    bool suffix_only = t->components.size() == 1 &&
                       t->components[0].kind == ast::TargetComponent::Kind::PrettyPrint;
    if ((!t->components.empty() && !suffix_only) || t->addressof) {
      *why = "it is not a C value; `->`, `[` and `&` do not apply";
      return false;
    }
    t->lowered = value;
    *done = true;
    return true;
  };
  if (auto* cast = ast::As<ast::Cast>(t)) {
    DebugInfo* d = nullptr;
    std::string where_name;
    if (cast->has_module && IsHeaderModule(cast->module)) {
      // stap compiles the headers for their types; so does btap (with Clang, in process).
      std::vector<std::string> headers;
      if (!HeaderList(cast->module, &headers, why)) return false;
      d = e_.machine.header_types().Get(headers, why);
      if (!d) return false;
      where_name = "`" + std::string(cast->module) + "`";
    } else {
      UserBinary* where = &bin_;
      if (cast->has_module && !cast->module.empty()) {
        where = &e_.machine.binaries().Get(FindProgram(cast->module));
        if (!where->elf()) {
          *why = where->error();
          return false;
        }
      }
      d = where->dwarf();
      if (!d) {
        *why = where->dwarf_error();
        return false;
      }
      where_name = "the debug information of `" + where->path() + "`";
    }
    std::optional<Dwarf_Die> type = d->Type(cast->type_name);
    // A bare name may be a struct, union or enum tag (stap looks in that order).
    for (const char* tag : {"struct ", "union ", "enum "})
      if (!type && cast->type_name.find(' ') == std::string_view::npos)
        type = d->Type(tag + std::string(cast->type_name));
    if (!type) {
      *why = "no type `" + std::string(cast->type_name) + "` in " + where_name;
      return false;
    }
    v->type = *type;
    v->typed = true;
    v->in_memory = true;
    v->expr = cast->operand;
    return true;
  }
  if (ast::Is<ast::Autocast>(t)) {
    *why = "the value has no C type here; give it one with @cast(value, \"type\")";
    return false;
  }
  if (!dwarf_ && spec.family != Family::ProcessMark && !spec.plt) {
    *why = "no debug information: " + bin_.dwarf_error();
    return false;
  }
  if (auto* var = ast::As<ast::AtVar>(t)) {
    std::string_view name = var->target_name, cu;
    if (size_t at_sign = name.find('@'); at_sign != std::string_view::npos) {
      cu = name.substr(at_sign + 1);
      name = name.substr(0, at_sign);
    }
    UserBinary* where = &bin_;
    if (var->has_module && !var->module.empty())
      where = &e_.machine.binaries().Get(FindProgram(var->module));
    DebugInfo* d = where->dwarf();
    if (!d) {
      *why = where->elf() ? where->dwarf_error() : where->error();
      return false;
    }
    std::optional<Dwarf_Die> die = d->Global(name, cu);
    if (!die) {
      *why = "no global variable `" + std::string(name) + "`" +
             (cu.empty() ? "" : " in `" + std::string(cu) + "`") + " in `" + where->path() + "`";
      return false;
    }
    if (where != &bin_) {
      *why = "variables of another program or library are not readable from this probe";
      return false;
    }
    return FromVariable({std::string(name), *die, false, true}, at, v, why);
  }
  auto* sym = static_cast<ast::TargetSymbol*>(t);
  std::string_view name = sym->name;
  bool deep_suffix = !t->components.empty() &&
                     t->components.back().kind == ast::TargetComponent::Kind::PrettyPrint;
  int depth = deep_suffix ? (t->components.back().name == "$$" ? 2 : 1) : 0;
  if (spec.plt) {
    if (name == "$$name") return finish(Str(spec.function));
    *why = "PLT probes have only $$name (a stub has no debug information)";
    return false;
  }
  if (spec.python) {
    // The strings HelperSDT passed: stap's python tapset writes them the same way.
    int arg = name == "$$parms" ? 7 : name == "$$locals" ? 8 : name == "$$vars" ? 9 : 0;
    if ((name == "$$return" || name == "$return") &&
        spec.sdt_name.find("_return") != std::string::npos)
      arg = 10;
    if (arg) {
      ast::Expr* a = MarkArg(arg, why);
      return a && finish(CallFn("user_string", {a}));
    }
    if (name.substr(0, 4) != "$arg") {
      *why =
          "python probes have $$parms, $$locals and $$vars (and $$return in `.return` "
          "probes), as strings";
      return false;
    }
  }
  if (spec.family == Family::ProcessMark) {
    if (name == "$$name") return finish(Str(spec.sdt_name));
    if (name == "$$provider") return finish(Str(spec.sdt_provider));
    if (name == "$$parms" || name == "$$vars") {
      std::vector<sema::SdtArg> args;
      std::string error;
      ParseSdtArgs(spec.sdt_args, &args, &error);
      Format f;
      for (size_t i = 0; i < args.size(); ++i) {
        ast::Expr* a = MarkArg(static_cast<int>(i + 1), why);
        if (!a) return false;
        f.Literal((i ? " $arg" : "$arg") + std::to_string(i + 1) + "=");
        f.text += "%#x";
        f.args.push_back(a);
      }
      return finish(Sprintf(f.text, f.args));
    }
    if (name.substr(0, 4) == "$arg") {
      int n = 0;
      for (char c : name.substr(4)) n = c >= '0' && c <= '9' && n < 1000 ? n * 10 + (c - '0') : -1;
      if (n > 0) return finish(MarkArg(n, why));
    }
    *why = "SDT probes have $arg1…$argN, $$name, $$provider and $$parms";
    return false;
  }
  if (name == "$$parms" || name == "$$locals" || name == "$$vars" || name == "$$return") {
    if (name == "$$return" && !spec.is_return) {
      *why = "`$$return` is only available in return probes";
      return false;
    }
    return finish(VarsString(name, depth));
  }
  if (!f_) {
    *why = "the probe's function has no debug information";
    return false;
  }
  Dwarf_Die fn;
  if (name == "$return") {
    if (!spec.is_return) {
      *why = "`$return` is only available in return probes (`.return`)";
      return false;
    }
    if (!dwarf_->Die(f_->die, &fn) || !TypeOf(&fn, &v->type)) {
      *why = "function `" + f_->name + "` returns void";
      return false;
    }
    v->typed = true;
    // Records over 16 bytes come back in memory, %rax holding their address.
    Dwarf_Die peeled;
    int tag = PeelType(&v->type, &peeled) ? dwarf_tag(&peeled) : 0;
    bool record =
        tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_class_type;
    v->in_memory = record && TypeSize(&peeled) > 16;
    v->expr = Reg(0);  // %rax
    return true;
  }
  std::vector<DebugVariable> vars = dwarf_->Variables(*f_, at);
  for (const DebugVariable& var : vars)
    if (name.substr(1) == var.name) return FromVariable(var, at, v, why);
  std::vector<std::string> names;
  for (const DebugVariable& var : vars)
    if (!var.global) names.push_back("$" + var.name);
  std::vector<std::string_view> views(names.begin(), names.end());
  std::vector<std::string> similar = Similar(name, views);
  std::string have;
  for (size_t i = 0; i < names.size() && i < 10; ++i) have += (i ? " " : "") + names[i];
  *why = "no parameter, local or global `" + std::string(name.substr(1)) + "` in `" + f_->name +
         "`" + (similar.empty() ? (have.empty() ? "" : "; it has: " + have) : DidYouMean(similar));
  return false;
}

// `$$parms`, `$$locals`, `$$vars`, `$$return`, as stap writes them: `name=VALUE`
// separated by spaces, scope by scope from the innermost, in DIE order. Without a
// suffix scalars print `%#x`, records `{...}` and arrays `[...]` (unread); with `$`/`$$`
// each value is pretty-printed. A variable that cannot be read here prints `?`.
ast::Expr* TargetLowering::VarsString(std::string_view which, int depth) {
  Format f;
  uint64_t at = p_.spec.is_return ? call_pc_ : pc_;
  std::vector<DebugVariable> vars;
  if (f_ && which != "$$return") vars = dwarf_->Variables(*f_, at);
  auto piece = [&](const std::string& name, const TValue* v, bool readable, bool at_entry) {
    f.Literal((f.text.empty() ? "" : " ") + name + "=");
    Dwarf_Die t;
    int tag = v->typed && PeelType(const_cast<Dwarf_Die*>(&v->type), &t) ? dwarf_tag(&t) : 0;
    if (depth == 0 && (tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
                       tag == DW_TAG_class_type || tag == DW_TAG_array_type)) {
      f.Literal(tag == DW_TAG_array_type ? "[...]" : "{...}");
      return;
    }
    std::string why;
    ast::Expr* value = !readable ? nullptr : depth == 0 ? Scalar(*v, &why) : Pretty(*v, depth);
    if (!value) {
      f.Literal("?");
      return;
    }
    f.text += depth == 0 ? "%#x" : "%s";
    f.args.push_back(at_entry ? Entry(value) : value);
  };
  for (const DebugVariable& var : vars) {
    if (var.global) continue;
    if (which == "$$parms" && !var.parameter) continue;
    if (which == "$$locals" && var.parameter) continue;
    TValue v;
    std::string why;
    bool readable = FromVariable(var, at, &v, &why);
    if (!readable) {
      Dwarf_Die die = var.die;
      v.typed = TypeOf(&die, &v.type);
    }
    piece(var.name, &v, readable, p_.spec.is_return);
  }
  if (p_.spec.is_return && (which == "$$return" || which == "$$vars") && f_) {
    Dwarf_Die fn;
    TValue v;
    if (dwarf_->Die(f_->die, &fn) && TypeOf(&fn, &v.type)) {
      v.typed = true;
      v.in_memory = false;
      v.expr = Reg(0);
      piece("return", &v, true, false);
    }
  }
  return Sprintf(f.text, f.args);
}

namespace {

enum class ScalarKindOf { Signed, Unsigned, Char, Float, Pointer, Other };

ScalarKindOf ScalarKind(Dwarf_Die* t) {
  int tag = dwarf_tag(t);
  if (tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type) return ScalarKindOf::Pointer;
  Dwarf_Die base = *t;
  if (tag == DW_TAG_enumeration_type) {
    Dwarf_Die under;
    if (!TypeOf(t, &under) || !PeelType(&under, &base)) return ScalarKindOf::Signed;
  } else if (tag != DW_TAG_base_type) {
    return ScalarKindOf::Other;
  }
  Dwarf_Attribute a;
  Dwarf_Word enc = 0;
  dwarf_formudata(dwarf_attr(&base, DW_AT_encoding, &a), &enc);
  switch (enc) {
    case DW_ATE_unsigned:
      return ScalarKindOf::Unsigned;
    case DW_ATE_signed_char:
    case DW_ATE_unsigned_char:
    case DW_ATE_UTF:
      return ScalarKindOf::Char;
    case DW_ATE_float:
    case DW_ATE_complex_float:
      return ScalarKindOf::Float;
    default:
      return ScalarKindOf::Signed;
  }
}

}  // namespace

// One value with a `$` (depth 1) or `$$` (depth 2) suffix, as stap's pretty printer
// writes it: signed numbers %d, unsigned %u, chars quoted, char pointers and arrays as
// quoted strings, records {.a=1, .b=2} (nested ones {...} under `$`), other arrays as
// their first element `[1, ...]`, pointers %p below the top (at the top, a pointer
// prints what it points to). At most 32 values per variable.
ast::Expr* TargetLowering::Pretty(const TValue& v, int depth) {
  constexpr size_t kMaxArgs = 32;
  std::function<void(const TValue&, int, Format&)> add = [&](const TValue& val, int level,
                                                             Format& f) {
    Dwarf_Die t;
    if (!val.typed || !PeelType(const_cast<Dwarf_Die*>(&val.type), &t)) {
      f.Literal(val.typed ? "?" : "?");
      return;
    }
    int tag = dwarf_tag(&t);
    std::string ignored;
    if (f.args.size() >= kMaxArgs) {
      f.Literal("...");
      return;
    }
    int64_t length = 0;
    if (IsCharArray(val, &length)) {
      if (!val.in_memory) return f.Literal("?");
      f.text += "%s";
      f.args.push_back(CallFn("user_string_quoted", {val.expr}));
      return;
    }
    if (tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_class_type) {
      if (level > 0 && depth < 2) return f.Literal("{...}");
      if (level >= kMaxPrettyDepth) return f.Literal("{...}");
      f.Literal("{");
      bool first = true;
      ForEachChildDie(&t, [&](Dwarf_Die* c) {
        const char* n = dwarf_tag(c) == DW_TAG_member && !dwarf_hasattr(c, DW_AT_declaration)
                            ? dwarf_diename(c)
                            : nullptr;
        if (!n) return true;
        if (f.args.size() >= kMaxArgs) {
          f.Literal(", ...");
          return false;
        }
        TValue m = val;
        f.Literal(std::string(first ? "" : ", ") + "." + n + "=");
        first = false;
        if (Member(&m, n, &ignored))
          add(m, level + 1, f);
        else
          f.Literal("?");
        return true;
      });
      f.Literal("}");
      return;
    }
    if (tag == DW_TAG_array_type) {
      if ((level > 0 && depth < 2) || !val.in_memory) return f.Literal("[...]");
      TValue e = val;
      f.Literal("[");
      if (Index(&e, Num(0), &ignored))
        add(e, level + 1, f);
      else
        f.Literal("?");
      f.Literal(", ...]");
      return;
    }
    if (tag == DW_TAG_subroutine_type) return f.Literal("<function>");
    ScalarKindOf kind = ScalarKind(&t);
    if (kind == ScalarKindOf::Float || kind == ScalarKindOf::Other) return f.Literal("?");
    ast::Expr* value = Scalar(val, &ignored);
    if (!value) return f.Literal("?");
    if (kind == ScalarKindOf::Pointer) {
      Dwarf_Die pointee;
      bool typed = TypeOf(&t, &pointee) && PeelType(&pointee, &pointee);
      if (typed && ScalarKind(&pointee) == ScalarKindOf::Char && TypeSize(&pointee) == 1) {
        f.text += "%s";
        f.args.push_back(CallFn("user_string_quoted", {value}));
        return;
      }
      if (typed && level == 0 && dwarf_tag(&pointee) != DW_TAG_subroutine_type) {
        // At the top a pointer prints its target: a record's members, or (stap's quirk)
        // a scalar's format applied to the pointer itself.
        Dwarf_Die declared;
        TypeOf(&t, &declared);
        int ptag = dwarf_tag(&pointee);
        if (ptag == DW_TAG_structure_type || ptag == DW_TAG_union_type ||
            ptag == DW_TAG_class_type) {
          TValue target;
          target.type = declared;
          target.typed = true;
          target.in_memory = true;
          target.expr = value;
          return add(target, level, f);
        }
        ScalarKindOf pk = ScalarKind(&pointee);
        if (pk == ScalarKindOf::Signed || pk == ScalarKindOf::Unsigned) {
          f.text += pk == ScalarKindOf::Signed ? "%d" : "%u";
          f.args.push_back(value);
          return;
        }
      }
      f.text += "%#x";
      f.args.push_back(value);
      return;
    }
    if (kind == ScalarKindOf::Char) {
      // '%#c' (the tapset writes it: the value is read once, as its argument).
      f.text += "%s";
      f.args.push_back(CallFn("_char_quoted", {value}));
      return;
    }
    f.text += v.bit_size || kind == ScalarKindOf::Signed
                  ? (kind == ScalarKindOf::Unsigned ? "%u" : "%d")
                  : "%u";
    f.args.push_back(value);
  };
  Format f;
  add(v, 0, f);
  return Sprintf(f.text, f.args);
}

// $argN of an SDT mark, from the note's operand: a register, memory or a constant.
ast::Expr* TargetLowering::MarkArg(int n, std::string* why) {
  std::vector<sema::SdtArg> args;
  std::string error;
  if (!ParseSdtArgs(p_.spec.sdt_args, &args, &error)) {
    *why = "its SDT note's arguments are unreadable: " + error;
    return nullptr;
  }
  if (n < 1 || static_cast<size_t>(n) > args.size()) {
    *why =
        "the mark has " + std::to_string(args.size()) + " argument" + (args.size() == 1 ? "" : "s");
    return nullptr;
  }
  const sema::SdtArg& a = args[n - 1];
  switch (a.kind) {
    case sema::SdtArg::Kind::Constant:
      return Num(a.value);
    case sema::SdtArg::Kind::Register: {
      ast::Expr* r = Reg(a.reg);
      if (a.high_byte) r = Bin(Tok::UShr, r, Num(8));
      int bits = std::min(a.reg_bytes, a.size) * 8;
      if (a.high_byte) bits = 8;
      return Extend(r, bits, a.is_signed);
    }
    case sema::SdtArg::Kind::Memory: {
      ast::Expr* address = Num(a.value);
      if (!a.symbol.empty()) {
        std::optional<uint64_t> s = bin_.elf()->SymbolAddress(a.symbol);
        if (!s) {
          *why = "its operand names the symbol `" + a.symbol + "`, which is not in `" +
                 bin_.path() + "`";
          return nullptr;
        }
        address = Bin(Tok::Plus, Bin(Tok::Plus, Bias(), Num(static_cast<int64_t>(*s))), address);
        if (a.reg >= 0 && a.reg != 16) address = Bin(Tok::Plus, address, Reg(a.reg));  // not %rip
      } else if (a.reg >= 0) {
        address = Bin(Tok::Plus, Reg(a.reg), address);
      }
      if (a.index_reg >= 0)
        address = Bin(Tok::Plus, address, Bin(Tok::Star, Reg(a.index_reg), Num(a.scale)));
      return Load(address, a.size, a.is_signed);
    }
  }
  return nullptr;
}

namespace {

// Kernel-function return probes read their parameters as stap does, implicitly at the
// entry: `$count` there is `@entry($count)`, kept by a kprobe on the function's entry.
void KernelReturnParameters(Elab& e, Probe& p) {
  std::vector<ast::TargetSymbol*> parameters;  // found first: lowering adds to the tree
  ast::WalkTree(p.body, [&](ast::Node* n) {
    auto* t = ast::As<ast::TargetSymbol>(n);
    if (!t || t->lowered || t->name == "$return") return;
    std::string_view name = t->name.substr(t->name[0] == '$' ? 1 : 0);
    for (const TargetArg& a : p.spec.args)
      if (a.name == name && a.name != "return") {
        parameters.push_back(t);
        return;
      }
  });
  for (ast::TargetSymbol* t : parameters) {
    auto* entry = e.arena.New<ast::Entry>();
    entry->kind = ast::Entry::kKind;
    entry->range = t->range;
    entry->operand = ast::CloneAs(e.arena, t);
    entry->depth = t->depth + 1;
    t->lowered = entry;
  }
}

// `$$parms`, `$$vars` and `$$return` of kernel functions, as stap writes them without
// debuginfo locals: `name=0x1f` for each parameter (and `return=...`), space-separated.
// A tracepoint's `$$parms` and `$$vars` are its arguments, or its tracefs record's fields
// (an array or string field, which has no number to print, as `name=?`).
void KernelVarStrings(Elab& e, Probe& p) {
  bool tracepoint = p.spec.family == Family::Tracepoint || p.spec.family == Family::Lsm;
  std::vector<ast::TargetSymbol*> strings;
  ast::WalkTree(p.body, [&](ast::Node* n) {
    auto* t = ast::As<ast::TargetSymbol>(n);
    if (t && !t->lowered && t->components.empty() &&
        (t->name == "$$parms" || t->name == "$$vars" || (t->name == "$$return" && !tracepoint)))
      strings.push_back(t);
  });
  for (ast::TargetSymbol* t : strings) {
    bool want_return = t->name == "$$return";
    std::string format;
    std::vector<ast::Expr*> args;
    auto* text = e.arena.New<ast::StringLit>();
    text->kind = ast::StringLit::kKind;
    text->range = t->range;
    args.push_back(text);
    for (const TargetArg& a : p.spec.args) {
      if ((a.name == "return") != want_return || a.name[0] == '@') continue;  // not an @var's
      format += std::string(format.empty() ? "" : " ") + a.name;
      if (a.is_array || a.is_dynamic) {
        format += "=?";
        continue;
      }
      format += "=%#x";
      auto* value = e.arena.New<ast::TargetSymbol>();
      value->kind = ast::TargetSymbol::kKind;
      value->range = t->range;
      value->name = e.arena.Copy(std::string_view("$" + a.name));
      args.push_back(value);
    }
    text->value = e.arena.Copy(std::string_view(format));
    if (args.size() == 1) {
      t->lowered = text;
      continue;
    }
    auto* call = e.arena.New<ast::Call>();
    call->kind = ast::Call::kKind;
    call->range = t->range;
    call->name = "sprintf";
    call->name_range = t->range;
    call->args = e.arena.Copy(args);
    call->depth = 2;
    t->lowered = call;
  }
}

}  // namespace

void LowerTargets(Elab& e) {
  for (Probe* p : e.program.probes) {
    if (p->spec.family == Family::KernelFunction)
      KernelDwarfTargets(e, *p);
    else if (!IsUserSpace(p->spec.family))
      KernelAtVars(e, *p);
    if (p->spec.family == Family::KernelFunction || HasSlotArgs(p->spec)) KernelPrettyPrint(e, *p);
    if (!IsUserSpace(p->spec.family)) KernelCastPrettyPrint(e, *p);
    if (p->spec.family == Family::KernelFunction || p->spec.family == Family::Tracepoint ||
        p->spec.family == Family::Lsm)
      KernelVarStrings(e, *p);
    if (p->spec.family == Family::KernelFunction && p->spec.is_return)
      KernelReturnParameters(e, *p);
    if (!IsUserSpace(p->spec.family)) {
      // Types from user headers are read from their compiled DWARF wherever they are cast.
      bool header_cast = false;
      auto find = [&](ast::Node* n) {
        auto* c = ast::As<ast::Cast>(n);
        header_cast = header_cast || (c && c->has_module && IsUserHeaderModule(c->module));
      };
      ast::WalkTree(p->body, find);
      ast::WalkTree(p->condition, find);
      if (header_cast) TargetLowering(e, *p, e.machine.binaries().Get(""), true).Run();
      continue;
    }
    UserBinary& bin = e.machine.binaries().Get(p->spec.target);
    if (!bin.elf()) continue;
    TargetLowering(e, *p, bin).Run();
  }
}

}  // namespace btap::sema
