// btap's BPF runtime library, regular-expression groups (stap's matched(), ngroups()):
// after an `=~` in a probe that asks for them, where each group of the pattern matched,
// by the walks of regex_walk.h. In the kernel each walk is a bpf_loop (its round is
// verified once, whatever the string's length); btap's interpreter, which has no
// bpf_loop, runs plain loops.
#include "bpflib.h"

#define RW_MASKED(pos, size) btap_masked((long)(pos), (size))
#include "regex_walk.h"

BTAP_CALLBACK long btap_cb_regex_length(unsigned long i, void* ctx) {
  return rw_length_step(ctx, i);
}
BTAP_CALLBACK long btap_cb_regex_start(unsigned long k, void* ctx) {
  return rw_start_step(ctx, k);
}
BTAP_CALLBACK long btap_cb_regex_end(unsigned long k, void* ctx) { return rw_end_step(ctx, k); }
BTAP_CALLBACK long btap_cb_regex_live(unsigned long k, void* ctx) { return rw_live_step(ctx, k); }
BTAP_CALLBACK long btap_cb_regex_path(unsigned long k, void* ctx) { return rw_path_step(ctx, k); }
BTAP_CALLBACK long btap_cb_regex_alias(unsigned long g, void* ctx) {
  return rw_alias_step(ctx, g);
}

#define RW_RUN regex_groups_kernel
#define RW_LOOP(rounds, step, walk) bpf_loop((rounds), btap_cb_regex_##step, (walk), 0)
#include "regex_run.h"
#undef RW_RUN
#undef RW_LOOP

#define RW_RUN regex_groups_user
#define RW_LOOP(rounds, step, walk)                      \
  for (unsigned long k_ = 0; k_ < (unsigned long)(rounds); k_++) \
    if (rw_##step##_step((walk), k_)) break
#include "regex_run.h"
#undef RW_RUN
#undef RW_LOOP

BTAP_LIB long btap_regex_groups_loop(const unsigned char* text, const unsigned char* tables,
                                     unsigned long tables_size, unsigned char* area,
                                     unsigned char* work, long found, unsigned long size,
                                     unsigned long limit) {
  return regex_groups_kernel(text, tables, tables_size, area, work, found, size, limit);
}

BTAP_LIB long btap_regex_groups(const unsigned char* text, const unsigned char* tables,
                                unsigned long tables_size, unsigned char* area,
                                unsigned char* work, long found, unsigned long size,
                                unsigned long limit) {
  return regex_groups_user(text, tables, tables_size, area, work, found, size, limit);
}

// Where group `n` of the last match is in the area's copy of the string, for matched():
// its start | its length << 16 (both 0 for a group that took no part in the match), or
// RW_GROUP_FAILED after a failed match, RW_GROUP_NONE for a group the pattern lacks.
struct regex_area_head {  // the area up to RW_AREA_TEXT
  long status, count;
  short regs[2 * RW_MAX_PAIRS];
};

static inline __attribute__((always_inline)) long regex_group(const struct regex_area_head* head,
                                                              long n) {
  if (!head->status) return RW_GROUP_FAILED;
  if (n < 0 || n >= head->count) return RW_GROUP_NONE;
  long start = head->regs[2 * (n & (RW_MAX_PAIRS - 1))];
  long end = head->regs[2 * (n & (RW_MAX_PAIRS - 1)) + 1];
  if (start < 0 || end < start) return 0;
  return start | (end - start) << 16;
}

// regex_group for kernel probes, checked once by the verifier (its area argument is
// RW_AREA_TEXT bytes: bpflib.cpp describes a `[static N]` parameter so). Inlined, its
// branches, taken once per round, made a loop over the groups whose bound is known only
// at run time (`for (i = 0; i < ngroups(); i++) ... matched(i)`) too long for the verifier.
__attribute__((noinline)) long btap_global_regex_group(const unsigned char area[static RW_AREA_TEXT],
                                                       long n) {
  // The kernel passes a global function's pointers as possibly null; [static] lets clang
  // drop this check unless the pointer is hidden from it.
  unsigned long at = (unsigned long)area;
  asm volatile("" : "+r"(at));
  if (!at) return RW_GROUP_FAILED;
  return regex_group((const struct regex_area_head*)at, n);
}

BTAP_LIB long btap_regex_group_loop(const unsigned char* area, long n) {
  return btap_global_regex_group(area, n);
}

// (btap's interpreter runs programs without calls to functions of their own.)
BTAP_LIB long btap_regex_group(const unsigned char* area, long n) {
  return regex_group((const struct regex_area_head*)area, n);
}

// btap_regex_search (strings.c) as a bpf_loop, for kernel probes with strings longer than
// the default MAXSTRINGLEN: the plain loop's rounds, each walked by the verifier, are too
// many there once a probe has a few matches.
struct search_state {
  const unsigned char* s;
  const unsigned char* next;
  const unsigned char* accept;
  unsigned long mask, size, state;
  long found;
};

BTAP_CALLBACK long btap_cb_regex_search(unsigned long i, void* ctx) {
  struct search_state* st = ctx;
  unsigned char c = st->s[btap_masked((long)i, st->size)];
  st->state = st->next[btap_masked((long)(st->state * 256 + c), st->mask + 1)];
  if (st->accept[st->state & 255]) {
    st->found = 1;
    return 1;
  }
  return !c;
}

BTAP_LIB long btap_regex_search_loop(const unsigned char* s, const unsigned char* next,
                                     const unsigned char* accept, unsigned long mask,
                                     unsigned long size, unsigned long limit) {
  if (accept[0]) return 1;
  struct search_state st = {s, next, accept, mask, size, 0, 0};
  bpf_loop(limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING, btap_cb_regex_search, &st, 0);
  return st.found;
}
