// btap's BPF runtime library, string part: compiled by clang-16 to LLVM bitcode when
// btap is built, linked into each script's module (only what it calls), then inlined.
// Every loop has a constant bound so that the kernel's verifier accepts it.
#include "bpflib.h"
#include "put.h"

// Compares two NUL-terminated strings of at most `size` bytes: <0, 0 or >0, as strcmp.
BTAP_LIB long btap_strcmp(const char* a, const char* b, unsigned long size) {
  for (unsigned long i = 0; i < BTAP_MAX_STRING && i < size; i++) {
    unsigned char x = a[i], y = b[i];
    if (x != y) return (long)x - (long)y;
    if (!x) return 0;
  }
  return 0;
}

// Writes `value` in decimal to `out` (at least 21 bytes), NUL-terminated; returns the
// number of characters written.
BTAP_LIB long btap_ltoa(char* out, long value) {
  char digits[20];
  unsigned long v = value < 0 ? 0 - (unsigned long)value : (unsigned long)value;
  int n = 0;
  for (int i = 0; i < 20; i++) {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
    if (!v) break;
  }
  int len = 0;
  if (value < 0) out[len++] = '-';
  for (int i = 0; i < 20 && i < n; i++) out[len++] = digits[n - 1 - i];
  out[len] = 0;
  return len;
}

// Writes `a` followed by `b` into `dst`, truncated to `limit` - 1 bytes and terminated.
// `size` is the power-of-two size of a string slot (>= limit): masking with it is what
// lets the verifier bound the second copy's address.
BTAP_LIB long btap_concat(char* dst, const char* a, const char* b, unsigned long size,
                          unsigned long limit) {
  long n = bpf_probe_read_kernel_str(dst, limit, a);
  if (n < 1) {
    dst[0] = 0;
    n = 1;
  }
  unsigned long used = (unsigned long)(n - 1) & (size - 1);
  if (used + 1 >= limit) return used;
  long m = bpf_probe_read_kernel_str(dst + used, limit - used, b);
  return m < 1 ? used : used + m - 1;
}

// The length of a NUL-terminated string of at most `size` bytes.
BTAP_LIB long btap_strlen(const char* s, unsigned long size) {
  for (unsigned long i = 0; i < BTAP_MAX_STRING && i < size; i++)
    if (!s[i]) return i;
  return size;
}

// Copies at most `length` bytes of `s` from byte `start` into `dst` (slots of `size`,
// a power of two; strings of at most `limit` - 1 bytes); empty when out of range.
static inline __attribute__((always_inline)) long substr_copy(char* dst, const char* s, long n,
                                                              long start, long length,
                                                              unsigned long size,
                                                              unsigned long limit) {
  long count = 0;
  if (start >= 0 && start < n && length > 0) {
    count = n - start < length ? n - start : length;
    if (count > (long)limit - 1) count = (long)limit - 1;
  }
  // One copy, not a loop whose exit depends on the length (the verifier would walk what
  // follows once for every length).
  unsigned long copied = btap_masked(count, size);
  if (copied && bpf_probe_read_kernel(dst, copied, s + btap_masked(start, size))) copied = 0;
  dst[copied & (size - 1)] = 0;
  return (long)copied;
}

BTAP_LIB long btap_substr(char* dst, const char* s, long start, long length, unsigned long size,
                          unsigned long limit) {
  return substr_copy(dst, s, btap_strlen(s, limit), start, length, size, limit);
}

// The byte offset of the first occurrence of `needle` in `s`, or -1.
BTAP_LIB long btap_strpos(const char* s, const char* needle, unsigned long size,
                          unsigned long limit) {
  long n = btap_strlen(s, limit), m = btap_strlen(needle, limit);
  for (long at = 0; at < BTAP_MAX_STRING && at + m <= n; at++) {
    long j = 0;
    for (; j < BTAP_MAX_STRING && j < m; j++)
      if (s[(unsigned long)(at + j) & (size - 1)] != needle[(unsigned long)j & (size - 1)]) break;
    if (j == m) return at;
  }
  return -1;
}

// The byte at `pos`, or -1 when `pos` is outside the string.
BTAP_LIB long btap_stringat(const char* s, long pos, unsigned long size, unsigned long limit) {
  long n = btap_strlen(s, limit);
  if (pos < 0 || pos >= n) return -1;
  return (unsigned char)s[(unsigned long)pos & (size - 1)];
}

// ---- Kernel-side string formatting (sprintf): one directive at a time, by stap's rules
// (runtime/format.cpp is the reference). `dst` is a slot of `size` bytes (a power of
// two); output stops at `limit` - 1 bytes. Each function returns the new end.

// Where a right-justified string is measured: the kernel's string copy into a sink no one
// reads (CPUs may share it) says where its NUL is, however little room the result has left
// (measured in place, a string cut at the end of the result looked shorter than it is, and
// took more padding than the user side gives it).
static char btap_length_sink[BTAP_MAX_STRING] __attribute__((section(".bss"), aligned(8)));

// `src` (at most `precision` bytes when precision >= 0) in a field of `width`.
BTAP_LIB long btap_put_str(char* dst, long pos, const char* src, long width, long precision,
                           long left, unsigned long size, unsigned long limit) {
  long max = precision >= 0 ? precision : (long)limit;
  long n = copy_at(dst, pos, src, max, size, limit);
  if (width > n && !left) {  // measured whole; now pad, then copy again after it
    unsigned long room = limit;
    if ((unsigned long)max + 1 < room) room = (unsigned long)max + 1;
    asm volatile("" : "+r"(room));
    if (room > BTAP_MAX_STRING) room = BTAP_MAX_STRING;
    long got = bpf_probe_read_kernel_str(btap_length_sink, room, src);
    n = got > 1 ? got - 1 : 0;
    pos = pad_at(dst, pos, spaces, width - n, size, limit);
    n = copy_at(dst, pos, src, max, size, limit);
  }
  pos += n;
  if (width > n && left) pos = pad_at(dst, pos, spaces, width - n, size, limit);
  return finish(dst, pos, size, limit);
}

// tokenize(): the next non-empty token (bytes none of which is in `delim`) of the string
// kept in `state` (`size` bytes, then the position reached, a long, two longs and the
// delimiter set, 32 bytes, of btap_tokenize_loop's; the caller puts a new string there);
// "" when none is left.
BTAP_LIB long btap_tokenize(char* dst, char* state, const char* delim, unsigned long size,
                            unsigned long limit) {
  long* at = (long*)(state + size);
  unsigned long long bits[4] = {0, 0, 0, 0};  // the delimiters, one bit per byte value
  for (unsigned long i = 0; i < BTAP_MAX_STRING && i < limit; i++) {
    unsigned char c = delim[btap_masked(i, size)];
    if (!c) break;
    bits[(c >> 6) & 3] |= 1ull << (c & 63);
  }
  long start = *at, from = start, n = 0;
  if (start < 0 || start >= (long)limit) start = from = (long)limit - 1;
  int in_token = 0;
  for (unsigned long i = 0; i < BTAP_MAX_STRING && i < limit; i++) {
    long p = start + (long)i;
    if (p >= (long)limit) break;
    unsigned char c = state[btap_masked(p, size)];
    int is_delim = c && ((bits[(c >> 6) & 3] >> (c & 63)) & 1);
    if (!c || (is_delim && in_token)) {
      from = p;
      break;
    }
    from = p + 1;
    if (is_delim) continue;
    in_token = 1;
    dst[btap_masked(n, size)] = c;
    n++;
  }
  dst[btap_masked(n < (long)limit ? n : (long)limit - 1, size)] = 0;
  *at = from;
  return n;
}

// btap_tokenize in the kernel: bpf_loop rounds over the delimiters, then over the string,
// with the position, the token's length, whether it began and the delimiters kept in the
// state (a map value: the verifier does not track what it holds, so the rounds' states
// merge). Only the pointers and sizes are on the caller's stack, the two loops' in the same
// bytes: the caller may be a script loop's bpf_loop callback, whose frame Linux 6.1 adds
// to its handler's (psig.stp's). `at` is the state's counts, `bits` the delimiter set.
struct delim_state {
  const char* delim;
  char* state;
  unsigned long size;
};

static inline __attribute__((always_inline)) long* tokenize_at(char* state, unsigned long size) {
  return (long*)(state + size);
}

static inline __attribute__((always_inline)) unsigned long long* tokenize_bits(
    char* state, unsigned long size) {
  return (unsigned long long*)(state + size + 24);
}

BTAP_CALLBACK long btap_cb_delim(unsigned long i, void* ctx) {
  struct delim_state* st = ctx;
  unsigned char c = (unsigned char)st->delim[i & (st->size - 1)];
  if (!c) return 1;
  tokenize_bits(st->state, st->size)[(c >> 6) & 3] |= 1ull << (c & 63);
  return 0;
}

struct token_state {
  char* dst;
  char* state;
  unsigned long size, limit;
  long start;
};

BTAP_CALLBACK long btap_cb_token(unsigned long i, void* ctx) {
  struct token_state* st = ctx;
  long p = st->start + (long)i, *at = tokenize_at(st->state, st->size);
  if (p >= (long)st->limit) return 1;
  unsigned char c = (unsigned char)st->state[p & (st->size - 1)];
  unsigned long long* bits = tokenize_bits(st->state, st->size);
  int is_delim = c && ((bits[(c >> 6) & 3] >> (c & 63)) & 1);
  if (!c || (is_delim && at[2])) {
    at[0] = p;
    return 1;
  }
  at[0] = p + 1;
  if (is_delim) return 0;
  at[2] = 1;
  long n = at[1];
  st->dst[n & (st->size - 1)] = (char)c;
  at[1] = n + 1;
  return 0;
}

BTAP_LIB long btap_tokenize_loop(char* dst, char* state, const char* delim, unsigned long size,
                                 unsigned long limit) {
  long* at = tokenize_at(state, size);
  unsigned long long* bits = tokenize_bits(state, size);
  bits[0] = bits[1] = bits[2] = bits[3] = 0;
  unsigned long rounds = limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING;
  union {
    struct delim_state d;
    struct token_state t;
  } st;
  st.d = (struct delim_state){delim, state, size};
  bpf_loop(rounds, btap_cb_delim, &st.d, 0);
  long start = at[0];
  if (start < 0 || start >= (long)limit) start = (long)limit - 1;
  at[0] = start;
  at[1] = 0;
  at[2] = 0;
  st.t = (struct token_state){dst, state, size, limit, start};
  bpf_loop(rounds, btap_cb_token, &st.t, 0);
  long n = at[1];
  if (n < 0 || n >= (long)limit) n = (long)limit - 1;
  dst[btap_masked(n, size)] = 0;
  return n;
}

// Whether `s` holds a match of a regular expression compiled to an automaton
// (codegen/regex_dfa.h): `next` holds 256 next states per state (state 0 the start; the
// table's size a power of two, `mask` that size - 1), `accept` 256 flags by state. Each
// byte, the terminating NUL last, moves the automaton once.
BTAP_LIB long btap_regex_search(const char* s, const unsigned char* next,
                                const unsigned char* accept, unsigned long mask,
                                unsigned long size, unsigned long limit) {
  unsigned long state = 0;
  if (accept[0]) return 1;
  for (unsigned long i = 0; i < BTAP_MAX_STRING && i < limit; i++) {
    unsigned char c = s[btap_masked(i, size)];
    state = next[btap_masked(state * 256 + c, mask + 1)];
    if (accept[state & 255]) return 1;
    if (!c) return 0;
  }
  return 0;
}

// symname()'s and caller()'s name from the kernel's `%ps` (`n` bytes with its NUL): the
// kernel names a module's symbol "name [module]", stap the name alone. Returns its length.
// The search for " [" from the end is a bpf_loop: a plain loop's branches are more than
// 6.1's verifier follows.
struct module_state {
  const char* s;
  unsigned long size;
  long len, cut;
};

BTAP_CALLBACK long btap_cb_module(unsigned long i, void* ctx) {
  struct module_state* st = ctx;
  long at = st->len - 2 - (long)i;
  if (at < 1) return 1;
  if (st->s[at & (st->size - 1)] != '[') return 0;
  if (st->s[(at - 1) & (st->size - 1)] == ' ') st->cut = at - 1;
  return 1;
}

BTAP_LIB long btap_drop_module(char* s, long n, unsigned long size, unsigned long limit) {
  long len = n > 0 && n <= (long)limit ? n - 1 : 0;
  if (len < 2 || s[btap_masked(len - 1, size)] != ']') return len;
  struct module_state st = {s, size, len, -1};
  bpf_loop(limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING, btap_cb_module, &st, 0);
  if (st.cut < 0 || st.cut >= (long)limit) return len;
  s[btap_masked(st.cut, size)] = 0;
  return st.cut;
}

// symdata()'s text from the kernel's `%pS` (`n` bytes with its NUL, as bpf_snprintf
// counts them): a symbol of vmlinux gets " [kernel]", the module name stap gives it (the
// kernel names only modules); an address in hex stays as it is.
BTAP_LIB long btap_mark_vmlinux(char* s, long n, unsigned long size, unsigned long limit) {
  if (n < 2 || s[btap_masked(n - 2, size)] == ']' || (s[0] == '0' && s[1] == 'x')) return n - 1;
  return btap_put_str(s, n - 1, " [kernel]", 0, -1, 0, size, limit);
}

// modname()'s text from the kernel's `%pS` in `s` (`n` bytes with its NUL): the module in
// its brackets, "kernel" for a symbol of vmlinux, and "<unknown>" for an address no
// symbol holds (the hex), as the runtime's text for the address would be.
BTAP_LIB long btap_module_name(char* dst, const char* s, long n, unsigned long size,
                               unsigned long limit) {
  long len = n > 0 && n <= (long)limit ? n - 1 : 0;
  if (len < 1 || (len >= 2 && s[0] == '0' && s[1] == 'x'))
    return btap_put_str(dst, 0, "<unknown>", 0, -1, 0, size, limit);
  struct module_state st = {s, size, len, -1};
  if (s[btap_masked(len - 1, size)] == ']')
    bpf_loop(limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING, btap_cb_module, &st, 0);
  if (st.cut < 0 || st.cut + 3 > len) return btap_put_str(dst, 0, "kernel", 0, -1, 0, size, limit);
  // The offset masked: the bounds above tie st.cut (a callback's) to len, a link the
  // verifier does not keep everywhere (modname() in a loop).
  return btap_put_str(dst, 0, s + btap_masked(st.cut + 2, size), 0, len - 1 - (st.cut + 2), 0,
                      size, limit);
}

// A number (conversions d i u o x X p c) with one flag ('-', '0', '+', ' ', '#' or 0).
BTAP_LIB long btap_put_num(char* dst, long pos, long value, long conv, long flag, long width,
                           long precision, unsigned long size, unsigned long limit) {
  int left = flag == '-';
  if (width < -1) {  // a negative `*` width left-justifies, as in C
    left = 1;
    width = (int)(0u - (unsigned int)width);  // an int's negation: -INT_MIN stays negative
  }
  if (conv == 'c') {
    if (!left) pos = pad_at(dst, pos, spaces, width - 1, size, limit);
    pos = put(dst, pos, (char)value, size, limit);
    if (left) pos = pad_at(dst, pos, spaces, width - 1, size, limit);
    return finish(dst, pos, size, limit);
  }
  int special = flag == '#' || conv == 'p';
  unsigned long base = conv == 'o' ? 8 : (conv == 'x' || conv == 'X' || conv == 'p') ? 16 : 10;
  int is_signed = conv == 'd' || conv == 'i';
  unsigned long magnitude = (unsigned long)value;
  char sign = 0;
  if (is_signed) {
    if (value < 0) {
      sign = '-';
      magnitude = 0 - magnitude;
    } else if (flag == '+') {
      sign = '+';
    } else if (flag == ' ') {
      sign = ' ';
    }
  }
  const char* digits = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  // Digits from the end of the buffer backwards, so that they end up in order.
  char buf[32] = {0};
  long n = 0;
  for (int i = 0; i < 23; i++) {
    buf[btap_masked(31 - n, 32)] = digits[(magnitude % base) & 15];  // 6.1 tracks no negation
    n++;
    magnitude /= base;
    if (!magnitude) break;
  }
  long prefix = special ? (base == 16 ? 2 : base == 8 ? 1 : 0) : 0;
  long zero_count = precision > n ? precision - n : 0;
  long used = (sign ? 1 : 0) + prefix + zero_count + n;
  if (flag == '0' && width > used) {
    zero_count += width - used;
    used = width;
  }
  if (!left) pos = pad_at(dst, pos, spaces, width - used, size, limit);
  if (sign) pos = put(dst, pos, sign, size, limit);
  if (prefix) pos = put(dst, pos, '0', size, limit);
  if (prefix == 2) pos = put(dst, pos, conv == 'X' ? 'X' : 'x', size, limit);
  pos = pad_at(dst, pos, zeros, zero_count, size, limit);
  pos = write_at(dst, pos, buf + btap_masked(32 - n, 32), n, 24, size, limit);
  if (left) pos = pad_at(dst, pos, spaces, width - used, size, limit);
  return finish(dst, pos, size, limit);
}

// The sign and base prefix of a number at the start of `s` (base 2-36; 0 reads a 0x or 0
// prefix): where its digits start, the base in *base, -1 in *base when it is none.
static inline __attribute__((always_inline)) unsigned long strtol_prefix(const char* s, long* base, int* negative,
                                          unsigned long size) {
  unsigned long i = 0;
  *negative = 0;
  if (s[0] == '-' || s[0] == '+') {
    *negative = s[0] == '-';
    i = 1;
  }
  if ((*base == 0 || *base == 16) && s[i & (size - 1)] == '0' &&
      (s[(i + 1) & (size - 1)] == 'x' || s[(i + 1) & (size - 1)] == 'X')) {
    *base = 16;
    i += 2;
  } else if (*base == 0) {
    *base = s[i & (size - 1)] == '0' ? 8 : 10;
  }
  if (*base < 2 || *base > 36) *base = -1;
  return i;
}

// A digit's value in bases up to 36; 99 for a byte that is no digit.
static inline __attribute__((always_inline)) unsigned long strtol_digit(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'z' ? c - 'a' + 10
         : c >= 'A' && c <= 'Z' ? c - 'A' + 10
                                : 99;
}

// The number at the start of `s` in `base` (2-36; 0 reads a 0x or 0 prefix), after an
// optional sign; parsing stops at the first byte that is not a digit.
BTAP_LIB long btap_strtol(const char* s, long base, unsigned long size, unsigned long limit) {
  int negative;
  unsigned long i = strtol_prefix(s, &base, &negative, size);
  if (base < 0) return 0;
  unsigned long value = 0;
  for (unsigned long n = 0; n < BTAP_MAX_STRING && i < limit; n++, i++) {
    unsigned long digit = strtol_digit(s[i & (size - 1)]);
    if (digit >= (unsigned long)base) break;
    value = value * (unsigned long)base + digit;
  }
  return negative ? -(long)value : (long)value;
}

// btap_strtol in the kernel: the digit loop as a bpf_loop, checked once. Walked plain, for a
// base and a string the verifier does not know (a handler whose locals are in scratch, a
// loop's callback), each of its up to 4,096 rounds is walked with its exits pending: a
// script loop calling strtol passed the verifier's million instructions on Linux 6.1.
struct strtol_state {
  const char* s;
  unsigned long base, size, from;
  unsigned long value;
};

BTAP_CALLBACK long btap_cb_strtol(unsigned long n, void* ctx) {
  struct strtol_state* st = ctx;
  unsigned long digit = strtol_digit(st->s[(st->from + n) & (st->size - 1)]);
  if (digit >= st->base) return 1;
  st->value = st->value * st->base + digit;
  return 0;
}

BTAP_LIB long btap_strtol_loop(const char* s, long base, unsigned long size, unsigned long limit) {
  int negative;
  unsigned long i = strtol_prefix(s, &base, &negative, size);
  if (base < 0 || i >= limit) return 0;
  struct strtol_state st = {s, (unsigned long)base, size, i, 0};
  unsigned long rounds = limit - i;
  bpf_loop(rounds < BTAP_MAX_STRING ? rounds : BTAP_MAX_STRING, btap_cb_strtol, &st, 0);
  return negative ? -(long)st.value : (long)st.value;
}

// The `n` bytes at `s` as hex digits, two a byte, as many bytes as fit whole
// (btap_hex_loop) or as many digits as fit (btap_memhex_loop: stap's sprintf %M, whose
// string may end at a byte's first digit).
struct hex_state {
  char* dst;
  const char* s;
  long* cell;
  long n;
  unsigned long size, limit;
  long whole;
};

BTAP_CALLBACK long btap_cb_hex(unsigned long i, void* ctx) {
  struct hex_state* st = ctx;
  long pos = 2 * (long)i;
  if ((long)i >= st->n || pos + 1 + st->whole >= (long)st->limit) return 1;
  unsigned char c = (unsigned char)st->s[i & (st->size - 1)];
  long hi = c >> 4, lo = c & 15;
  // 'a' - '0' - 10 = 39, added where the digit is past 9.
  *st->cell = put(st->dst, pos, (char)('0' + hi + (((9 - hi) >> 63) & 39)), st->size, st->limit);
  *st->cell = put(st->dst, pos + 1, (char)('0' + lo + (((9 - lo) >> 63) & 39)), st->size,
                  st->limit);
  return 0;
}

static inline long hex_loop(char* dst, const char* s, long n, long* cell, unsigned long size,
                            unsigned long limit, long whole) {
  struct hex_state st = {dst, s, cell, n, size, limit, whole};
  *cell = 0;
  bpf_loop(limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING, btap_cb_hex, &st, 0);
  return finish(dst, *cell, size, limit);
}

BTAP_LIB long btap_hex_loop(char* dst, const char* s, long n, long* cell, unsigned long size,
                            unsigned long limit) {
  return hex_loop(dst, s, n, cell, size, limit, 1);
}

BTAP_LIB long btap_memhex_loop(char* dst, const char* s, long n, long* cell, unsigned long size,
                               unsigned long limit) {
  return hex_loop(dst, s, n, cell, size, limit, 0);
}

// An unreadable user pointer's text, as user_string_quoted() gives it: 0x and its hex digits.
BTAP_LIB long btap_address_text(char* dst, unsigned long v, unsigned long size,
                                unsigned long limit) {
  return finish(dst, put_hex(dst, 0, v, size, limit), size, limit);
}

// btap_strpos in the kernel: bpf_loop over the positions of `s`, and a nested bpf_loop
// comparing `find` at one of them.
struct match_state {
  const char* s;
  const char* find;
  long at, m;
  unsigned long size;
  long equal;
};

BTAP_CALLBACK long btap_cb_match(unsigned long j, void* ctx) {
  struct match_state* st = ctx;
  unsigned long size = st->size;
  if ((long)j >= st->m) return 1;
  if (st->s[(unsigned long)(st->at + (long)j) & (size - 1)] != st->find[j & (size - 1)]) {
    st->equal = 0;
    return 1;
  }
  return 0;
}

// Whether `find` (m bytes) occurs in `s` at `at`.
static inline long matches_at(const char* s, const char* find, long at, long m,
                              unsigned long size) {
  struct match_state st = {s, find, at, m, size, 1};
  bpf_loop(m < BTAP_MAX_STRING ? m : BTAP_MAX_STRING, btap_cb_match, &st, 0);
  return st.equal;
}

// The search's state is also the comparison's: `at` is the position compared, -1 once a
// byte differs. A nested callback's frame adds to its caller's on Linux 6.1 (and the
// handler's under both), so the outer one keeps nothing on its stack.
struct search_state {
  const char* s;
  const char* find;
  long at, m;
  unsigned long size;
  long found;
};

BTAP_CALLBACK long btap_cb_search_match(unsigned long j, void* ctx) {
  struct search_state* st = ctx;
  unsigned long size = st->size;
  if ((long)j >= st->m) return 1;
  if (st->s[(unsigned long)(st->at + (long)j) & (size - 1)] != st->find[j & (size - 1)]) {
    st->at = -1;
    return 1;
  }
  return 0;
}

// One round per position where `find` fits in `s` (bounded by the caller's round count).
BTAP_CALLBACK long btap_cb_search(unsigned long at, void* ctx) {
  struct search_state* st = ctx;
  long m = st->m;
  st->at = (long)at;
  bpf_loop(m < BTAP_MAX_STRING ? m : BTAP_MAX_STRING, btap_cb_search_match, st, 0);
  if (st->at < 0) return 0;
  st->found = (long)at;
  return 1;
}

// strlen as a bpf_loop: an unrolled loop's early exits make every later instruction be
// walked once per possible length by older verifiers (6.1).
struct length_state {
  const char* s;
  unsigned long size;
  long n;
};

BTAP_CALLBACK long btap_cb_length(unsigned long i, void* ctx) {
  struct length_state* st = ctx;
  if (st->s[i & (st->size - 1)]) return 0;
  st->n = (long)i;
  return 1;
}

static inline __attribute__((always_inline)) long loop_strlen(const char* s, unsigned long size,
                                                              unsigned long limit) {
  struct length_state st = {s, size, (long)limit};
  bpf_loop(limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING, btap_cb_length, &st, 0);
  return st.n;
}

// strlen and substr in the kernel: the length found by a bpf_loop.
BTAP_LIB long btap_strlen_loop(const char* s, unsigned long size, unsigned long limit) {
  return loop_strlen(s, size, limit);
}

BTAP_LIB long btap_substr_loop(char* dst, const char* s, long start, long length,
                               unsigned long size, unsigned long limit) {
  return substr_copy(dst, s, loop_strlen(s, size, limit), start, length, size, limit);
}

BTAP_LIB long btap_strpos_loop(const char* s, const char* needle, unsigned long size,
                               unsigned long limit) {
  long n = loop_strlen(s, size, limit), m = loop_strlen(needle, size, limit);
  struct search_state st = {s, needle, 0, m, size, -1};
  long rounds = n - m + 1;  // the positions where the needle fits
  if (rounds <= 0) return -1;
  if (rounds > (long)limit) rounds = (long)limit;
  bpf_loop(rounds < BTAP_MAX_STRING ? rounds : BTAP_MAX_STRING, btap_cb_search, &st, 0);
  return st.found;
}

// One CPU's count, sum, min, max and sum of squares added to `out` (min and max taken
// from the first non-empty copy on).
static inline __attribute__((always_inline)) void merge_head(long* out, const long* v) {
  if (out[0] == 0 || v[2] < out[2]) out[2] = v[2];
  if (out[0] == 0 || v[3] > out[3]) out[3] = v[3];
  out[0] += v[0];
  out[1] += v[1];
  out[4] += v[4];
}

// Reading statistics in the kernel: every CPU's copy merged (a bpf_loop over the possible
// CPUs). out: count, sum, min, max, sum of squares, and bucket `bucket`'s count when it
// is in [0, buckets). Returns the count. The slots are common/stats.h's.
struct merge_state {
  void* map;
  void* key;
  long* out;
  unsigned long bucket, buckets;
};

BTAP_CALLBACK long btap_cb_merge(unsigned long cpu, void* ctx) {
  struct merge_state* st = ctx;
  long* v = bpf_map_lookup_percpu_elem(st->map, st->key, (unsigned int)cpu);
  long* out = st->out;
  if (!v || v[0] <= 0) return 0;
  merge_head(out, v);
  if (st->bucket < st->buckets) out[5] += v[5 + st->bucket];
  return 0;
}

BTAP_LIB long btap_stats_merge(void* map, void* key, long* out, unsigned long cpus,
                               unsigned long bucket, unsigned long buckets) {
  for (int i = 0; i < 6; i++) out[i] = 0;
  struct merge_state st = {map, key, out, bucket, buckets};
  bpf_loop(cpus < BTAP_MAX_CPUS ? cpus : BTAP_MAX_CPUS, btap_cb_merge, &st, 0);
  return out[0];
}

// A histogram printed in the kernel: every CPU's copy merged whole, its `slots` slots
// (at most 5 + 1003) into `out`. `slots` is a constant the verifier follows into the
// callback, which bounds the loop over the buckets. Returns the count.
struct merge_all_state {
  void* map;
  void* key;
  long* out;
  unsigned long slots;
};

BTAP_CALLBACK long btap_cb_merge_all(unsigned long cpu, void* ctx) {
  struct merge_all_state* st = ctx;
  long* v = bpf_map_lookup_percpu_elem(st->map, st->key, (unsigned int)cpu);
  long* out = st->out;
  if (!v || v[0] <= 0) return 0;
  merge_head(out, v);
  for (unsigned long i = 5; i < st->slots && i < 5 + 1003; i++) out[i] += v[i];
  return 0;
}

BTAP_LIB long btap_stats_merge_all(void* map, void* key, long* out, unsigned long cpus,
                                   unsigned long slots) {
  for (unsigned long i = 0; i < slots && i < 5 + 1003; i++) out[i] = 0;
  struct merge_all_state st = {map, key, out, slots};
  bpf_loop(cpus < BTAP_MAX_CPUS ? cpus : BTAP_MAX_CPUS, btap_cb_merge_all, &st, 0);
  return out[0];
}

// `delete array` in the kernel: every element, through bpf_for_each_map_elem.
BTAP_CALLBACK long btap_cb_delete(void* map, void* key, void* value, void* ctx) {
  bpf_map_delete_elem(map, key);
  return 0;
}

BTAP_LIB long btap_map_clear(void* map) {
  return bpf_for_each_map_elem(map, btap_cb_delete, 0, 0);
}

// `s` with each occurrence of `find` (left to right, not overlapping) replaced by `with`;
// `s` itself when `find` is empty (stap's rules). The interpreter's version.
BTAP_LIB long btap_str_replace(char* dst, const char* s, const char* find, const char* with,
                               unsigned long size, unsigned long limit) {
  long n = btap_strlen(s, limit), m = btap_strlen(find, limit), w = btap_strlen(with, limit);
  long pos = 0;
  for (long i = 0; i < BTAP_MAX_STRING && i < n;) {
    long j = 0;
    if (m > 0 && i + m <= n)
      for (; j < BTAP_MAX_STRING && j < m; j++)
        if (s[(unsigned long)(i + j) & (size - 1)] != find[(unsigned long)j & (size - 1)]) break;
    if (m > 0 && j == m) {
      for (long k = 0; k < BTAP_MAX_STRING && k < w; k++)
        pos = put(dst, pos, with[(unsigned long)k & (size - 1)], size, limit);
      i += m;
    } else {
      pos = put(dst, pos, s[(unsigned long)i & (size - 1)], size, limit);
      i++;
    }
  }
  return finish(dst, pos, size, limit);
}

// btap_str_replace in the kernel: a bpf_loop whose rounds each consume one match (its
// replacement written with one helper call) or one byte. The two cursors live in
// `cell` (scratch map memory, cell[0] in `s`, cell[1] in `dst`), whose values the
// verifier does not track: on the stack, newer verifiers (6.8+) walk the callback once
// per distinct cursor, some 40,000 instructions a call.
struct replace_state {
  char* dst;
  const char* s;
  const char* find;
  const char* with;
  long* cell;
  long n, m;
  unsigned long size, limit;
};

BTAP_CALLBACK long btap_cb_replace(unsigned long round, void* ctx) {
  struct replace_state* st = ctx;
  long i = st->cell[0], pos = st->cell[1];
  if (i < 0 || i >= st->n) return 1;
  if (st->m > 0 && i + st->m <= st->n && matches_at(st->s, st->find, i, st->m, st->size)) {
    st->cell[1] = pos + copy_at(st->dst, pos, st->with, (long)st->limit, st->size, st->limit);
    st->cell[0] = i + st->m;
  } else {
    st->cell[1] = put(st->dst, pos, st->s[(unsigned long)i & (st->size - 1)], st->size,
                      st->limit);
    st->cell[0] = i + 1;
  }
  return 0;
}

BTAP_LIB long btap_str_replace_loop(char* dst, const char* s, const char* find,
                                    const char* with, long* cell, unsigned long size,
                                    unsigned long limit) {
  struct replace_state st = {dst,  s,    find, with, cell, loop_strlen(s, size, limit),
                             loop_strlen(find, size, limit), size, limit};
  cell[0] = 0;
  cell[1] = 0;
  bpf_loop(limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING, btap_cb_replace, &st, 0);
  return finish(dst, cell[1], size, limit);
}

// A symbolic text kept as a value in a kernel probe (sprint_ubacktrace(), usymdata(), ...):
// "\2", the mode ('A' + btap::Symbolic), the process, ':', the hex addresses and "\3".
// The runtime expands it into the text wherever it prints the string. No addresses (no
// stack) make "", as the text would be.
BTAP_LIB long btap_symbol_tag(char* dst, long mode, long pid, const char* addresses,
                              unsigned long size, unsigned long limit) {
  char first = 0;
  bpf_probe_read_kernel(&first, 1, addresses);
  if (!first) return finish(dst, 0, size, limit);
  long pos = put(dst, 0, 2, size, limit);
  pos = put(dst, pos, (char)('A' + mode), size, limit);
  pos = btap_put_num(dst, pos, pid, 'd', 0, -1, -1, size, limit);
  pos = put(dst, pos, ':', size, limit);
  pos = btap_put_str(dst, pos, addresses, 0, -1, 0, size, limit);
  pos = put(dst, pos, 3, size, limit);
  return finish(dst, pos, size, limit);
}

// env_var(name) in the kernel: a bpf_loop over the environment strings in user memory
// [start, end), and a nested one comparing "NAME" before a '=' in the one at hand.
struct prefix_state {
  const char* s;
  const char* p;
  long n;
  long equal;
  unsigned long size;
};

BTAP_CALLBACK long btap_cb_prefix(unsigned long j, void* ctx) {
  struct prefix_state* st = ctx;
  if ((long)j >= st->n) return 1;
  if (st->s[j & (st->size - 1)] == st->p[j & (st->size - 1)]) return 0;
  st->equal = 0;
  return 1;
}

struct env_state {
  char* dst;
  char* tmp;
  const char* name;
  long name_len;
  unsigned long start, end;
  unsigned long size, limit;
  long rest;  // the chunk read is the rest of a string longer than MAXSTRINGLEN - 1
};

BTAP_CALLBACK long btap_cb_env(unsigned long i, void* ctx) {
  struct env_state* st = ctx;
  unsigned long size = st->size, limit = st->limit;
  if (st->start >= st->end) return 1;
  long got = bpf_probe_read_user_str(st->tmp, limit, (const void*)st->start);
  if (got <= 0) return 1;
  // A string that filled the copy goes on where its NUL was put: that part is no entry.
  long rest = st->rest;
  st->rest = got == (long)limit;
  st->start += (unsigned long)(st->rest ? got - 1 : got);
  if (rest || got - 1 <= st->name_len || st->tmp[btap_masked(st->name_len, size)] != '=') return 0;
  struct prefix_state ps = {st->tmp, st->name, st->name_len, 1, size};
  bpf_loop(BTAP_MAX_STRING, btap_cb_prefix, &ps, 0);
  if (!ps.equal) return 0;
  copy_at(st->dst, 0, st->tmp + btap_masked(st->name_len + 1, size), (long)limit, size, limit);
  return 1;
}

// The most environment strings a search reads.
#define BTAP_MAX_ENV 4096

BTAP_LIB long btap_env_var_loop(char* dst, const char* name, unsigned long start,
                                unsigned long end, char* tmp, unsigned long size,
                                unsigned long limit) {
  dst[0] = 0;
  long name_len = loop_strlen(name, size, limit);
  struct env_state st = {dst, tmp, name, name_len, start, end, size, limit, 0};
  if (name_len > 0 && start && end) bpf_loop(BTAP_MAX_ENV, btap_cb_env, &st, 0);
  return loop_strlen(dst, size, limit);
}
