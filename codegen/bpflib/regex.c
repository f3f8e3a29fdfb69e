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
