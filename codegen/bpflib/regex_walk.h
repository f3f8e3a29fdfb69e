// Where a regular expression's groups matched: the steps that walk a pattern's tables
// (made by codegen/regex_submatch.cpp) over a string. Plain C that bpflib's regex.c runs
// (each step a bpf_loop round in the kernel, a plain loop's round in btap's interpreter)
// and that the unit test runs on the host as C++, over the same tables.
//
// The walks, after `=~` found a match: the leftmost start s (R1: a reverse automaton
// walked from the end), the longest end e from s (F: a forward automaton), the nodes
// that lead from each position to the end at e (R2: a reverse automaton walked from e,
// its state kept per position), and then glibc's choice of the path (regexec's
// set_regs): from s, at each node without input the first way on, in node order, that
// still leads to the end at e, and the second when the first was taken already at this
// position; the groups are set as the path opens and closes them.
#pragma once

// Inlined everywhere: a step left as a function of its own would be a BPF subprogram,
// and each of those needs debug info, which the library is built without.
#define RW_INLINE static inline __attribute__((always_inline))

#ifndef RW_MASKED
#define RW_MASKED(pos, size) ((unsigned long)(pos) & ((unsigned long)(size)-1))
#endif

// Groups a last match holds, group 0 (the whole match) included.
#define RW_MAX_PAIRS 64

// The tables: a header of 32-bit fields, then bytes; the whole a power of two.
enum {
  RW_NODES,       // nodes of the automaton (at most 255; 255 is "none")
  RW_CLASSES,     // byte classes
  RW_START,       // the start node
  RW_GROUPS,      // parenthesized groups of the pattern
  RW_CLASS,       // offset of 256 bytes: each byte's class
  RW_KIND,        // offset of a byte per node: RW_CHAR..., | RW_OPT
  RW_D1,          // offset of a byte per node: the first way on (by node order)
  RW_D2,          // offset of a byte per node: the second, or 255
  RW_GROUP,       // offset of a byte per node: the group an RW_OPEN/RW_CLOSE sets
  RW_F_NEXT,      // F: next state by state * classes + class
  RW_F_FLAGS,     // F: by state, RW_ACCEPT (mid), RW_ACCEPT_END (at the string's end),
                  // RW_DEAD, RW_PLAIN (the end reached without passing `^` or `$`)
  RW_R1_NEXT,     // R1: next state (for the byte before)
  RW_R1_FLAGS,    // R1: by state, RW_START_MID, RW_START_BEGIN (a match starts here)
  RW_R2_NEXT,     // R2: next state (for the byte before); it starts at the end in state
                  // 0, elsewhere in 1, or 2 and 3 when the end is reached plainly
  RW_R2_LIVE,     // R2: by (state * 2 + at position 0), RW_LIVE_WIDTH bytes of node bits
  RW_LIVE_WIDTH,  // bytes of node bits
  RW_ALIAS,       // offset of RW_MAX_PAIRS bytes: the group whose match a group repeats
  RW_HEADER_FIELDS = 32
};

enum { RW_CHAR, RW_SPLIT, RW_OPEN, RW_CLOSE, RW_BOL, RW_EOL, RW_END, RW_OPT = 0x80 };
enum { RW_ACCEPT = 1, RW_ACCEPT_END = 2, RW_DEAD = 4, RW_PLAIN = 8 };  // F's flags
enum { RW_START_MID = 1, RW_START_BEGIN = 2 };                         // R1's
#define RW_NONE 255

// The last match, in scratch: its status (1: matched), the pattern's group count
// (group 0 included), the (start, end) of each group as 16-bit offsets (-1: no part in the
// match), then a copy of the string.
#define RW_AREA_STATUS 0
#define RW_AREA_COUNT 8
#define RW_AREA_REGS 16
#define RW_AREA_TEXT (RW_AREA_REGS + 4 * RW_MAX_PAIRS)
// What bpflib's btap_regex_group answers in place of a group's place (regex.c).
#define RW_GROUP_FAILED (-1)
#define RW_GROUP_NONE (-2)

// The walk's memory, in scratch: its numbers (RW_V_*), the nodes passed without input at
// this position (bits), the registers as they were at the last non-empty group (glibc's
// prev_idx_match), and R2's state at each position.
enum { RW_V_N, RW_V_S, RW_V_E, RW_V_IDX, RW_V_NODE, RW_V_STATE, RW_V_DONE, RW_V_PLAIN };
#define RW_V_COUNT 8
#define RW_WORK_VIA (8 * RW_V_COUNT)
#define RW_WORK_PREV (RW_WORK_VIA + 32)
#define RW_WORK_LIVE (RW_WORK_PREV + 4 * RW_MAX_PAIRS)

struct regex_walk {
  const unsigned char* tables;
  const unsigned char* text;
  unsigned char* area;
  unsigned char* work;
  unsigned long tables_size;  // a power of two
  unsigned long size;         // the string's slot: a power of two
};

RW_INLINE unsigned long rw_field(const struct regex_walk* w, int field) {
  return ((const unsigned int*)w->tables)[field];
}

RW_INLINE unsigned long rw_byte(const struct regex_walk* w, unsigned long at) {
  return w->tables[RW_MASKED(at, w->tables_size)];
}

RW_INLINE long* rw_vars(const struct regex_walk* w) { return (long*)w->work; }

// The class of the string's byte at `i`.
RW_INLINE unsigned long rw_class(const struct regex_walk* w, long i) {
  return rw_byte(w, rw_field(w, RW_CLASS) + w->text[RW_MASKED(i, w->size)]);
}

// The string's length: the first NUL.
RW_INLINE long rw_length_step(struct regex_walk* w, unsigned long i) {
  if (w->text[RW_MASKED(i, w->size)]) return 0;
  rw_vars(w)[RW_V_N] = (long)i;
  return 1;
}

// R1, round k: position n - k. The last position found is the leftmost start.
RW_INLINE long rw_start_step(struct regex_walk* w, unsigned long k) {
  long* v = rw_vars(w);
  long i = v[RW_V_N] - (long)k;
  if (i < 0) return 1;
  unsigned long state = (unsigned long)v[RW_V_STATE];
  unsigned long flags = rw_byte(w, rw_field(w, RW_R1_FLAGS) + state);
  if (flags & (i == 0 ? RW_START_BEGIN : RW_START_MID)) v[RW_V_S] = i;
  if (i == 0) return 1;
  unsigned long at = state * rw_field(w, RW_CLASSES) + rw_class(w, i - 1);
  v[RW_V_STATE] = (long)rw_byte(w, rw_field(w, RW_R1_NEXT) + at);
  return 0;
}

// F, round k: position s + k. The last position accepted is the longest end.
RW_INLINE long rw_end_step(struct regex_walk* w, unsigned long k) {
  long* v = rw_vars(w);
  long i = v[RW_V_S] + (long)k, n = v[RW_V_N];
  if (i > n) return 1;
  unsigned long state = (unsigned long)v[RW_V_STATE];
  unsigned long flags = rw_byte(w, rw_field(w, RW_F_FLAGS) + state);
  if (flags & RW_DEAD) return 1;
  if (flags & (i == n ? RW_ACCEPT_END : RW_ACCEPT)) {
    v[RW_V_E] = i;
    v[RW_V_PLAIN] = (flags & RW_PLAIN) != 0;
  }
  if (i == n) return 1;
  unsigned long at = state * rw_field(w, RW_CLASSES) + rw_class(w, i);
  v[RW_V_STATE] = (long)rw_byte(w, rw_field(w, RW_F_NEXT) + at);
  return 0;
}

// R2, round k: position e - k, down to s; each position keeps its state.
RW_INLINE long rw_live_step(struct regex_walk* w, unsigned long k) {
  long* v = rw_vars(w);
  long i = v[RW_V_E] - (long)k;
  if (i < v[RW_V_S] || i < 0) return 1;
  unsigned long state = (unsigned long)v[RW_V_STATE];
  w->work[RW_WORK_LIVE + RW_MASKED(i, w->size)] = (unsigned char)state;
  if (i == v[RW_V_S] || i == 0) return 1;
  unsigned long at = state * rw_field(w, RW_CLASSES) + rw_class(w, i - 1);
  v[RW_V_STATE] = (long)rw_byte(w, rw_field(w, RW_R2_NEXT) + at);
  return 0;
}

// Whether `node` at position `idx` leads to the end of the match.
RW_INLINE int rw_live(const struct regex_walk* w, long idx, unsigned long node) {
  unsigned long state = w->work[RW_WORK_LIVE + RW_MASKED(idx, w->size)];
  unsigned long row = (state * 2 + (idx == 0 ? 1 : 0)) * rw_field(w, RW_LIVE_WIDTH);
  unsigned long bits = rw_byte(w, rw_field(w, RW_R2_LIVE) + row + (node >> 3));
  return (int)((bits >> (node & 7)) & 1);
}

// (A byte copy: the registers are written as 16-bit values, and reading them as longs
// would break C's aliasing rules, which an optimising compiler relies on.)
RW_INLINE void rw_copy_regs(unsigned char* to, const unsigned char* from) {
  __builtin_memcpy(to, from, 4 * RW_MAX_PAIRS);
}

// One node of the path (glibc's update_regs and proceed_next_node).
RW_INLINE long rw_path_step(struct regex_walk* w, unsigned long k) {
  long* v = rw_vars(w);
  long idx = v[RW_V_IDX];
  unsigned long node = (unsigned long)v[RW_V_NODE] & 255;
  unsigned long kind = rw_byte(w, rw_field(w, RW_KIND) + node);
  unsigned long type = kind & ~(unsigned long)RW_OPT;
  short* regs = (short*)(w->area + RW_AREA_REGS);
  const short* prev = (const short*)(w->work + RW_WORK_PREV);
  unsigned char* via = w->work + RW_WORK_VIA;
  (void)k;
  if (type == RW_OPEN || type == RW_CLOSE) {
    unsigned long at = RW_MASKED(2 * rw_byte(w, rw_field(w, RW_GROUP) + node), 2 * RW_MAX_PAIRS);
    if (type == RW_OPEN) {
      regs[at] = (short)idx;
      regs[at + 1] = -1;
    } else if (regs[at] < idx) {  // a non-empty group: what an empty one goes back to
      regs[at + 1] = (short)idx;
      rw_copy_regs(w->work + RW_WORK_PREV, w->area + RW_AREA_REGS);
    } else if ((kind & RW_OPT) && prev[at] != -1) {  // an empty round of `(a?)*`
      rw_copy_regs(w->area + RW_AREA_REGS, w->work + RW_WORK_PREV);
    } else {
      regs[at + 1] = (short)idx;
    }
  }
  if (type == RW_END) {
    v[RW_V_DONE] = idx == v[RW_V_E];
    return 1;
  }
  unsigned long d1 = rw_byte(w, rw_field(w, RW_D1) + node);
  if (type == RW_CHAR) {  // live, so it takes this byte
    for (int i = 0; i < 4; i++) ((long*)via)[i] = 0;
    v[RW_V_IDX] = idx + 1;
    v[RW_V_NODE] = (long)d1;
    return 0;
  }
  if ((type == RW_BOL && idx != 0) || (type == RW_EOL && idx != v[RW_V_N])) return 1;
  via[(node >> 3) & 31] |= (unsigned char)(1 << (node & 7));
  unsigned long d2 = rw_byte(w, rw_field(w, RW_D2) + node);
  long dest = rw_live(w, idx, d1) ? (long)d1 : -1;
  if (d2 != RW_NONE && rw_live(w, idx, d2)) {
    if (dest < 0 || ((via[(d1 >> 3) & 31] >> (d1 & 7)) & 1)) dest = (long)d2;
  }
  if (dest < 0) return 1;
  v[RW_V_NODE] = dest;
  return 0;
}

// A group that glibc folds into the group around it, `((a))`, repeats its match.
RW_INLINE long rw_alias_step(struct regex_walk* w, unsigned long g) {
  short* regs = (short*)(w->area + RW_AREA_REGS);
  unsigned long to = RW_MASKED(g, RW_MAX_PAIRS);
  unsigned long from = RW_MASKED(rw_byte(w, rw_field(w, RW_ALIAS) + to), RW_MAX_PAIRS);
  if (from != to) {
    regs[2 * to] = regs[2 * from];
    regs[2 * to + 1] = regs[2 * from + 1];
  }
  return 0;
}

// Before the path: every group unset, group 0 the match, nothing passed yet.
RW_INLINE void rw_path_start(struct regex_walk* w) {
  long* v = rw_vars(w);
  short* regs = (short*)(w->area + RW_AREA_REGS);
  for (int i = 0; i < 2 * RW_MAX_PAIRS; i++) regs[i] = -1;
  regs[0] = (short)v[RW_V_S];
  regs[1] = (short)v[RW_V_E];
  rw_copy_regs(w->work + RW_WORK_PREV, w->area + RW_AREA_REGS);
  for (int i = 0; i < 4; i++) ((long*)(w->work + RW_WORK_VIA))[i] = 0;
  v[RW_V_IDX] = v[RW_V_S];
  v[RW_V_NODE] = (long)rw_field(w, RW_START);
  v[RW_V_DONE] = 0;
}
