// The `$`/`$$` suffixes on kernel values (kernel functions' $vars, BTF raw tracepoints'
// arguments) and `$$parms$`/`$$vars$`/`$$return$` of kernel functions, as stap's pretty
// printer writes them: written out from BTF as a sprintf over member chains, which codegen
// reads as CO-RE accesses like any other `$x->member`.
#include <bpf/btf.h>

#include <functional>

#include "frontend/ast_walk.h"
#include "semantic/elab.h"
#include "semantic/machine/kernel_functions.h"
#include "semantic/program.h"
#include "semantic/target_vars.h"

namespace btap::sema {
namespace {

constexpr size_t kMaxValues = 32;  // values per printed variable, as for user probes
constexpr int kMaxDepth = 8;

class KernelPretty {
 public:
  KernelPretty(Elab& e, const struct btf* btf, SourceRange at) : e_(e), btf_(btf), at_(at) {}
  // Values read through `@cast(operand, ...)` (each a copy of it) instead of `$name`.
  KernelPretty(Elab& e, const struct btf* btf, const ast::Cast* cast)
      : e_(e), btf_(btf), at_(cast->range), cast_(cast) {}

  // Appends `value` (a chain on `base`), of BTF type `type`, to the format.
  void Add(std::string_view base, std::vector<ast::TargetComponent> chain, uint32_t type, int level,
           int depth, bool addressable) {
    const btf_type* t = Peel(&type);
    if (!t) return Literal("?");
    if (values_ >= kMaxValues) return Literal("...");
    if (btf_is_array(t) && IsChar(btf_array(t)->type)) {
      if (!addressable) return Literal("?");
      return Value("%s", "kernel_string_quoted", base, chain);
    }
    if (btf_is_composite(t)) {
      if (level > 0 && depth < 2) return Literal("{...}");
      if (level >= kMaxDepth) return Literal("{...}");
      Literal("{");
      bool first = true;
      Members(base, chain, t, level, depth, &first);
      return Literal("}");
    }
    if (btf_is_array(t)) {
      if ((level > 0 && depth < 2) || !addressable) return Literal("[...]");
      chain.push_back(Index(0));
      Literal("[");
      Add(base, chain, btf_array(t)->type, level + 1, depth, true);
      return Literal(", ...]");
    }
    if (btf_is_ptr(t)) {
      uint32_t target = t->type;
      const btf_type* pointee = Peel(&target);
      if (pointee && IsChar(target)) return Value("%s", "kernel_string_quoted", base, chain);
      if (pointee && btf_is_composite(pointee) && level == 0) {
        // At the top a pointer prints what it points to.
        Literal("{");
        bool first = true;
        Members(base, chain, pointee, level, depth, &first);
        return Literal("}");
      }
      return Value("%p", "", base, chain);
    }
    if (btf_is_int(t)) {
      // stap quotes a char ('a', '\004'); kernel-side `%#c` is not compiled yet, so a
      // char prints as its number, as an int of its signedness would.
      return Value(btf_int_encoding(t) & BTF_INT_SIGNED ? "%d" : "%u", "", base, chain);
    }
    if (btf_is_enum(t) || btf_is_enum64(t)) return Value("%d", "", base, chain);
    return Literal("?");
  }

  ast::Expr* Result() {
    text_->value = e_.arena.Copy(std::string_view(format_));
    if (args_.size() == 1) {  // no value: the text as it is, without format escapes
      std::string plain;
      for (size_t i = 0; i < format_.size(); ++i) plain += format_[i], i += format_[i] == '%';
      text_->value = e_.arena.Copy(std::string_view(plain));
      return text_;
    }
    auto* call = e_.arena.New<ast::Call>();
    call->kind = ast::Call::kKind;
    call->range = at_;
    call->name = "sprintf";
    call->name_range = at_;
    call->args = e_.arena.Copy(args_);
    return call;
  }

  void Literal(std::string_view s) {
    for (char c : s) format_ += c == '%' ? "%%" : std::string(1, c);
  }

 private:
  const btf_type* Peel(uint32_t* type) const {
    *type = StripBtfModifiers(btf_, *type);
    return *type ? btf__type_by_id(btf_, *type) : nullptr;
  }
  bool IsChar(uint32_t type) const {
    const btf_type* t = Peel(&type);
    if (!t || !btf_is_int(t) || t->size != 1) return false;
    // Kernel BTF rarely marks chars (pahole leaves BTF_INT_CHAR off): the name says.
    std::string_view name = btf__name_by_offset(btf_, t->name_off);
    return (btf_int_encoding(t) & BTF_INT_CHAR) || name.find("char") != std::string_view::npos;
  }
  static ast::TargetComponent Member(std::string_view name, SourceRange at) {
    return {ast::TargetComponent::Kind::Member, at, name, nullptr};
  }
  ast::TargetComponent Index(int64_t i) {
    auto* n = e_.arena.New<ast::NumberLit>();
    n->kind = ast::NumberLit::kKind;
    n->range = at_;
    n->value = i;
    return {ast::TargetComponent::Kind::Index, at_, {}, n};
  }

  // `.name=value` for each member; an unnamed struct or union member adds its own.
  void Members(std::string_view base, const std::vector<ast::TargetComponent>& chain,
               const btf_type* record, int level, int depth, bool* first) {
    const btf_member* m = btf_members(record);
    for (uint32_t i = 0; i < btf_vlen(record); ++i) {
      std::string_view name = btf__name_by_offset(btf_, m[i].name_off);
      if (name.empty()) {
        uint32_t type = m[i].type;
        const btf_type* inner = Peel(&type);
        if (inner && btf_is_composite(inner)) Members(base, chain, inner, level, depth, first);
        continue;
      }
      if (values_ >= kMaxValues) return Literal(", ...");
      Literal(std::string(*first ? "" : ", ") + "." + std::string(name) + "=");
      *first = false;
      std::vector<ast::TargetComponent> member = chain;
      member.push_back(Member(e_.arena.Copy(name), at_));
      Add(base, member, m[i].type, level + 1, depth, true);
    }
  }

  // One value: `conversion` of the chain, or of `function(chain)`.
  void Value(std::string_view conversion, std::string_view function, std::string_view base,
             const std::vector<ast::TargetComponent>& chain) {
    ast::TargetBase* sym = nullptr;
    if (cast_) {
      auto* copy = e_.arena.New<ast::Cast>();
      copy->kind = ast::Cast::kKind;
      copy->range = at_;
      copy->operand = ast::CloneAs(e_.arena, cast_->operand);
      copy->type_name = cast_->type_name;
      copy->module = cast_->module;
      copy->has_module = cast_->has_module;
      sym = copy;
    } else {
      auto* named = e_.arena.New<ast::TargetSymbol>();
      named->kind = ast::TargetSymbol::kKind;
      named->range = at_;
      named->name = base;
      sym = named;
    }
    sym->components = e_.arena.Copy(chain);
    ast::Expr* value = sym;
    if (!function.empty()) {
      auto* call = e_.arena.New<ast::Call>();
      call->kind = ast::Call::kKind;
      call->range = at_;
      call->name = function;
      call->name_range = at_;
      call->args = e_.arena.Copy(std::vector<ast::Expr*>{sym});
      value = call;
    }
    format_ += conversion;
    args_.push_back(value);
    ++values_;
  }

  Elab& e_;
  const struct btf* btf_;
  SourceRange at_;
  const ast::Cast* cast_ = nullptr;
  std::string format_;
  ast::StringLit* text_ = [this] {
    auto* s = e_.arena.New<ast::StringLit>();
    s->kind = ast::StringLit::kKind;
    s->range = at_;
    s->value = "";
    return s;
  }();
  std::vector<ast::Expr*> args_ = {text_};
  size_t values_ = 0;
};

}  // namespace

uint32_t KernelTypeNamed(const struct btf* btf, std::string_view name) {
  int32_t kind = -1;
  for (auto [prefix, k] : {std::pair<std::string_view, int32_t>{"struct ", BTF_KIND_STRUCT},
                           {"union ", BTF_KIND_UNION}})
    if (name.starts_with(prefix)) name.remove_prefix(prefix.size()), kind = k;
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  std::string type_name(name);
  int32_t id = -1;
  for (int32_t k : {BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_TYPEDEF})
    if (id < 0 && (kind < 0 || k == kind)) id = btf__find_by_name_kind(btf, type_name.c_str(), k);
  return id > 0 ? static_cast<uint32_t>(id) : 0;
}

std::vector<std::string_view> KernelCastModules(std::string_view module) {
  std::vector<std::string_view> parts;
  for (size_t at = 0; at <= module.size();) {
    size_t end = std::min(module.find(':', at), module.size());
    std::string_view part = module.substr(at, end - at);
    part = part.substr(0, part.find('<'));  // stap's `kernel<linux/sched.h>` spelling
    parts.push_back(part);
    at = end + 1;
  }
  return parts;
}

uint32_t KernelCastType(const KernelFacts& kernel, std::string_view module, std::string_view name,
                        const struct btf** btf) {
  *btf = nullptr;
  for (std::string_view part : KernelCastModules(module)) {
    const struct btf* in = part.empty() || part == "kernel"
                               ? (kernel.btf ? kernel.btf() : nullptr)
                               : (kernel.module_btf ? kernel.module_btf(part) : nullptr);
    if (uint32_t id = in ? KernelTypeNamed(in, name) : 0) {
      *btf = in;
      return id;
    }
  }
  return 0;
}

uint32_t KernelChainType(const struct btf* btf, uint32_t type,
                         std::span<const ast::TargetComponent> chain) {
  for (const ast::TargetComponent& c : chain) {
    type = StripBtfModifiers(btf, type);
    const btf_type* t = type ? btf__type_by_id(btf, type) : nullptr;
    if (!t) return 0;
    if (c.kind == ast::TargetComponent::Kind::Index) {
      if (btf_is_ptr(t))
        type = t->type;
      else if (btf_is_array(t))
        type = btf_array(t)->type;
      else
        return 0;
      continue;
    }
    if (btf_is_ptr(t)) {
      type = StripBtfModifiers(btf, t->type);
      t = type ? btf__type_by_id(btf, type) : nullptr;
    }
    if (!t || !btf_is_composite(t)) return 0;
    std::function<uint32_t(const btf_type*)> find = [&](const btf_type* record) -> uint32_t {
      const btf_member* m = btf_members(record);
      for (uint32_t i = 0; i < btf_vlen(record); ++i) {
        std::string_view name = btf__name_by_offset(btf, m[i].name_off);
        if (name == c.name) return m[i].type;
        if (name.empty()) {
          uint32_t inner = StripBtfModifiers(btf, m[i].type);
          const btf_type* it = inner ? btf__type_by_id(btf, inner) : nullptr;
          if (it && btf_is_composite(it))
            if (uint32_t found = find(it)) return found;
        }
      }
      return 0;
    };
    type = find(t);
    if (!type) return 0;
  }
  return type;
}

void KernelPrettyPrint(Elab& e, Probe& p) {
  std::vector<ast::TargetSymbol*> pretty;
  ast::WalkTree(p.body, [&](ast::Node* n) {
    auto* t = ast::As<ast::TargetSymbol>(n);
    if (t && !t->lowered && !t->components.empty() &&
        t->components.back().kind == ast::TargetComponent::Kind::PrettyPrint)
      pretty.push_back(t);
  });
  const struct btf* vmlinux = e.machine.kernel_btf().get();
  for (ast::TargetSymbol* t : pretty) {
    int depth = t->components.back().name == "$$" ? 2 : 1;
    std::span<const ast::TargetComponent> chain = t->components.first(t->components.size() - 1);
    std::string_view name = t->name;
    bool all = name == "$$parms" || name == "$$vars" || name == "$$return";
    if (all && !chain.empty()) continue;  // an error of its own later
    std::vector<const TargetArg*> args;
    for (const TargetArg& a : p.spec.args) {
      if (a.name[0] == '@') continue;  // an @var's (kernel_dwarf_vars.cpp)
      bool is_return = a.name == "return";
      if (all ? (name == "$$return") == is_return : "$" + a.name == name) args.push_back(&a);
    }
    if (args.empty()) {
      // A function without parameters, or a void one's `$$return`: nothing to print, as
      // in stap (para-callgraph-verbose.stp prints `$$parms$$` of every function).
      if (all && p.spec.has_target_vars) t->lowered = KernelPretty(e, vmlinux, t->range).Result();
      continue;
    }
    const struct btf* btf = args[0]->btf ? args[0]->btf : vmlinux;
    if (!btf) continue;
    KernelPretty out(e, btf, t->range);
    for (const TargetArg* a : args) {
      if (all) out.Literal(std::string(a == args[0] ? "" : " ") + a->name + "=");
      uint32_t type = a->btf_type ? KernelChainType(btf, a->btf_type, chain) : 0;
      if (!type) {
        out.Literal("?");
        continue;
      }
      std::string base = "$" + a->name;
      std::vector<ast::TargetComponent> prefix(chain.begin(), chain.end());
      out.Add(e.arena.Copy(std::string_view(base)), prefix, type, 0, depth, !chain.empty());
    }
    t->lowered = out.Result();
  }
}

void KernelCastPrettyPrint(Elab& e, Probe& p) {
  std::vector<ast::Cast*> pretty;
  ast::WalkTree(p.body, [&](ast::Node* n) {
    auto* c = ast::As<ast::Cast>(n);
    if (c && !c->lowered && !c->components.empty() &&
        c->components.back().kind == ast::TargetComponent::Kind::PrettyPrint &&
        (c->module.empty() || c->module.starts_with("kernel")))
      pretty.push_back(c);
  });
  for (ast::Cast* c : pretty) {
    const struct btf* btf = nullptr;
    uint32_t type = KernelCastType(e.program.kernel, c->module, c->type_name, &btf);
    // An unknown type or member is codegen's error, with what the kernel has.
    if (!type) continue;
    std::span<const ast::TargetComponent> chain = c->components.first(c->components.size() - 1);
    if (!chain.empty()) type = KernelChainType(btf, type, chain);
    if (!type) continue;
    int depth = c->components.back().name == "$$" ? 2 : 1;
    // Each printed value reads through its own copy of the operand.
    bool modifies = false;
    ast::WalkTree(c->operand, [&](ast::Node* n) {
      modifies |=
          ast::Is<ast::Assign>(n) || ast::Is<ast::PreCrement>(n) || ast::Is<ast::PostCrement>(n);
    });
    if (modifies) {
      e.diags.Report(Diag::PrettyCastModifies, c->range, {std::string(c->components.back().name)});
      continue;
    }
    KernelPretty out(e, btf, c);
    std::vector<ast::TargetComponent> prefix(chain.begin(), chain.end());
    // `@cast(p, "T")$` is what p points to, as a `->member` chain is what it names.
    out.Add({}, prefix, type, 0, depth, !chain.empty());
    c->lowered = out.Result();
  }
}

}  // namespace btap::sema
