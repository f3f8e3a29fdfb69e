// btap's BPF runtime library, text part: strings escaped as stap's string_quoted(),
// text_str() and the buffer readers make them, and the probed process's argument
// vectors (__get_argv()), which are lists of such strings. See strings.c for how the
// library is built.
#include "put.h"

// ---- Text escaped as stap's string_quoted(), text_str() and the buffer readers make it

// Printable ASCII stays itself but for `"` and `\`, which, with the control characters
// that C names (\a \b \f \n \r \t \v), become a backslash and a letter; a UTF-8 character
// of 2 to 4 bytes (not overlong, no surrogate, at most U+10FFFF) becomes \uXXXX or
// \UXXXXXXXX; any other byte three octal digits (a NUL, which only a buffer holds, is
// written \0 and counts as four). The escapes fill at most a budget of bytes: a
// character whose escape does not fit ends the text. Between quotes the budget is two
// less, and a text cut short while input remains ends in `"...` placed so the text fills
// the budget, moved back before an escape it would cut.
//
// What changes from one input byte to the next lives in cells (of the per-CPU scratch map
// in the kernel, where the verifier does not track it, so the rounds' states merge).
enum {
  TEXT_POS,
  TEXT_LEFT,
  TEXT_SKIP,
  TEXT_ESC,
  TEXT_ESC_LEN,
  TEXT_CUT,
  TEXT_IN,
  TEXT_BUFFER,
  TEXT_TAG,
  TEXT_AFTER,  // input bytes after the one being escaped
  TEXT_LO,     // the escaped character's text, 16 bytes (text_char's lo and hi)
  TEXT_HI,
  TEXT_CELLS
};

// Whether byte `i` of `s` starts symbol text kept in a kernel probe (btap_symbol_tag's
// "\2", a mode letter, the process's digits): the runtime makes its text where it prints
// the string, so escaping, padding or cutting it here would work on the tag.
static inline __attribute__((always_inline)) int tag_at(const char* s, unsigned long i,
                                                        unsigned long size) {
  char mode = s[(i + 1) & (size - 1)], digit = s[(i + 2) & (size - 1)];
  return s[i & (size - 1)] == 2 && mode >= 'B' && mode <= 'Z' && digit >= '0' && digit <= '9';
}

// (The input's length and whether it is a buffer are cells too: the main program's
// stack, which holds this state, is what a probe runs short of.)
struct text_state {
  char* dst;
  const char* s;
  long* cell;
  unsigned long size, limit;
};

// What a byte is to the escapes: its letter after a backslash (\a ... \\), 1 when it is
// printable as itself, 0 when it is written in octal; a lead byte of UTF-8 is 0 here and
// told apart by text_lead. Tables, read with the byte as index, keep the verifier from
// walking a branch per kind of byte in every round.
static const char text_kind[256] = {
    [7] = 'a',  [8] = 'b',  [9] = 't',  [10] = 'n', [11] = 'v', [12] = 'f', [13] = 'r',
    [32 ... 33] = 1,  ['"'] = '"', [35 ... 91] = 1,  ['\\'] = '\\', [93 ... 126] = 1,
};
// A lead byte's length (2 to 4), else 1.
static const char text_lead[256] = {[0xc0 ... 0xdf] = 2, [0xe0 ... 0xef] = 3,
                                    [0xf0 ... 0xf7] = 4, [0 ... 0xbf] = 1, [0xf8 ... 0xff] = 1};

// An escaped character's text, 16 bytes, lowest byte first: what TEXT_LO and TEXT_HI hold.
struct text_out {
  long lo, hi;
};

// One character, from its first bytes (`bytes`, the first in the lowest byte; `after`:
// how many input bytes follow the first): its escape in `out` (lowest byte first),
// and, returned, its input bytes | the budget it takes << 8 | the bytes written << 16
// | whether it is not NUL << 24. In the kernel it is a global function, which the
// verifier checks once, not in every round of every call's loop (which made a probe
// with a few escapes too long for it).
static inline __attribute__((always_inline)) long text_char(unsigned long bytes, long after,
                                                            struct text_out* out) {
  unsigned long b = bytes & 0xff, c1 = (bytes >> 8) & 0xff, c2 = (bytes >> 16) & 0xff,
                c3 = (bytes >> 24) & 0xff;
  long n = text_lead[b];
  if (n > after + 1) n = 1;
  unsigned long lead = b & (0xff >> (n + 1));
  unsigned long cp = n == 2   ? (lead << 6) | (c1 & 0x3f)
                     : n == 3 ? (lead << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f)
                              : (lead << 18) | ((c1 & 0x3f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f);
  // Bits set for the continuation bytes that are not 10xxxxxx.
  unsigned long bad = ((c1 & 0xc0) ^ 0x80) | (n > 2 ? (c2 & 0xc0) ^ 0x80 : 0) |
                      (n > 3 ? (c3 & 0xc0) ^ 0x80 : 0);
  unsigned long low = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
  if (n == 1 || bad || cp < low || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    n = 1;
    cp = b;
  }
  long kind = text_kind[b], num, wrote;
  unsigned long text_lo, text_hi = 0;
  if (n > 1) {
    long digits = cp <= 0xffff ? 4 : 8;
    num = digits + 2;
    // The digits, the last one in the lowest byte: each nibble spread to a byte of its
    // own, then '0' added to all and 7 more to those past 9, all bytes at once (a digit
    // at a time kept more values live than registers, and spilled them to the stack).
    unsigned long hex = cp & 0xffffffff;
    hex = (hex | (hex << 16)) & 0x0000ffff0000ffffull;
    hex = (hex | (hex << 8)) & 0x00ff00ff00ff00ffull;
    hex = (hex | (hex << 4)) & 0x0f0f0f0f0f0f0f0full;
    hex += 0x3030303030303030ull + (((hex + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull) * 7;
    unsigned long rev = __builtin_bswap64(hex) >> (8 * (8 - digits));  // highest first
    text_lo = '\\' | ((unsigned long)(digits == 4 ? 'u' : 'U') << 8) | (rev << 16);
    text_hi = rev >> 48;
  } else if (kind == 1) {
    num = 1;
    text_lo = b;
  } else if (kind) {
    num = 2;
    text_lo = '\\' | ((unsigned long)kind << 8);
  } else if (!b) {
    num = 4;  // written \0, counted as stap counts it
    text_lo = '\\' | ((unsigned long)'0' << 8);
  } else {
    num = 4;
    text_lo = '\\' | ((unsigned long)('0' + ((b >> 6) & 3)) << 8) |
              ((unsigned long)('0' + ((b >> 3) & 7)) << 16) |
              ((unsigned long)('0' + (b & 7)) << 24);
  }
  wrote = !b && n == 1 ? 2 : num;
  out->lo = (long)text_lo;
  out->hi = (long)text_hi;
  return n | (num << 8) | (wrote << 16) | ((long)(cp != 0) << 24);
}

// text_char for the kernel's loops. (btap's interpreter runs programs without calls to
// functions of their own, so its loop inlines text_char.)
// Its text goes through one pointer (16 bytes: bpflib.cpp describes a `[static N]`
// parameter so), not one per half: with two, and the hexadecimal digits made one at a
// time, its frame held 40 bytes of spills, 64 as Linux 6.1 counts a frame, which put
// string_quoted() in a probe of 416 bytes past 512.
__attribute__((noinline)) long btap_global_text_char(unsigned long bytes, long after,
                                                     unsigned char text[static 16]) {
  // The kernel passes a global function's pointers as possibly null; [static] lets clang
  // drop this check unless the pointer is hidden from it.
  unsigned long at = (unsigned long)text;
  asm volatile("" : "+r"(at));
  if (!at) return 0;
  return text_char(bytes, after, (struct text_out*)at);
}

// Writes the character text_char made (`made`: its counts) into the output.
static inline __attribute__((always_inline)) long text_put(struct text_state* st, long made) {
  long* cell = st->cell;
  long n = made & 0xff, num = (made >> 8) & 0xff, wrote = (made >> 16) & 0xff;
  long pos = cell[TEXT_POS], left = cell[TEXT_LEFT];
  if (num > 1 && cell[TEXT_ESC] < 0 && left - 3 < num) {
    cell[TEXT_ESC] = pos;
    cell[TEXT_ESC_LEN] = num;
  }
  if (left < num) {
    cell[TEXT_CUT] = ((made >> 24) & 1) && cell[TEXT_AFTER] - (n - 1) > 0;
    return 1;
  }
  pos = write_at(st->dst, pos, (const char*)&cell[TEXT_LO], wrote, 10, st->size, st->limit);
  cell[TEXT_POS] = pos;
  cell[TEXT_LEFT] = left - num;
  cell[TEXT_SKIP] = n - 1;
  return 0;
}

// One input byte: 1 when the text ends there.
static inline __attribute__((always_inline)) long text_step(struct text_state* st,
                                                            unsigned long i, long kernel) {
  long* cell = st->cell;
  unsigned long size = st->size;
  long in = cell[TEXT_IN];
  if ((long)i >= in) return 1;
  if (cell[TEXT_SKIP] > 0) {  // a continuation byte of the character just written
    cell[TEXT_SKIP] -= 1;
    return 0;
  }
  unsigned char b = (unsigned char)st->s[i & (size - 1)];
  if (!b && !cell[TEXT_BUFFER]) return 1;
  if (b == 2 && !cell[TEXT_BUFFER] && tag_at(st->s, i, size)) {  // an error for the caller
    cell[TEXT_TAG] = 1;
    return 1;
  }
  long left = cell[TEXT_LEFT];
  if (left <= 0) {
    cell[TEXT_CUT] = b != 0;
    return 1;
  }
  long after = in - (long)i - 1;  // input bytes after this one
  unsigned long bytes = b | ((unsigned long)(unsigned char)st->s[(i + 1) & (size - 1)] << 8) |
                        ((unsigned long)(unsigned char)st->s[(i + 2) & (size - 1)] << 16) |
                        ((unsigned long)(unsigned char)st->s[(i + 3) & (size - 1)] << 24);
  // The text, and all that is needed after the call, in cells rather than on this
  // callback's stack (its spills too: only `st` lives across the call): Linux 6.1 adds the
  // callback's frame to its caller's (a handler's) and to the global function's, at most
  // 512 bytes in all. Cells are map memory, whose values no verifier takes as known (older
  // ones, before 6.8, took stack bytes as still zero after the global call).
  cell[TEXT_AFTER] = after;
  cell[TEXT_LO] = 0;
  cell[TEXT_HI] = 0;
  struct text_out* out = (struct text_out*)&cell[TEXT_LO];
  long made = kernel ? btap_global_text_char(bytes, after, (unsigned char*)out)
                     : text_char(bytes, after, out);
  return text_put(st, made);
}

// The budget and opening quote; `out` is the most bytes of text (0 or more than a string
// holds: all it holds). 0 when there is nothing to escape (a buffer of no length).
static inline __attribute__((always_inline)) long text_begin(struct text_state* st, long in,
                                                             long out, long flags) {
  long* cell = st->cell;
  long whole = (long)st->limit - 1, quoted = flags & 1;
  cell[TEXT_IN] = in;
  cell[TEXT_BUFFER] = (flags >> 1) & 1;
  cell[TEXT_POS] = 0;
  if (cell[TEXT_BUFFER] && out <= 0) {
    cell[TEXT_LEFT] = 0;
    return 0;
  }
  if (out <= 0 || out > whole) out = whole;
  if (quoted) {
    out = (out < 5 ? 5 : out) - 2;
    cell[TEXT_POS] = put(st->dst, 0, '"', st->size, st->limit);
  }
  cell[TEXT_LEFT] = out;
  cell[TEXT_SKIP] = 0;
  cell[TEXT_ESC] = -1;
  cell[TEXT_ESC_LEN] = 0;
  cell[TEXT_CUT] = 0;
  cell[TEXT_TAG] = 0;
  return 1;
}

// The text's length; -1 when symbol text stopped it.
static inline __attribute__((always_inline)) long text_end(struct text_state* st, long quoted) {
  long* cell = st->cell;
  unsigned long size = st->size, limit = st->limit;
  long pos = cell[TEXT_POS];
  if (cell[TEXT_TAG]) {
    finish(st->dst, 0, size, limit);
    return -1;
  }
  if (quoted && cell[TEXT_CUT]) {
    long at = pos - 3 + cell[TEXT_LEFT], esc = cell[TEXT_ESC];
    if (esc >= 0 && esc < at && at < esc + cell[TEXT_ESC_LEN]) at = esc;
    if (at > pos) at = pos;
    if (at < 0) at = 0;
    pos = put(st->dst, put(st->dst, at, '"', size, limit), '.', size, limit);
    pos = put(st->dst, put(st->dst, pos, '.', size, limit), '.', size, limit);
  } else if (quoted) {
    pos = put(st->dst, pos, '"', size, limit);
  }
  return finish(st->dst, pos, size, limit);
}

// `in` bytes of `s` (to its NUL unless `flags` & 2: a buffer) escaped into at most `out`
// bytes, between quotes when `flags` & 1; `cell` holds TEXT_CELLS longs. The interpreter
// runs the plain loop.
BTAP_LIB long btap_text(char* dst, const char* s, long in, long out, long flags, long* cell,
                        unsigned long size, unsigned long limit) {
  struct text_state st = {dst, s, cell, size, limit};
  if (!text_begin(&st, in, out, flags)) return finish(dst, 0, size, limit);
  for (unsigned long i = 0; i < BTAP_MAX_STRING; i++)
    if (text_step(&st, i, 0)) break;
  return text_end(&st, flags & 1);
}

// btap_text in the kernel: one bpf_loop round per input byte.
BTAP_CALLBACK long btap_cb_text(unsigned long i, void* ctx) { return text_step(ctx, i, 1); }

BTAP_LIB long btap_text_loop(char* dst, const char* s, long in, long out, long flags, long* cell,
                             unsigned long size, unsigned long limit) {
  struct text_state st = {dst, s, cell, size, limit};
  if (!text_begin(&st, in, out, flags)) return finish(dst, 0, size, limit);
  unsigned long rounds = in < 0 ? 0 : (unsigned long)in;
  bpf_loop(rounds < BTAP_MAX_STRING ? rounds : BTAP_MAX_STRING, btap_cb_text, &st, 0);
  return text_end(&st, flags & 1);
}

// Whether `s` holds symbol text kept in a kernel probe (see tag_at): 1 or 0.
struct tag_state {
  const char* s;
  unsigned long size;
  long found;
};

BTAP_CALLBACK long btap_cb_tag(unsigned long i, void* ctx) {
  struct tag_state* st = ctx;
  if (!st->s[i & (st->size - 1)]) return 1;
  if (!tag_at(st->s, i, st->size)) return 0;
  st->found = 1;
  return 1;
}

BTAP_LIB long btap_has_tag(const char* s, unsigned long size, unsigned long limit) {
  struct tag_state st = {s, size, 0};
  bpf_loop(limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING, btap_cb_tag, &st, 0);
  return st.found;
}

#define BTAP_MAX_ARGS 1024

// An argument vector of the probed process (argv, envp: user pointers ending with a null
// one) as stap's __get_argv() gives it: ["a", "b"], each string quoted and escaped as
// user_string_quoted() does. Two loops, neither inside the other (nested, the verifier
// took half a second per call): the strings are copied raw, NUL after NUL, into `tmp`
// (a string slot), then escaped in one pass in which a NUL separates two of them. A
// pointer or string that cannot be read ends the list with its address, unquoted.
struct argv_state {
  char* tmp;
  long* cell;  // bytes used in tmp
  unsigned long argv, size, limit, fault;
};

BTAP_CALLBACK long btap_cb_argv(unsigned long i, void* ctx) {
  struct argv_state* st = ctx;
  unsigned long size = st->size, limit = st->limit, p = 0, at = st->argv + 8 * i;
  long used = *st->cell;
  if (used < 0 || used + 1 >= (long)limit) return 1;
  if (bpf_probe_read_user(&p, 8, (const void*)at) < 0) {
    st->fault = at;
    return 1;
  }
  if (!p) return 1;
  // At most what is left of the string and of the slot; the masks are what the verifier
  // bounds both by.
  unsigned long into = btap_masked(used, size);
  unsigned long room = limit - (unsigned long)used;
  if (room > size - into) room = size - into;
  room = btap_masked((long)room - 1, size) + 1;
  long got = bpf_probe_read_user_str(st->tmp + into, room, (const void*)p);
  if (got <= 0) {
    st->fault = p;
    return 1;
  }
  *st->cell = used + got;
  return 0;
}

struct list_state {
  struct text_state text;  // its TEXT_IN: the bytes of the strings, the last NUL left out
};

BTAP_CALLBACK long btap_cb_escape_list(unsigned long i, void* ctx) {
  struct list_state* ls = ctx;
  struct text_state* st = &ls->text;
  unsigned long size = st->size, limit = st->limit;
  long* cell = st->cell;
  if ((long)i >= cell[TEXT_IN]) return 1;
  if (cell[TEXT_SKIP] <= 0 && !st->s[i & (size - 1)]) {  // between two strings
    long pos = put(st->dst, put(st->dst, cell[TEXT_POS], '"', size, limit), ',', size, limit);
    cell[TEXT_POS] = put(st->dst, put(st->dst, pos, ' ', size, limit), '"', size, limit);
    return 0;
  }
  cell[TEXT_LEFT] = (long)limit;  // the list is cut where the string ends
  text_step(st, i, 1);
  return 0;
}

BTAP_LIB long btap_user_argv_loop(char* dst, unsigned long argv, long first, char* tmp,
                                  long* cell, unsigned long size, unsigned long limit) {
  struct argv_state st = {tmp, cell, argv + 8 * (unsigned long)first, size, limit, 0};
  *cell = 0;
  if (argv && first >= 0) bpf_loop(BTAP_MAX_ARGS, btap_cb_argv, &st, 0);
  long used = *cell, pos = put(dst, 0, '[', size, limit);
  if (used > 0) {
    // The last string's NUL is no separator.
    struct list_state ls = {{dst, tmp, cell, size, limit}};
    cell[TEXT_POS] = put(dst, pos, '"', size, limit);
    cell[TEXT_SKIP] = 0;
    cell[TEXT_IN] = used - 1;
    // As a buffer: the NULs never reach text_step here (they part the strings), and
    // the user's memory holds no symbol text, so none is looked for.
    cell[TEXT_BUFFER] = 1;
    bpf_loop(limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING, btap_cb_escape_list, &ls, 0);
    pos = put(dst, cell[TEXT_POS], '"', size, limit);
  }
  if (st.fault) {
    if (used > 0) pos = put(dst, put(dst, pos, ',', size, limit), ' ', size, limit);
    pos = put_hex(dst, pos, st.fault, size, limit);
  }
  pos = put(dst, pos, ']', size, limit);
  return finish(dst, pos, size, limit);
}

// The same vector for the runtime to format (`%{argv}s`, which print folding writes): only
// the copying loop runs here. `out` gets a u32 length (8 + the bytes copied), the
// unreadable address (0: none) and then the strings, NUL after NUL, as an output record
// carries a string: BuildRecord copies it whole.
BTAP_LIB long btap_user_argv_raw(char* out, unsigned long argv, long first, long* cell,
                                 unsigned long size, unsigned long limit) {
  struct argv_state st = {out + 12, cell, argv + 8 * (unsigned long)first, size, limit, 0};
  *cell = 0;
  if (argv && first >= 0) bpf_loop(BTAP_MAX_ARGS, btap_cb_argv, &st, 0);
  long used = *cell;
  if (used < 0 || used > (long)limit) used = 0;
  *(unsigned int*)out = (unsigned int)(8 + used);
  __builtin_memcpy(out + 4, &st.fault, 8);
  return used;
}

// Arguments n to m (all from n when m < 0) of a command line laid out as the kernel keeps
// it (NUL-terminated strings from `start` to `end` in the process's memory), joined by
// `delim`, an empty one as "" (stap's cmdline_args()).
struct args_state {
  char* dst;
  char* tmp;
  long* cell;
  const char* delim;
  unsigned long start, end;
  long n, m;
  unsigned long size, limit;
};

BTAP_CALLBACK long btap_cb_args(unsigned long i, void* ctx) {
  struct args_state* st = ctx;
  unsigned long size = st->size, limit = st->limit;
  if (st->start >= st->end || (st->m >= 0 && (long)i > st->m)) return 1;
  // An unreadable argument reads as "" and the next one starts a byte on, as stap's loop
  // of user_string(addr, "") does.
  long got = bpf_probe_read_user_str(st->tmp, limit, (const void*)st->start);
  if (got <= 0) {
    st->tmp[0] = 0;
    got = 1;
  }
  st->start += (unsigned long)got;
  if ((long)i < st->n) return 0;
  long pos = *st->cell;
  if (pos + 1 >= (long)limit) return 1;
  if ((long)i > st->n) {
    pos += copy_at(st->dst, pos, st->delim, (long)limit, size, limit);
    if (got == 1) {
      pos = put(st->dst, put(st->dst, pos, '"', size, limit), '"', size, limit);
      *st->cell = pos;
      return 0;
    }
  }
  *st->cell = pos + copy_at(st->dst, pos, st->tmp, (long)limit, size, limit);
  return 0;
}

BTAP_LIB long btap_user_args_loop(char* dst, unsigned long start, unsigned long end, long n,
                                  long m, const char* delim, char* tmp, long* cell,
                                  unsigned long size, unsigned long limit) {
  struct args_state st = {dst, tmp, cell, delim, start, end, n, m, size, limit};
  *cell = 0;
  if (start && end && n >= 0) bpf_loop(BTAP_MAX_ARGS, btap_cb_args, &st, 0);
  return finish(dst, *cell, size, limit);
}
