// Tables for the groups of a regular expression (see regex_submatch.h). The parsed
// pattern is first shaped as glibc's regcomp shapes it (a binary tree: bounds written out
// as copies, `((x))` folded into one group, groups lowered to open and close nodes), so
// that its nodes are numbered in glibc's order, which is the order regexec prefers ways
// in. Then three automata over those nodes, each made by the subset construction: R1
// (reverse, any end: where matches start), F (forward from the start: where they end)
// and R2 (reverse from the end: which nodes lead there, per position).
#include "codegen/regex_submatch.h"

#include <bitset>
#include <deque>
#include <map>
#include <unordered_map>

#include "codegen/bpflib/regex_walk.h"
#include "codegen/regex_parse.h"

namespace btap::codegen {
namespace {

using regex::ByteSet;
using regex::Node;
using NodeSet = std::bitset<256>;

// A node of glibc's parse tree (regcomp.c's bin_tree_t).
struct Tree {
  enum Kind { Char, Bol, Eol, Concat, Alt, Star, Subexp, Open, Close, End };
  Kind kind = Concat;
  ByteSet bytes;
  Tree* left = nullptr;
  Tree* right = nullptr;
  int group = 0;  // Subexp, Open, Close
  bool opt = false;
  int node = -1;  // its automaton node (none for Concat)
  Tree* first = nullptr;
  Tree* next = nullptr;
};

// The automaton's nodes, as regex_walk.h reads them.
struct Gnode {
  int kind = RW_CHAR;
  ByteSet bytes;
  int d1 = RW_NONE, d2 = RW_NONE;
  int group = 0;
  bool opt = false;
};

class Shaper {
 public:
  // Bounds inside bounds multiply their copies: past this many tree nodes the pattern
  // is refused before more are made.
  static constexpr size_t kMaxTrees = 20000;
  bool overflow = false;

  Tree* Make(Tree::Kind kind, Tree* left = nullptr, Tree* right = nullptr) {
    if (arena_.size() >= kMaxTrees) overflow = true;
    Tree& t = arena_.emplace_back();
    t.kind = kind;
    t.left = left;
    t.right = right;
    return &t;
  }

  Tree* Convert(const Node& n) {
    if (overflow) return nullptr;
    switch (n.kind) {
      case Node::Bytes: {
        Tree* t = Make(Tree::Char);
        t->bytes = n.bytes;
        return t;
      }
      case Node::StartOnly:
        return Make(Tree::Bol);
      case Node::EndOnly:
        return Make(Tree::Eol);
      case Node::Concat: {  // parse_branch: empty pieces (`x{0}`) leave no node
        Tree* tree = nullptr;
        for (const Node& kid : n.kids) {
          Tree* piece = Convert(kid);
          if (tree && piece)
            tree = Make(Tree::Concat, tree, piece);
          else if (!tree)
            tree = piece;
        }
        return tree;
      }
      case Node::Alt: {  // parse_reg_exp: to the left, an empty branch is none
        Tree* tree = Convert(n.kids[0]);
        for (size_t i = 1; i < n.kids.size(); ++i) tree = Make(Tree::Alt, tree, Convert(n.kids[i]));
        return tree;
      }
      case Node::Group: {
        Tree* t = Make(Tree::Subexp, Convert(n.kids[0]));
        t->group = n.group;
        return t;
      }
      case Node::Repeat:
        return Repeat(Convert(n.kids[0]), n.min, n.max);
    }
    return nullptr;
  }

  // parse_dup_op: x{n,m} is n copies, then (...((x)?x)?...)? for the rest, or x* when
  // there is no bound. When x is a group, the first copy that may be left out is marked
  // optional (regexec undoes an empty round of it); the copies made from it are not.
  Tree* Repeat(Tree* elem, int min, int max) {
    if (!elem || (min == 0 && max == 0)) return nullptr;
    Tree* before = nullptr;
    if (min > 0) {
      Tree* tree = elem;
      for (int i = 2; i <= min && !overflow; ++i) {
        elem = Duplicate(elem);
        tree = Make(Tree::Concat, tree, elem);
      }
      if (min == max) return tree;
      elem = Duplicate(elem);
      before = tree;
    }
    if (overflow) return nullptr;
    if (elem->kind == Tree::Subexp) MarkOptional(elem, elem->group);
    Tree* tree = Make(max < 0 ? Tree::Star : Tree::Alt, elem);
    for (int i = min + 2; i <= max && !overflow; ++i) {
      elem = Duplicate(elem);
      tree = Make(Tree::Alt, Make(Tree::Concat, tree, elem));
    }
    return before ? Make(Tree::Concat, before, tree) : tree;
  }

  Tree* Duplicate(const Tree* t) {
    if (!t || overflow) return nullptr;
    Tree* copy = Make(t->kind);
    copy->bytes = t->bytes;
    copy->group = t->group;
    copy->opt = false;  // create_token_tree: a copy is not optional until marked
    copy->left = Duplicate(t->left);
    copy->right = Duplicate(t->right);
    return copy;
  }

  static void MarkOptional(Tree* t, int group) {
    if (!t) return;
    MarkOptional(t->left, group);
    MarkOptional(t->right, group);
    if (t->kind == Tree::Subexp && t->group == group) t->opt = true;
  }

  // optimize_subexps (before the children are visited): a group that is all of the
  // group around it goes, and reports that group's match.
  static void Fold(Tree* t, std::vector<int>* alias) {
    if (!t) return;
    if (t->kind == Tree::Subexp && t->left && t->left->kind == Tree::Subexp) {
      (*alias)[t->left->group] = (*alias)[t->group];
      t->left = t->left->left;
    }
    Fold(t->left, alias);
    Fold(t->right, alias);
  }

  // lower_subexps: a group is its open node, its body, its close node.
  Tree* Lower(Tree* t) {
    if (!t) return nullptr;
    t->left = Lower(t->left);
    t->right = Lower(t->right);
    if (t->kind != Tree::Subexp) return t;
    Tree* open = Make(Tree::Open);
    Tree* close = Make(Tree::Close);
    open->group = close->group = t->group;
    open->opt = close->opt = t->opt;
    return Make(Tree::Concat, open, t->left ? Make(Tree::Concat, t->left, close) : close);
  }

  // calc_first (nodes numbered after their children) and calc_next.
  static void Number(Tree* t, std::vector<Tree*>* order) {
    if (!t) return;
    Number(t->left, order);
    Number(t->right, order);
    if (t->kind == Tree::Concat) {
      t->first = t->left->first;
      return;
    }
    t->first = t;
    t->node = static_cast<int>(order->size());
    order->push_back(t);
  }
  static void Link(Tree* t) {
    if (!t) return;
    if (t->kind == Tree::Star) {
      t->left->next = t;
    } else if (t->kind == Tree::Concat) {
      t->left->next = t->right->first;
      t->right->next = t->next;
    } else {
      if (t->left) t->left->next = t->next;
      if (t->right) t->right->next = t->next;
    }
    Link(t->left);
    Link(t->right);
  }

 private:
  std::deque<Tree> arena_;
};

bool Eps(const Gnode& g) { return g.kind != RW_CHAR && g.kind != RW_END; }

// The ways on from an epsilon node that hold at a position (at the string's start and
// end or not; `anchors`: whether `^` and `$` may be passed at all).
void Ways(const Gnode& g, bool begin, bool end, int* a, int* b, bool anchors = true) {
  *a = *b = -1;
  if (g.kind == RW_BOL && (!begin || !anchors)) return;
  if (g.kind == RW_EOL && (!end || !anchors)) return;
  *a = g.d1;
  if (g.d2 != RW_NONE) *b = g.d2;
}

NodeSet Forward(const std::vector<Gnode>& nodes, const NodeSet& core, bool begin, bool end,
                bool anchors = true) {
  NodeSet set;
  std::vector<int> work;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (core[i]) work.push_back(static_cast<int>(i));
  while (!work.empty()) {
    int x = work.back();
    work.pop_back();
    if (x < 0 || set[x]) continue;
    set.set(x);
    if (!Eps(nodes[x])) continue;
    int a, b;
    Ways(nodes[x], begin, end, &a, &b, anchors);
    work.push_back(a);
    work.push_back(b);
  }
  return set;
}

// An automaton whose states are sets of nodes and flags (kAtEdge: at the string's start
// for F, at its end for R1 and R2; kNoAnchors: R2 at the match's end when it ends
// without `^` or `$`), numbered as they are found.
constexpr int kAtEdge = 1, kNoAnchors = 2;
struct Automaton {
  std::vector<std::pair<NodeSet, int>> states;
  std::unordered_map<NodeSet, int> ids[4];  // by flags
  std::vector<uint8_t> next;                // state * classes + class
  bool full = false;
  int Intern(const NodeSet& core, int flag) {
    auto [it, added] = ids[flag].emplace(core, static_cast<int>(states.size()));
    if (added) {
      if (states.size() >= RegexGroups::kMaxStates) full = true;
      states.emplace_back(core, flag);
    }
    return it->second;
  }
};

struct Builder {
  std::vector<Gnode> nodes;
  std::vector<std::vector<int>> preds;  // the epsilon nodes with a way to each node
  int start = 0, end = 0;
  std::vector<int> first_byte;  // a byte of each class
  std::vector<uint8_t> class_of = std::vector<uint8_t>(256);

  void Predecessors() {
    preds.assign(nodes.size(), {});
    for (size_t x = 0; x < nodes.size(); ++x) {
      if (!Eps(nodes[x])) continue;
      preds[nodes[x].d1].push_back(static_cast<int>(x));
      if (nodes[x].d2 != RW_NONE) preds[nodes[x].d2].push_back(static_cast<int>(x));
    }
  }

  // The nodes with a way to `core` without input.
  NodeSet Backward(const NodeSet& core, bool begin, bool end, bool anchors = true) const {
    NodeSet set = core;
    std::vector<int> work;
    for (size_t i = 0; i < nodes.size(); ++i)
      if (core[i]) work.push_back(static_cast<int>(i));
    while (!work.empty()) {
      int y = work.back();
      work.pop_back();
      for (int x : preds[y]) {
        if (set[x]) continue;
        int a, b;
        Ways(nodes[x], begin, end, &a, &b, anchors);
        if (a != y && b != y) continue;
        set.set(x);
        work.push_back(x);
      }
    }
    return set;
  }

  void Classes() {
    std::map<std::string, int> ids;
    for (int byte = 0; byte < 256; ++byte) {
      std::string signature;
      for (const Gnode& g : nodes)
        if (g.kind == RW_CHAR) signature += g.bytes.test(byte) ? '1' : '0';
      auto [it, added] = ids.emplace(signature, static_cast<int>(first_byte.size()));
      if (added) first_byte.push_back(byte);
      class_of[byte] = static_cast<uint8_t>(it->second);
    }
  }

  // F: from the start, forward. Flags: accepting (mid, at the end), dead.
  bool Ahead(Automaton* a, std::vector<uint8_t>* flags) {
    NodeSet core;
    core.set(start);
    a->Intern(core, kAtEdge);
    a->Intern(core, 0);
    for (size_t id = 0; id < a->states.size() && !a->full; ++id) {
      auto [set, flag] = a->states[id];
      bool at_begin = flag & kAtEdge;
      NodeSet here = Forward(nodes, set, at_begin, false);
      for (int byte : first_byte) {
        NodeSet moved;
        for (size_t x = 0; x < nodes.size(); ++x)
          if (here[x] && nodes[x].kind == RW_CHAR && nodes[x].bytes.test(byte))
            moved.set(nodes[x].d1);
        a->next.push_back(static_cast<uint8_t>(a->Intern(moved, 0)));
      }
      uint8_t f = here[end] ? RW_ACCEPT : 0;
      if (Forward(nodes, set, at_begin, true)[end]) f |= RW_ACCEPT_END;
      if (set.none()) f |= RW_DEAD;
      if (Forward(nodes, set, false, false, false)[end]) f |= RW_PLAIN;
      flags->push_back(f);
    }
    return !a->full;
  }

  // R1 (`any_end`) and R2: from the end, backward, over the byte before each position.
  // R2 starts in one of four states: at the string's end or not, and whether the match
  // may end through `^` or `$`. For regexec, a match ends at one node: without them when
  // it can (glibc copies the nodes after an anchor, and takes the first end node).
  bool Behind(Automaton* a, bool any_end) {
    NodeSet core;
    core.set(end);
    a->Intern(core, kAtEdge);
    a->Intern(core, 0);
    if (!any_end) {
      a->Intern(core, kAtEdge | kNoAnchors);
      a->Intern(core, kNoAnchors);
    }
    for (size_t id = 0; id < a->states.size() && !a->full; ++id) {
      auto [set, flag] = a->states[id];
      NodeSet here = Backward(set, false, flag & kAtEdge, !(flag & kNoAnchors));
      for (int byte : first_byte) {
        NodeSet moved;
        if (any_end) moved.set(end);
        for (size_t x = 0; x < nodes.size(); ++x)
          if (nodes[x].kind == RW_CHAR && nodes[x].bytes.test(byte) && here[nodes[x].d1])
            moved.set(x);
        a->next.push_back(static_cast<uint8_t>(a->Intern(moved, 0)));
      }
    }
    return !a->full;
  }
};

void Put32(std::vector<uint8_t>* out, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*out)[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

bool CompileRegexGroups(std::string_view pattern, RegexGroups* out, std::string* error) {
  Node parsed;
  int groups = 0;
  if (!regex::Parse(pattern, &parsed, &groups, error)) return false;
  if (groups > RegexGroups::kMaxGroups) {
    *error = "it has more than " + std::to_string(RegexGroups::kMaxGroups) + " groups";
    return false;
  }
  Shaper shaper;
  Tree* tree = shaper.Convert(parsed);
  Tree* root =
      tree ? shaper.Make(Tree::Concat, tree, shaper.Make(Tree::End)) : shaper.Make(Tree::End);
  std::vector<int> alias(RW_MAX_PAIRS);
  for (int g = 0; g < RW_MAX_PAIRS; ++g) alias[g] = g;
  Shaper::Fold(root, &alias);
  root = shaper.Lower(root);
  std::vector<Tree*> order;
  if (!shaper.overflow) Shaper::Number(root, &order);
  if (shaper.overflow || order.size() > RegexGroups::kMaxNodes) {
    *error =
        "its groups need more than " + std::to_string(RegexGroups::kMaxNodes) + " automaton nodes";
    return false;
  }
  Shaper::Link(root);

  Builder b;
  b.start = root->first->node;
  for (Tree* t : order) {
    Gnode g;
    switch (t->kind) {
      case Tree::Char:
        g.kind = RW_CHAR;
        break;
      case Tree::Bol:
        g.kind = RW_BOL;
        break;
      case Tree::Eol:
        g.kind = RW_EOL;
        break;
      case Tree::Alt:
      case Tree::Star:
        g.kind = RW_SPLIT;
        break;
      case Tree::Open:
        g.kind = RW_OPEN;
        break;
      case Tree::Close:
        g.kind = RW_CLOSE;
        break;
      default:
        g.kind = RW_END;
        b.end = t->node;
        break;
    }
    g.bytes = t->bytes;
    g.group = t->group;
    g.opt = t->opt;
    if (g.kind == RW_SPLIT) {  // link_nfa_nodes: the two ways, in node order
      int l = t->left ? t->left->first->node : t->next->node;
      int r = t->right ? t->right->first->node : t->next->node;
      g.d1 = std::min(l, r);
      if (l != r) g.d2 = std::max(l, r);
    } else if (g.kind != RW_END) {
      g.d1 = t->next->node;
    }
    b.nodes.push_back(g);
  }
  b.Predecessors();
  b.Classes();
  Automaton f, r1, r2;
  std::vector<uint8_t> f_flags;
  if (!b.Ahead(&f, &f_flags) || !b.Behind(&r1, true) || !b.Behind(&r2, false)) {
    *error = "its groups need more than " + std::to_string(RegexGroups::kMaxStates) +
             " automaton states";
    return false;
  }
  size_t n = b.nodes.size(), width = (n + 7) / 8;
  std::vector<uint8_t> r1_flags, live;
  for (const auto& [set, flags] : r1.states) {
    bool at_end = flags & kAtEdge;
    uint8_t flag = b.Backward(set, false, at_end)[b.start] ? RW_START_MID : 0;
    if (b.Backward(set, true, at_end)[b.start]) flag |= RW_START_BEGIN;
    r1_flags.push_back(flag);
  }
  for (const auto& [set, flags] : r2.states)
    for (bool begin : {false, true}) {
      NodeSet here = b.Backward(set, begin, flags & kAtEdge, !(flags & kNoAnchors));
      for (size_t byte = 0; byte < width; ++byte) {
        uint8_t bits = 0;
        for (size_t i = 0; i < 8 && byte * 8 + i < n; ++i)
          if (here[byte * 8 + i]) bits |= static_cast<uint8_t>(1 << i);
        live.push_back(bits);
      }
    }

  // The tables: the header, then each part where the header says.
  std::vector<uint8_t> data(4 * RW_HEADER_FIELDS);
  auto part = [&](int field, const std::vector<uint8_t>& bytes) {
    Put32(&data, 4 * field, static_cast<uint32_t>(data.size()));
    data.insert(data.end(), bytes.begin(), bytes.end());
  };
  std::vector<uint8_t> kind, d1, d2, group, alias_bytes;
  for (const Gnode& g : b.nodes) {
    kind.push_back(static_cast<uint8_t>(g.kind | (g.opt ? RW_OPT : 0)));
    d1.push_back(static_cast<uint8_t>(g.d1));
    d2.push_back(static_cast<uint8_t>(g.d2));
    group.push_back(static_cast<uint8_t>(g.group));
  }
  for (int a : alias) alias_bytes.push_back(static_cast<uint8_t>(a));
  Put32(&data, 4 * RW_NODES, static_cast<uint32_t>(n));
  Put32(&data, 4 * RW_CLASSES, static_cast<uint32_t>(b.first_byte.size()));
  Put32(&data, 4 * RW_START, static_cast<uint32_t>(b.start));
  Put32(&data, 4 * RW_GROUPS, static_cast<uint32_t>(groups));
  Put32(&data, 4 * RW_LIVE_WIDTH, static_cast<uint32_t>(width));
  part(RW_CLASS, b.class_of);
  part(RW_KIND, kind);
  part(RW_D1, d1);
  part(RW_D2, d2);
  part(RW_GROUP, group);
  part(RW_ALIAS, alias_bytes);
  part(RW_F_NEXT, f.next);
  part(RW_F_FLAGS, f_flags);
  part(RW_R1_NEXT, r1.next);
  part(RW_R1_FLAGS, r1_flags);
  part(RW_R2_NEXT, r2.next);
  part(RW_R2_LIVE, live);
  size_t size = 256;
  while (size < data.size()) size *= 2;
  data.resize(size, 0);
  out->groups = groups;
  out->tables = std::move(data);
  return true;
}

}  // namespace btap::codegen
