// A histogram's table in the kernel, for a kernel probe's sprint(@hist_*) kept as a value:
// the rows, bars, scale and `~` elision that the runtime's drawing (common/stats.cpp's
// RenderHistogram) makes, by their one description (common/hist_format.h), written into a
// string slot and cut where the string ends (stap's MAXSTRINGLEN - 1 characters). Three
// bpf_loop walks over the merged buckets: the data's range and largest count, the value
// column's width, then the rows.
#include "../../common/hist_format.h"
#include "bpflib.h"
#include "put.h"

// Buckets are read masked by this (the largest kernel-side histogram; the caller's buffer
// has room for them all).
#define BTAP_HIST_MAX_BUCKETS 512

static const char dashes[BTAP_HIST_WIDTH + 1] =
    "--------------------------------------------------";
static const char ats[BTAP_HIST_WIDTH + 1] = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";
static const char format_below[] = "<%lld";
static const char format_above[] = ">%lld";
static const char format_number[] = "%lld";
static const char value_head[] = "value |";
static const char count_head[] = " count\n";
static const char bar_start[] = " |";
_Static_assert(sizeof(dashes) == BTAP_HIST_WIDTH + 1 && sizeof(ats) == BTAP_HIST_WIDTH + 1,
               "the bar strings are BTAP_HIST_WIDTH long");
_Static_assert(BTAP_HIST_WIDTH <= BTAP_MAX_PAD, "a bar's padding is written in one piece");

// The walks' state. What comes from the buckets (the range, the largest count, the
// position, the last non-empty bucket seen) lives in map cells (`cells`, CELLS longs): the
// verifier does not track map values, so the paths the data's branches make merge at the
// next read instead of multiplying through a row and across the walks' rounds.
enum { CELL_POS, CELL_FIRST, CELL_LAST, CELL_MAX, CELL_SEEN, CELL_SKIP, CELL_ELIDED, CELL_TEMP, CELLS };
_Static_assert(CELLS <= 16, "codegen gives the cells 16 longs (lower_histogram_text.cpp)");

struct hist_text {
  char* dst;
  const long* counts;
  long* cells;
  long kind, start, stop, interval, buckets;
  long from, to, width;  // the rows drawn and the value column's width
  long count_width, scale;
  unsigned long size, limit;
};

static inline __attribute__((always_inline)) long get(long* cells, int i) {
  return *(volatile long*)&cells[i];
}

static inline __attribute__((always_inline)) long set(long* cells, int i, long v) {
  *(volatile long*)&cells[i] = v;
  return get(cells, i);
}

static inline __attribute__((always_inline)) long bucket(const struct hist_text* st, long i) {
  return st->counts[(unsigned long)i & (BTAP_HIST_MAX_BUCKETS - 1)];
}

// A number as "%lld" does, with `prefix` (0 for none) before it, into `text` (24 bytes);
// returns its length.
static inline __attribute__((always_inline)) long number(char* text, long v, char prefix) {
  unsigned long data[1] = {(unsigned long)v};
  long n = 0;
  // Linux 6.1's verifier wants the output buffer written before the call.
  __builtin_memset(text, 0, 24);
  if (prefix == '<')
    n = bpf_snprintf(text, 24, format_below, data, sizeof(data));
  else if (prefix == '>')
    n = bpf_snprintf(text, 24, format_above, data, sizeof(data));
  else
    n = bpf_snprintf(text, 24, format_number, data, sizeof(data));
  return n > 0 ? n - 1 : 0;
}

// Bucket `i`'s label (RenderHistogram's LogLabel and LinearLabel).
static inline __attribute__((always_inline)) long label(const struct hist_text* st, long i,
                                                        char* text) {
  if (st->kind == BTAP_HIST_KIND_LOG) {
    if (i == BTAP_HIST_LOG_ZERO) return number(text, 0, 0);
    if (i > BTAP_HIST_LOG_ZERO)
      return number(text, (long)(1ul << ((i - BTAP_HIST_LOG_ZERO - 1) & 63)), 0);
    // -2^63 wraps to itself, whose text is the same.
    return number(text, -(long)(1ul << ((BTAP_HIST_LOG_ZERO - 1 - i) & 63)), 0);
  }
  if (i == 0) return number(text, st->start, '<');
  // stap's overflow label: the last row's label plus one interval (`stop` when the
  // interval divides stop - start).
  if (i == st->buckets - 1) return number(text, st->start + (i - 2) * st->interval, '>');
  return number(text, st->start + (i - 1) * st->interval, 0);
}

BTAP_CALLBACK long btap_cb_hist_range(unsigned long i, void* ctx) {
  struct hist_text* st = ctx;
  if ((long)i >= st->buckets) return 1;
  long c = bucket(st, (long)i);
  if (!c) return 0;
  if (get(st->cells, CELL_FIRST) < 0) set(st->cells, CELL_FIRST, (long)i);
  set(st->cells, CELL_LAST, (long)i);
  if (c > get(st->cells, CELL_MAX)) set(st->cells, CELL_MAX, c);
  return 0;
}

// Once: the rows drawn and the value column's width, as stap's drawing has them (a
// callback, so that their branches do not multiply the verifier's walk of what follows).
// @hist_linear's `<start` and `>stop` rows are drawn only when they count something. The
// width comes from the first and last rows' labels for @hist_log; for @hist_linear from
// `start` and from start + interval * to (a value one row past the last label), each
// with one more for a `<`/`>` row drawn.
BTAP_CALLBACK long btap_cb_hist_width(unsigned long j, void* ctx) {
  struct hist_text* st = ctx;
  char text[24];
  long low, high;
  if (st->kind == BTAP_HIST_KIND_LOG) {
    low = label(st, st->from, text);
    high = label(st, st->to, text);
  } else {
    if (st->from == 0 && !bucket(st, 0)) st->from = 1;
    if (st->to == st->buckets - 1 && !bucket(st, st->to)) st->to -= 1;
    low = number(text, st->start, 0) + (st->from == 0);
    high = number(text, st->start + st->interval * st->to, 0) + (st->to == st->buckets - 1);
  }
  long width = low > high ? low : high;
  st->width = width > BTAP_HIST_VALUE_WIDTH ? width : BTAP_HIST_VALUE_WIDTH;
  return 1;
}

// A row in four rounds (the round's number is j's low two bits), each with a few pieces of
// the row: branches in one round add to the verifier's walk instead of multiplying it.
// Round 0: whether the row is drawn (else a `~` row for a run of elided ones); 1: the
// label and " |"; 2: the bar and its padding; 3: the count and the line's end.
BTAP_CALLBACK long btap_cb_hist_row(unsigned long j, void* ctx) {
  struct hist_text* st = ctx;
  long* cells = st->cells;
  long i = st->from + (long)(j >> 2), pos = get(cells, CELL_POS);
  if (i > st->to || pos + 1 >= (long)st->limit) return 1;
  char* dst = st->dst;
  unsigned long size = st->size, limit = st->limit;
  char text[24];
  long n = 0;
  // Two bit tests, not a comparison of j & 3 with each round (which the compiler makes a
  // jump table, which BPF has not).
  long second_half = (long)(j & 2), odd = (long)(j & 1);
  if (!second_half && !odd) {
    // The last non-empty bucket up to BTAP_HIST_ELISION rows on: the row is drawn when
    // it is no more than BTAP_HIST_ELISION rows back (the buckets past `to` are empty).
    long ahead = i + BTAP_HIST_ELISION;
    if (ahead <= st->to && bucket(st, ahead)) set(cells, CELL_SEEN, ahead);
    if (get(cells, CELL_SEEN) >= i - BTAP_HIST_ELISION) {
      set(cells, CELL_SKIP, 0);
      set(cells, CELL_ELIDED, 0);
      return 0;
    }
    set(cells, CELL_SKIP, 1);
    if (get(cells, CELL_ELIDED)) return 0;
    set(cells, CELL_ELIDED, 1);
    // stap's mark sits under the rows' `|`.
    pos = set(cells, CELL_POS,
              write_at(dst, pos, spaces, st->width + 1, BTAP_MAX_PAD, size, limit));
    pos = set(cells, CELL_POS, put(dst, pos, '~', size, limit));
    set(cells, CELL_POS, put(dst, pos, '\n', size, limit));
    return 0;
  }
  if (get(cells, CELL_SKIP)) return 0;
  if (!second_half) {
    n = label(st, i, text);
    pos = set(cells, CELL_POS,
              write_at(dst, pos, spaces, st->width - n, BTAP_MAX_PAD, size, limit));
    pos = set(cells, CELL_POS, write_at(dst, pos, text, n, 23, size, limit));
    set(cells, CELL_POS, write_at(dst, pos, bar_start, 2, 2, size, limit));
    return 0;
  }
  if (!odd) {
    unsigned long bar = (unsigned long)bucket(st, i) / (unsigned long)st->scale;
    if (bar > BTAP_HIST_WIDTH) bar = BTAP_HIST_WIDTH;
    pos = set(cells, CELL_POS, write_at(dst, pos, ats, (long)bar, BTAP_HIST_WIDTH, size, limit));
    pos = set(cells, CELL_POS, write_at(dst, pos, spaces, BTAP_HIST_WIDTH - (long)bar,
                                        BTAP_HIST_WIDTH, size, limit));
    set(cells, CELL_POS, put(dst, pos, ' ', size, limit));
    return 0;
  }
    n = number(text, bucket(st, i), 0);
    pos = set(cells, CELL_POS,
              write_at(dst, pos, spaces, st->count_width - n, BTAP_MAX_PAD, size, limit));
    pos = set(cells, CELL_POS, write_at(dst, pos, text, n, 23, size, limit));
    set(cells, CELL_POS, put(dst, pos, '\n', size, limit));
    return 0;
}

// The table of the merged statistics value whose buckets are at `counts` (`buckets` of
// them, the buffer BTAP_HIST_MAX_BUCKETS long), of kind BTAP_HIST_KIND_*, a blank line
// after it and, for sprintln, another; "" when every bucket is empty. `cells`: CELLS longs of
// a map value.
BTAP_LIB long btap_hist_text(char* dst, const long* counts, long kind, long start, long stop,
                             long interval, long buckets, long line, long* cells,
                             unsigned long size, unsigned long limit) {
  if (buckets > BTAP_HIST_MAX_BUCKETS) buckets = BTAP_HIST_MAX_BUCKETS;
  struct hist_text st = {dst, counts, cells, kind, start, stop, interval, buckets};
  st.size = size;
  st.limit = limit;
  set(cells, CELL_FIRST, -1);
  set(cells, CELL_LAST, -1);
  set(cells, CELL_MAX, 0);
  bpf_loop(BTAP_HIST_MAX_BUCKETS, btap_cb_hist_range, &st, 0);
  long first = get(cells, CELL_FIRST), last = get(cells, CELL_LAST), max = get(cells, CELL_MAX);
  if (first < 0) return finish(dst, 0, size, limit);
  // Each value the walks read goes through a cell: its few possible shapes (a clamp's two
  // sides) would otherwise each have the verifier walk the rows again.
  long lowest = kind == BTAP_HIST_KIND_LOG && first >= BTAP_HIST_LOG_ZERO ? BTAP_HIST_LOG_ZERO : 0;
  st.from = set(cells, CELL_TEMP,
                first - BTAP_HIST_MARGIN < lowest ? lowest : first - BTAP_HIST_MARGIN);
  st.to = set(cells, CELL_TEMP,
              last + BTAP_HIST_MARGIN > buckets - 1 ? buckets - 1 : last + BTAP_HIST_MARGIN);
  bpf_loop(1, btap_cb_hist_width, &st, 0);
  st.from = set(cells, CELL_TEMP, st.from);
  st.to = set(cells, CELL_TEMP, st.to);
  st.width = set(cells, CELL_TEMP, st.width);
  char text[24];
  st.scale = set(cells, CELL_TEMP,
                 max <= BTAP_HIST_WIDTH
                     ? 1
                     : (long)(((unsigned long)max + BTAP_HIST_WIDTH - 1) / BTAP_HIST_WIDTH));
  st.count_width = set(cells, CELL_TEMP, number(text, max, 0));
  // The rows before the first drawn one's look-ahead: the last non-empty of them.
  set(cells, CELL_SEEN, -BTAP_MAX_STRING);
  for (long k = 0; k < BTAP_HIST_ELISION; k++)
    if (st.from + k <= st.to && bucket(&st, st.from + k)) set(cells, CELL_SEEN, st.from + k);
  long pos = set(cells, CELL_POS,
                 write_at(dst, 0, spaces, st.width - BTAP_HIST_VALUE_WIDTH, BTAP_MAX_PAD, size,
                          limit));
  pos = set(cells, CELL_POS, write_at(dst, pos, value_head, 7, 7, size, limit));
  pos = set(cells, CELL_POS, write_at(dst, pos, dashes, BTAP_HIST_WIDTH, BTAP_HIST_WIDTH, size,
                                      limit));
  set(cells, CELL_POS, write_at(dst, pos, count_head, 7, 7, size, limit));
  set(cells, CELL_ELIDED, 0);
  bpf_loop(4 * BTAP_HIST_MAX_BUCKETS, btap_cb_hist_row, &st, 0);
  pos = set(cells, CELL_POS, put(dst, get(cells, CELL_POS), '\n', size, limit));
  if (line) pos = put(dst, pos, '\n', size, limit);
  return finish(dst, pos, size, limit);
}
