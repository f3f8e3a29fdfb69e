// procfs probes' `$value` (semantic/probes/procfs.cpp): the file's text lives in the
// runtime (runtime/procfs.cpp), so a read probe's `=` and `.=` and a write probe's read of
// `$value` are calls of the interpreter's procfs helper (common/user_helpers.h).
#include "codegen/lowering.h"
#include "common/user_helpers.h"

namespace btap::codegen::lowering {

bool Lowering::IsProcfsValue(const ast::Expr* e) const {
  auto* t = ast::As<ast::TargetSymbol>(e);
  return t && frame_ && frame_->probe && frame_->probe->spec.family == sema::Family::Procfs &&
         t->name == "$value";
}

// A write probe's `$value`: what the writer wrote, cut to MAXSTRINGLEN.
Value Lowering::ProcfsRead() {
  Value slot = StringSlot();
  Helper(user_helper::kProcfsValue, i64_,
         {b_.getInt64(user_helper::kProcfsGet), slot, b_.getInt64(limit_)});
  return slot;
}

// A read probe's `$value = text` or `$value .= text`. Text past the file's maxsize is an
// error that ends the handler, as stap's; the reader gets what fitted.
Value Lowering::ProcfsAssign(ast::Assign* a) {
  if (a->op != Tok::Assign && a->op != Tok::ConcatAssign) {
    Unsupported(a->range, "this assignment to `$value`", "; use `=` or `.=`");
    return nullptr;
  }
  Value text = Expr(a->rhs);
  if (!text) return nullptr;
  int64_t op = a->op == Tok::Assign ? user_helper::kProcfsSet : user_helper::kProcfsAppend;
  Value needed =
      Helper(user_helper::kProcfsValue, i64_, {b_.getInt64(op), text, b_.getInt64(limit_)});
  CheckFormat(b_.CreateICmpEQ(needed, b_.getInt64(0)),
              "buffer size exceeded, consider .maxsize(%d)." +
                  EscapePercent(Near("identifier", "$value", a->lhs->range)),
              {needed});
  return text;
}

}  // namespace btap::codegen::lowering
