// The SystemTap AST: one arena-owned tree per file. Every node has a kind and a source
// range; nodes own nothing (children are arena pointers, lists are arena spans).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/source.h"
#include "frontend/token.h"

namespace btap::sema {
struct Variable;
struct Function;
}  // namespace btap::sema

namespace btap::ast {

using frontend::AtWord;
using frontend::Tok;

enum class Kind : uint8_t {
#define EXPR(name) name,
#define STMT(name) name,
#define DECL(name) name,
#include "frontend/ast_nodes.def"
};

struct Node {
  Kind kind;
  uint32_t depth = 1;  // height of the subtree; bounded by the parser
  SourceRange range;
};

// The value type pass 2 infers for an expression (stap's long / string / statistics).
enum class Type : uint8_t { Unknown, Long, String, Stats };

struct Expr : Node {
  Type type = Type::Unknown;  // set by pass 2
};
struct Stmt : Node {};
struct Decl : Node {};

template <typename T>
bool Is(const Node* n) {
  return n && n->kind == T::kKind;
}
template <typename T>
T* As(Node* n) {
  return Is<T>(n) ? static_cast<T*>(n) : nullptr;
}
template <typename T>
const T* As(const Node* n) {
  return Is<T>(n) ? static_cast<const T*>(n) : nullptr;
}

#define BTAP_NODE(name, base) \
  struct name : base {        \
    static constexpr Kind kKind = Kind::name;

enum class TypeAnn : uint8_t { None, Long, String };

// ---- Expressions ----

BTAP_NODE(NumberLit, Expr)
int64_t value = 0;
};
BTAP_NODE(StringLit, Expr)
std::string_view value;  // decoded bytes
}
;
BTAP_NODE(EmbeddedExpr, Expr)
std::string_view code;
}
;
BTAP_NODE(Symbol, Expr)
std::string_view name;
sema::Variable* var = nullptr;  // set by pass 2
}
;
// base[i, j]; a null index is a `*` wildcard (slices, `delete a[*, 1]`).
BTAP_NODE(ArrayIndex, Expr)
Expr* base = nullptr;  // Symbol or HistOp
std::span<Expr*> indexes;
}
;
BTAP_NODE(Call, Expr)
std::string_view name;
SourceRange name_range;
std::span<Expr*> args;
sema::Function* callee = nullptr;  // set by pass 2; null for the print family
}
;
BTAP_NODE(Unary, Expr)  // + - ! ~
Tok op;
Expr* operand = nullptr;
}
;
BTAP_NODE(Binary, Expr)  // + - * / % << >> >>> & | ^
Tok op;
Expr* lhs = nullptr;
Expr* rhs = nullptr;
}
;
BTAP_NODE(Logical, Expr)  // && ||
Tok op;
Expr* lhs = nullptr;
Expr* rhs = nullptr;
}
;
BTAP_NODE(Comparison, Expr)  // < > <= >= == !=
Tok op;
Expr* lhs = nullptr;
Expr* rhs = nullptr;
}
;
BTAP_NODE(Concat, Expr)
Expr* lhs = nullptr;
Expr* rhs = nullptr;
}
;
BTAP_NODE(RegexMatch, Expr)  // =~ !~
Tok op;
Expr* lhs = nullptr;
StringLit* pattern = nullptr;
}
;
BTAP_NODE(Ternary, Expr)
Expr* cond = nullptr;
Expr* then = nullptr;
Expr* otherwise = nullptr;
}
;
BTAP_NODE(Assign, Expr)  // = <<< += -= *= /= %= <<= >>= &= ^= |= .=
Tok op;
Expr* lhs = nullptr;
Expr* rhs = nullptr;
}
;
BTAP_NODE(PreCrement, Expr)
Tok op;
Expr* operand = nullptr;
}
;
BTAP_NODE(PostCrement, Expr)
Tok op;
Expr* operand = nullptr;
}
;
BTAP_NODE(ArrayIn, Expr)
ArrayIndex* index = nullptr;
bool bracketed = false;  // written as [k1, k2] in a
}
;

// Target-variable components: ->field, [index], and a `$`/`$$` pretty-print suffix.
struct TargetComponent {
  enum class Kind : uint8_t { Member, Index, PrettyPrint } kind;
  SourceRange range;
  std::string_view name;  // Member: field; PrettyPrint: "$" or "$$"
  Expr* index = nullptr;
};

struct TargetBase : Expr {
  std::span<TargetComponent> components;
  uint32_t components_capacity = 0;  // arena room behind `components`, for appending
  bool addressof = false;
  // Pass 2 (user-space probes): the same value written with registers, user memory
  // reads and calls, which later passes use instead (walks visit it, not the parts).
  Expr* lowered = nullptr;
};

#define BTAP_TARGET(name)    \
  struct name : TargetBase { \
    static constexpr Kind kKind = Kind::name;

BTAP_TARGET(TargetSymbol)  // $var, $$parms
std::string_view name;
}
;
BTAP_TARGET(Cast)  // @cast(operand, "type"[, "module"])
Expr* operand = nullptr;
std::string_view type_name;
std::string_view module;
bool has_module = false;
}
;
BTAP_TARGET(AtVar)  // @var("name@cu"[, "module"])
std::string_view target_name;
std::string_view module;
bool has_module = false;
}
;
BTAP_TARGET(Autocast)  // expr->field where expr is not a target variable
Expr* operand = nullptr;
}
;
#undef BTAP_TARGET

BTAP_NODE(Defined, Expr)
Expr* operand = nullptr;
int8_t known = -1;  // pass 2: 1 or 0 when it can tell now, -1 when debug info decides
}
;
BTAP_NODE(Entry, Expr)
Expr* operand = nullptr;
}
;
BTAP_NODE(Probewrite, Expr)
std::string_view name;
bool written = false;  // pass 2: does the probe's handler write `name`?
}
;
BTAP_NODE(Const, Expr)
std::string_view value;
}
;
BTAP_NODE(Perf, Expr)
std::string_view counter;
}
;
BTAP_NODE(Register, Expr)  // @kregister(n) / @uregister(n): n is the DWARF register number
bool user = false;
int64_t regno = 0;
bool load_bias = false;  // pass 2: where the probed object was loaded (run-time - link-time)
// pass 2, with load_bias in the kernel: where a module's section was loaded ("MODULE SECTION";
// empty: how far vmlinux moved)
std::string_view module_section;
// pass 2, kernel DWARF: the value register `regno` had when the function whose entry is at
// link-time address `entry_function` was entered (DW_OP_entry_value away from that entry),
// which a probe at the entry saves, keyed by the call's frame address: here register
// `entry_cfa_reg` plus `entry_cfa_offset`.
uint64_t entry_function = 0;
int64_t entry_cfa_reg = 0;
int64_t entry_cfa_offset = 0;
}
;
BTAP_NODE(Deref, Expr)  // @kderef(size, addr) / @uderef(size, addr)
bool user = false;
int64_t size = 0;
bool is_signed = false;  // pass 2's reads of signed C values
Expr* address = nullptr;
}
;
BTAP_NODE(StatOp, Expr)  // @count(x) ... @variance(x[, bucket])
AtWord op;
Expr* operand = nullptr;
std::span<int64_t> params;
}
;
BTAP_NODE(HistOp, Expr)  // @hist_log(x), @hist_linear(x, start, stop, interval)
AtWord op;
Expr* operand = nullptr;
std::span<int64_t> params;
}
;

// ---- Statements ----

BTAP_NODE(Block, Stmt)
std::span<Stmt*> statements;
}
;
BTAP_NODE(TryCatch, Stmt)
Block* body = nullptr;
std::string_view error_var;  // empty when `catch` has no variable
SourceRange error_var_range;
sema::Variable* error_sym = nullptr;  // set by pass 2
Block* handler = nullptr;
}
;
BTAP_NODE(ExprStmt, Stmt)
Expr* expr = nullptr;
}
;
BTAP_NODE(If, Stmt)
Expr* cond = nullptr;
Stmt* then = nullptr;
Stmt* otherwise = nullptr;
}
;
BTAP_NODE(For, Stmt)
Expr* init = nullptr;  // each part may be absent
Expr* cond = nullptr;
Expr* step = nullptr;
Stmt* body = nullptr;
}
;
BTAP_NODE(While, Stmt)
Expr* cond = nullptr;
Stmt* body = nullptr;
}
;
BTAP_NODE(Foreach, Stmt)
Symbol* value = nullptr;  // foreach (v = [k] in a)
std::span<Symbol*> keys;
bool bracketed = false;
Expr* array = nullptr;   // Symbol or HistOp
std::span<Expr*> slice;  // a[k, *]: null entries are wildcards
bool has_slice = false;
int8_t sort_direction = 0;             // +1, -1, or 0 for unsorted
uint8_t sort_column = 0;               // 0: the value; k: the k-th key
AtWord sort_aggregate = AtWord::None;  // foreach (k in a @sum-)
Expr* limit = nullptr;
Stmt* body = nullptr;
}
;
BTAP_NODE(Return, Stmt)
Expr* value = nullptr;
}
;
BTAP_NODE(Delete, Stmt)
Expr* target = nullptr;
}
;
BTAP_NODE(Next, Stmt)
}
;
BTAP_NODE(Break, Stmt)
}
;
BTAP_NODE(Continue, Stmt)
}
;
BTAP_NODE(Null, Stmt)
}
;

// ---- Declarations ----

struct ProbePointComponent {
  std::string_view name;  // may contain `*` wildcards
  SourceRange range;
  Expr* arg = nullptr;  // NumberLit or StringLit, when written with (...)
};

struct ProbePoint {
  SourceRange range;
  std::span<ProbePointComponent> components;
  bool optional = false;    // `?`
  bool sufficient = false;  // `!` (implies optional)
  Expr* condition = nullptr;
};

BTAP_NODE(Probe, Decl)
std::span<ProbePoint*> points;
Block* body = nullptr;
}
;
// probe name = points { prologue } [, { epilogue }]   or   probe name += points { epilogue }
BTAP_NODE(Alias, Decl)
std::span<ProbePoint*> names;
std::span<Tok> name_ops;  // Assign or AddAssign, one per name
std::span<ProbePoint*> points;
Block* body = nullptr;
Block* epilogue = nullptr;
}
;
BTAP_NODE(Global, Decl)
std::string_view name;
bool is_private = false;
bool wrap = false;  // global a%
int64_t size = 0;   // global a[N]; 0 when not given
Expr* init = nullptr;
}
;

struct Param {
  std::string_view name;
  SourceRange range;
  TypeAnn type = TypeAnn::None;
};

BTAP_NODE(Function, Decl)
std::string_view name;
SourceRange name_range;
bool is_private = false;
TypeAnn type = TypeAnn::None;
std::span<Param> params;
int64_t priority = 0;  // 0: not given
Block* body = nullptr;
std::string_view embedded;  // embedded-C body, when body is null
bool has_embedded = false;
}
;
BTAP_NODE(EmbeddedDecl, Decl)
std::string_view code;
}
;

#undef BTAP_NODE

struct File {
  FileId file = kNoFile;
  std::string_view name;
  bool privileged = false;  // parsed in guru mode (or a tapset): may write target variables
  std::span<Decl*> decls;
};

}  // namespace btap::ast
