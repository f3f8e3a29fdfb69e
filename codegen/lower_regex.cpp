// Lowering regular expressions (see lowering.h): `=~` and `!~` walk the pattern's
// automaton (regex_dfa.h). A handler that asks for the groups of its matches (stap's
// matched(), matched_str(), ngroups(), tapsets/regex.stp) keeps the last match in its
// scratch space: after each `=~` or `!~`, bpflib's btap_regex_groups walks the pattern's
// group tables (regex_submatch.h) and records where each group matched, with a copy of
// the string. The record lasts for the handler's run; other handlers pay nothing.
#include "codegen/bpflib/regex_walk.h"
#include "codegen/lowering.h"
#include "codegen/regex_dfa.h"
#include "codegen/regex_submatch.h"

namespace btap::codegen::lowering {
namespace {

llvm::GlobalVariable* Table(llvm::Module& module, const std::vector<uint8_t>& data,
                            const char* name) {
  auto* init = llvm::ConstantDataArray::get(module.getContext(), llvm::ArrayRef<uint8_t>(data));
  auto* g = new llvm::GlobalVariable(module, init->getType(), true,
                                     llvm::GlobalValue::InternalLinkage, init, name);
  g->setSection(".rodata");
  g->setAlignment(llvm::Align(8));
  return g;
}

bool IsGroupIntrinsic(const ast::Call* c) {
  if (!c->callee || c->callee->intrinsic < 0) return false;
  auto which = static_cast<Intrinsic>(c->callee->intrinsic);
  return which == Intrinsic::regex_matched || which == Intrinsic::regex_ngroups;
}

}  // namespace

// `s =~ "re"` (and `!~`): the pattern's automaton, made now, walked over the string by
// the runtime library, on either side.
Value Lowering::RegexSearch(ast::RegexMatch* r) {
  std::string pattern(r->pattern->value);
  auto it = regexes_.find(pattern);
  if (it == regexes_.end()) {
    RegexDfa dfa;
    std::string why;
    if (!CompileRegex(pattern, &dfa, &why)) {
      Unsupported(r->pattern->range, "this regular expression", ": " + why);
      return nullptr;
    }
    size_t bytes = 256;
    while (bytes < dfa.next.size()) bytes *= 2;
    dfa.next.resize(bytes, 0);
    it = regexes_
             .emplace(pattern, Regex{Table(module_, dfa.next, "regex"),
                                     Table(module_, dfa.accept, "regex_accept"), bytes - 1})
             .first;
  }
  Value text = Expr(r->lhs);
  if (!text) return nullptr;
  // Past the default MAXSTRINGLEN a kernel probe walks the string in a bpf_loop.
  bool loop = !frame_->user_side && limit_ > 256;
  Value found = Library(loop ? "btap_regex_search_loop" : "btap_regex_search", i64_,
                        {text, it->second.next, it->second.accept, b_.getInt64(it->second.mask),
                         b_.getInt64(slot_), b_.getInt64(limit_)});
  if (frame_->last_match >= 0) RecordRegexGroups(r, it->second, text, found);
  Value matched = b_.CreateICmpNE(found, b_.getInt64(0));
  return Bool(r->op == Tok::Match ? matched : b_.CreateNot(matched));
}

// The groups of the match just made, into the handler's last-match record.
void Lowering::RecordRegexGroups(ast::RegexMatch* r, Regex& regex, Value text, Value found) {
  if (regex.groups_refused) return;
  if (!regex.groups) {
    RegexGroups groups;
    std::string why;
    if (!CompileRegexGroups(std::string(r->pattern->value), &groups, &why)) {
      regex.groups_refused = true;
      Unsupported(r->pattern->range, "finding the groups of this regular expression", ": " + why);
      return;
    }
    regex.groups = Table(module_, groups.tables, "regex_groups");
    regex.groups_size = groups.tables.size();
  }
  Value area = SharedScratchAt(static_cast<uint32_t>(frame_->last_match));
  Value work = SharedScratchAt(static_cast<uint32_t>(frame_->regex_work));
  Library(frame_->user_side ? "btap_regex_groups" : "btap_regex_groups_loop", i64_,
          {text, regex.groups, b_.getInt64(regex.groups_size), area, work, found,
           b_.getInt64(slot_), b_.getInt64(limit_)});
  CopyString(b_.CreateConstGEP1_64(b_.getInt8Ty(), area, RW_AREA_TEXT), text);
}

// A handler that calls matched() or ngroups() (through any function) starts with no
// match: its record is set to "failed". Its walks share one work area: each lasts for the
// call of bpflib that makes it.
void Lowering::StartRegexGroups(Frame& frame, const sema::Probe* p) {
  if (!p || (!UsesRegexGroups(p->body) && !UsesRegexGroups(p->condition))) return;
  frame.last_match = TempBytes(RW_AREA_TEXT + slot_);
  frame.regex_work = TempBytes(RW_WORK_LIVE + slot_);
  b_.CreateStore(b_.getInt64(0), SharedScratchAt(static_cast<uint32_t>(frame.last_match)));
}

// Through any chain of calls, recursive ones included (Reaches walks each body once).
bool Lowering::UsesRegexGroups(ast::Node* root) {
  return root && Reaches(root, [&](ast::Node* n) {
           auto* c = ast::As<ast::Call>(n);
           return c && IsGroupIntrinsic(c);
         });
}

// matched(n) and ngroups(): stap's errors, named after the tapset function at its call.
Value Lowering::RegexGroupCall(Intrinsic which, ast::Call* c) {
  const sema::Function* f = Top().function;
  SourceRange at = frame_->calls.empty() ? c->range : frame_->calls.back();
  std::string near = EscapePercent(Near("identifier", f ? f->name : c->name, at));
  Value n = which == Intrinsic::regex_matched ? Arg(c, 0) : nullptr;
  if (frame_->last_match < 0) {  // not reached: the handler's scan finds every call
    if (n)
      Fail("Attempted to get subexpression %d from failed match" + near, {n});
    else
      Fail("Attempted to get subexpression count from failed match" + near);
    return n ? Literal("") : b_.getInt64(0);
  }
  Value area = SharedScratchAt(static_cast<uint32_t>(frame_->last_match));
  if (which == Intrinsic::regex_ngroups) {
    Value status = b_.CreateLoad(i64_, area);
    Check(b_.CreateICmpNE(status, b_.getInt64(0)),
          "Attempted to get subexpression count from failed match" + near);
    return b_.CreateLoad(i64_, b_.CreateConstGEP1_64(b_.getInt8Ty(), area, RW_AREA_COUNT));
  }
  // The checks and the group's place come from bpflib (in the kernel from a global
  // function, verified once): made inline, they made `n` exact for the verifier, which then
  // followed every round of a loop over the groups with a bound known only at run time.
  Value place =
      Library(frame_->user_side ? "btap_regex_group" : "btap_regex_group_loop", i64_, {area, n});
  CheckFormat(b_.CreateICmpNE(place, b_.getInt64(RW_GROUP_FAILED)),
              "Attempted to get subexpression %d from failed match" + near, {n});
  CheckFormat(b_.CreateICmpNE(place, b_.getInt64(RW_GROUP_NONE)),
              "Attempted to get nonexistent subexpression %d" + near, {n});
  // The group lies inside the copy's NUL-terminated text: one read of `length` bytes and
  // a NUL (no loop over the string, which a loop over the groups would repeat).
  Value start = b_.CreateAnd(place, b_.getInt64(slot_ - 1));
  Value length = b_.CreateAnd(b_.CreateLShr(place, 16), b_.getInt64(slot_ - 1));
  Value text = b_.CreateConstGEP1_64(b_.getInt8Ty(), area, RW_AREA_TEXT);
  Value group = StringSlot();
  Helper(kProbeReadKernelStr, i64_,
         {group, b_.CreateTrunc(b_.CreateAdd(length, b_.getInt64(1)), b_.getInt32Ty()),
          b_.CreateGEP(b_.getInt8Ty(), text, start)});
  return group;
}

}  // namespace btap::codegen::lowering
