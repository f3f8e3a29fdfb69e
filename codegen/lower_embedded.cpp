// Lowering embedded C: each C function the program calls and each `%{ %}` expression
// becomes a C function of the script's one translation unit (prelude, the files' top-level
// `%{ %}` blocks, then the functions), compiled by Clang (embedded_c.h) and linked in.
#include "codegen/embedded_c.h"
#include "codegen/kernel_header.h"
#include "codegen/kernel_loads.h"
#include "codegen/lowering.h"
#include "semantic/embedded_pragmas.h"

#include <cctype>

#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/Linker/Linker.h>

namespace btap::codegen::lowering {
namespace {

// stap's conventions (man stap, EMBEDDED C) over BPF: types, the string functions stap's
// C uses (bounded, so the verifier accepts them), errors and kernel reads. The function
// wrappers define the per-function macros (STAP_ARG_*, STAP_RETVALUE, STAP_RETURN).
constexpr const char* kPrelude = R"prelude(
typedef signed char __s8; typedef unsigned char __u8; typedef short __s16;
typedef unsigned short __u16; typedef int __s32; typedef unsigned int __u32;
typedef long long __s64; typedef unsigned long long __u64;
typedef __s8 s8; typedef __u8 u8; typedef __s16 s16; typedef __u16 u16; typedef __s32 s32;
typedef __u32 u32; typedef __s64 s64; typedef __u64 u64;
typedef __s8 int8_t; typedef __u8 uint8_t; typedef __s16 int16_t; typedef __u16 uint16_t;
typedef __s32 int32_t; typedef __u32 uint32_t; typedef __s64 int64_t; typedef __u64 uint64_t;
typedef unsigned long size_t; typedef long ssize_t; typedef long intptr_t;
typedef unsigned long uintptr_t; typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static long (*const bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;
static long (*const bpf_probe_read_kernel_str)(void *dst, __u32 size, const void *src) =
    (void *)115;
static long (*const bpf_probe_read_user)(void *dst, __u32 size, const void *src) = (void *)112;
static long (*const bpf_probe_read_user_str)(void *dst, __u32 size, const void *src) =
    (void *)114;
static __u64 (*const bpf_get_current_pid_tgid)(void) = (void *)14;
static __u64 (*const bpf_get_current_uid_gid)(void) = (void *)15;
static long (*const bpf_get_current_comm)(void *buf, __u32 size) = (void *)16;
static __u64 (*const bpf_get_current_task)(void) = (void *)35;
static __u64 (*const bpf_ktime_get_ns)(void) = (void *)5;
static __u32 (*const bpf_get_smp_processor_id)(void) = (void *)8;
static long (*const bpf_snprintf)(char *str, __u32 size, const char *fmt, __u64 *data,
                                  __u32 data_len) = (void *)165;

// The string functions stap's C uses, over the copying helpers where they can be: loops
// that write byte by byte at computed offsets are more than the verifier will follow.
// Destinations are string slots (__BTAP_SLOT bytes, a power of two); masking an offset
// with the slot size (through an asm the optimiser cannot see through, as bpflib's
// btap_masked) is what lets the verifier bound it.
static inline __attribute__((always_inline)) unsigned long __btap_masked(unsigned long at) {
  asm volatile("" : "+r"(at));
  return at & (__BTAP_SLOT - 1);
}
static inline __attribute__((always_inline)) size_t strnlen(const char *s, size_t max) {
  size_t n = 0;
  for (; n < MAXSTRINGLEN && n < max; ++n)
    if (!s[n]) break;
  return n;
}
static inline __attribute__((always_inline)) size_t strlen(const char *s) {
  return strnlen(s, MAXSTRINGLEN);
}
static inline __attribute__((always_inline)) size_t strlcpy(char *d, const char *s, size_t size) {
  if (size > MAXSTRINGLEN) size = MAXSTRINGLEN;
  if (size == 0) return 0;
  long n = bpf_probe_read_kernel_str(d, size, s);
  if (n < 1) {
    d[0] = 0;
    return 0;
  }
  return n - 1;
}
// The length of the string in a buffer the C writes (a destination), found by the
// kernel's string copy of the buffer onto itself (byte by byte, so it changes nothing but
// a missing NUL, put at size - 1): one helper call where strnlen's loop is a branch per
// byte that the verifier keeps pending: some forty strcat calls along one path passed its
// 8,192 ("the sequence of 8193 jumps is too complex", plimit.stp's getrlimit on 6.1).
static inline __attribute__((always_inline)) size_t __btap_used(char *d, size_t size) {
  long n = bpf_probe_read_kernel_str(d, size, d);
  return n < 1 ? 0 : n - 1;
}
static inline __attribute__((always_inline)) size_t strlcat(char *d, const char *s, size_t size) {
  if (size > MAXSTRINGLEN) size = MAXSTRINGLEN;
  if (size == 0) return 0;
  unsigned long used = __btap_masked(__btap_used(d, size));
  if (used + 1 >= size) return used;
  long n = bpf_probe_read_kernel_str(d + used, size - used, s);
  return n < 1 ? used : used + n - 1;
}
static inline __attribute__((always_inline)) char *strncpy(char *d, const char *s, size_t size) {
  if (size > MAXSTRINGLEN) size = MAXSTRINGLEN;
  if (size && bpf_probe_read_kernel_str(d, size, s) < 1) d[0] = 0;
  return d;
}
static inline __attribute__((always_inline)) int strncmp(const char *a, const char *b, size_t size) {
  for (size_t n = 0; n < size && n < MAXSTRINGLEN; ++n) {
    unsigned char x = a[n], y = b[n];
    if (x != y) return x < y ? -1 : 1;
    if (!x) return 0;
  }
  return 0;
}
static inline __attribute__((always_inline)) int strcmp(const char *a, const char *b) {
  return strncmp(a, b, MAXSTRINGLEN);
}
#define memcpy __builtin_memcpy
#define memset __builtin_memset
// strcpy, strcat and sprintf write at most what the compiler knows the destination holds
// (MAXSTRINGLEN where it does not: the verifier refuses a write past a smaller buffer).
#define __btap_size_of(d) \
  (__builtin_object_size((d), 1) != (size_t)-1 ? __builtin_object_size((d), 1) : MAXSTRINGLEN)
#define strcpy(d, s) ({ char *__btap_d = (d); strlcpy(__btap_d, (s), __btap_size_of(d)); __btap_d; })
#define strcat(d, s) ({ char *__btap_d = (d); strlcat(__btap_d, (s), __btap_size_of(d)); __btap_d; })

// STAP_ERROR(fmt, ...): the message goes to the caller's error buffer, formatted by the
// kernel's bpf_snprintf (at most 12 arguments), and the function returns.
#define __BTAP_N(...) \
  __BTAP_N_(0 __VA_OPT__(, ) __VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define __BTAP_N_(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, n, \
                  ...) \
  n
#define __BTAP_CAT(a, b) __BTAP_CAT_(a, b)
#define __BTAP_CAT_(a, b) a##b
#define STAP_ERROR(fmt, ...) do { \
    _Static_assert(__BTAP_N(__VA_ARGS__) <= 12, "STAP_ERROR takes at most 12 arguments"); \
    static const char __btap_fmt[] = fmt; \
    __u64 __btap_args[__BTAP_N(__VA_ARGS__) + 1]; \
    __BTAP_FILL(__btap_args, __VA_ARGS__) \
    if (bpf_snprintf(THIS->__btap_error, MAXSTRINGLEN, __btap_fmt, __btap_args, \
                     8 * __BTAP_N(__VA_ARGS__)) < 0 || !THIS->__btap_error[0]) \
      __builtin_memcpy(THIS->__btap_error, "error", 6); \
    return; \
  } while (0)
#define __BTAP_FILL(a, ...) __BTAP_CAT(__BTAP_G, __BTAP_N(__VA_ARGS__))(a __VA_OPT__(, ) __VA_ARGS__)
#define __BTAP_G0(a)
#define __BTAP_G1(a, x1) a[0] = (__u64)(x1);
#define __BTAP_G2(a, x1, x2) __BTAP_G1(a, x1) a[1] = (__u64)(x2);
#define __BTAP_G3(a, x1, x2, x3) __BTAP_G2(a, x1, x2) a[2] = (__u64)(x3);
#define __BTAP_G4(a, x1, x2, x3, x4) __BTAP_G3(a, x1, x2, x3) a[3] = (__u64)(x4);
#define __BTAP_G5(a, x1, x2, x3, x4, x5) __BTAP_G4(a, x1, x2, x3, x4) a[4] = (__u64)(x5);
#define __BTAP_G6(a, x1, x2, x3, x4, x5, x6) __BTAP_G5(a, x1, x2, x3, x4, x5) a[5] = (__u64)(x6);
#define __BTAP_G7(a, x1, x2, x3, x4, x5, x6, x7) \
  __BTAP_G6(a, x1, x2, x3, x4, x5, x6) a[6] = (__u64)(x7);
#define __BTAP_G8(a, x1, x2, x3, x4, x5, x6, x7, x8) \
  __BTAP_G7(a, x1, x2, x3, x4, x5, x6, x7) a[7] = (__u64)(x8);
#define __BTAP_G9(a, x1, x2, x3, x4, x5, x6, x7, x8, x9) \
  __BTAP_G8(a, x1, x2, x3, x4, x5, x6, x7, x8) a[8] = (__u64)(x9);
#define __BTAP_G10(a, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10) \
  __BTAP_G9(a, x1, x2, x3, x4, x5, x6, x7, x8, x9) a[9] = (__u64)(x10);
#define __BTAP_G11(a, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11) \
  __BTAP_G10(a, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10) a[10] = (__u64)(x11);
#define __BTAP_G12(a, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12) \
  __BTAP_G11(a, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11) a[11] = (__u64)(x12);
// STAP_PRINTF(fmt, ...): appended to the caller's output buffer (one string slot per call,
// printed when the C function returns, in order with the script's own output).
#define STAP_PRINTF(fmt, ...) do { \
    _Static_assert(__BTAP_N(__VA_ARGS__) <= 12, "STAP_PRINTF takes at most 12 arguments"); \
    static const char __btap_pfmt[] = fmt; \
    __u64 __btap_pargs[__BTAP_N(__VA_ARGS__) + 1]; \
    __BTAP_FILL(__btap_pargs, __VA_ARGS__) \
    unsigned long __btap_at = __btap_masked(__btap_used(THIS->__btap_out, MAXSTRINGLEN)); \
    if (__btap_at + 1 < MAXSTRINGLEN) \
      bpf_snprintf(THIS->__btap_out + __btap_at, MAXSTRINGLEN - __btap_at, __btap_pfmt, \
                   __btap_pargs, 8 * __BTAP_N(__VA_ARGS__)); \
  } while (0)

// snprintf and sprintf: the kernel's bpf_snprintf (its conversions, one flag and a fixed
// width; at most 12 arguments), returning the length written as C's do.
#define snprintf(buf, size, fmt, ...) ({ \
    static const char __btap_sfmt[] = fmt; \
    __u64 __btap_sargs[__BTAP_N(__VA_ARGS__) + 1]; \
    __BTAP_FILL(__btap_sargs, __VA_ARGS__) \
    long __btap_n = bpf_snprintf((buf), (size), __btap_sfmt, __btap_sargs, \
                                 8 * __BTAP_N(__VA_ARGS__)); \
    __btap_n > 0 ? __btap_n - 1 : __btap_n; })
#define sprintf(buf, fmt, ...) snprintf((buf), __btap_size_of(buf), fmt __VA_OPT__(, ) __VA_ARGS__)

// Kernel reads: a fault is stap's error, raised from the calling C function.
#define kread(ptr) ({ \
    __typeof__(*(ptr)) __btap_v; \
    if (bpf_probe_read_kernel((void *)&__btap_v, sizeof(__btap_v), (const void *)(ptr))) \
      STAP_ERROR("kernel read fault at 0x%lx (%s)", (unsigned long)(ptr), #ptr); \
    __btap_v; })
#define kderef(size, addr) ({ \
    __u64 __btap_d = 0; \
    if (bpf_probe_read_kernel(&__btap_d, (size) < 8 ? (size) : 8, (const void *)(intptr_t)(addr))) \
      STAP_ERROR("kernel read fault at 0x%lx (%s)", (unsigned long)(addr), #addr); \
    __btap_d; })
#define kderef_string(dst, addr, maxlen) ({ \
    if (bpf_probe_read_kernel_str((dst), (maxlen) < MAXSTRINGLEN ? (maxlen) : MAXSTRINGLEN, \
                                  (const void *)(intptr_t)(addr)) < 0) \
      STAP_ERROR("kernel string copy fault at 0x%lx (%s)", (unsigned long)(addr), #addr); \
    (dst); })
#define kderef_buffer(dst, addr, size) ({ \
    if (bpf_probe_read_kernel((dst), (size), (const void *)(intptr_t)(addr))) \
      STAP_ERROR("kernel read fault at 0x%lx (%s)", (unsigned long)(addr), #addr); \
    (dst); })
#define _stp_copy_from_user(dst, src, n) bpf_probe_read_user((dst), (n), (src))
// stap's C marks where a faulting kread lands; here the fault is the error raised from the
// function at once, so there is nothing to catch.
#define CATCH_DEREF_FAULT() ((void)0)
// A task's open file `fd` (NULL past the table's end or for a closed one), read as the
// kernel's fcheck_files (before 5.11) and files_lookup_fd_rcu/raw (after) look it up: each
// read checked, the index bounded by the table's own size.
#define files_fdtable(files) kread(&((struct files_struct *)(files))->fdt)
#define fcheck_files(files, nr) ({ \
    struct fdtable *__btap_fdt = files_fdtable(files); \
    unsigned long __btap_fd = (unsigned long)(nr); \
    struct file *__btap_file = NULL; \
    if (__btap_fdt && __btap_fd < kread(&__btap_fdt->max_fds)) { \
      struct file **__btap_fds = kread(&__btap_fdt->fd); \
      __btap_file = kread(&__btap_fds[__btap_fd]); \
    } \
    __btap_file; })
#define files_lookup_fd_rcu(files, nr) fcheck_files(files, nr)
#define files_lookup_fd_raw(files, nr) fcheck_files(files, nr)
#define files_lookup_fd_locked(files, nr) fcheck_files(files, nr)
// A bit of a kernel bitmap, read checked.
#define test_bit(nr, addr) ({ \
    unsigned long __btap_nr = (unsigned long)(nr); \
    (int)((kread(&((const unsigned long *)(addr))[__btap_nr / 64]) >> (__btap_nr % 64)) & 1); })
// A BPF program of a kernel probe may read kernel memory but never write it.
#define WRITE_ONCE(x, v) ({ \
    _Static_assert(0, "WRITE_ONCE: a BPF program cannot write kernel memory (bpf_probe_read_kernel " \
                      "reads it; only user memory has a writing helper)"); \
    (void)0; })

// What stap's C gets from the kernel's headers and runs unchanged here. Limits, and min/max
// as the kernel's (each argument evaluated once; the _t forms convert to the type first).
#define INT_MAX ((int)(~0U >> 1))
#define INT_MIN (-INT_MAX - 1)
#define UINT_MAX (~0U)
#define LONG_MAX ((long)(~0UL >> 1))
#define LONG_MIN (-LONG_MAX - 1)
#define ULONG_MAX (~0UL)
#define LLONG_MAX ((long long)(~0ULL >> 1))
#define LLONG_MIN (-LLONG_MAX - 1)
#define ULLONG_MAX (~0ULL)
#define U8_MAX ((u8)~0U)
#define U16_MAX ((u16)~0U)
#define U32_MAX ((u32)~0U)
#define U64_MAX ((u64)~0ULL)
#define S32_MAX ((s32)(U32_MAX >> 1))
#define S64_MAX ((s64)(U64_MAX >> 1))
#define min(x, y) ({ __typeof__(x) __btap_x = (x); __typeof__(y) __btap_y = (y); \
    __btap_x < __btap_y ? __btap_x : __btap_y; })
#define max(x, y) ({ __typeof__(x) __btap_x = (x); __typeof__(y) __btap_y = (y); \
    __btap_x > __btap_y ? __btap_x : __btap_y; })
#define min_t(type, x, y) ({ type __btap_x = (x); type __btap_y = (y); \
    __btap_x < __btap_y ? __btap_x : __btap_y; })
#define max_t(type, x, y) ({ type __btap_x = (x); type __btap_y = (y); \
    __btap_x > __btap_y ? __btap_x : __btap_y; })
#define clamp(v, lo, hi) min(max((v), (lo)), (hi))
#define clamp_t(type, v, lo, hi) min_t(type, max_t(type, (v), (lo)), (hi))
// File types and modes (uapi linux/stat.h), device numbers (linux/kdev_t.h), resource
// limits (uapi asm-generic/resource.h, as x86 and arm64 number them) and error pointers.
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFLNK 0120000
#define S_IFREG 0100000
#define S_IFBLK 0060000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_ISUID 0004000
#define S_ISGID 0002000
#define S_ISVTX 0001000
#define S_ISLNK(m) (((m) & S_IFMT) == S_IFLNK)
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISCHR(m) (((m) & S_IFMT) == S_IFCHR)
#define S_ISBLK(m) (((m) & S_IFMT) == S_IFBLK)
#define S_ISFIFO(m) (((m) & S_IFMT) == S_IFIFO)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)
#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)
#define MAJOR(dev) ((unsigned int)((dev) >> MINORBITS))
#define MINOR(dev) ((unsigned int)((dev) & MINORMASK))
#define MKDEV(ma, mi) (((ma) << MINORBITS) | (mi))
#define RLIMIT_CPU 0
#define RLIMIT_FSIZE 1
#define RLIMIT_DATA 2
#define RLIMIT_STACK 3
#define RLIMIT_CORE 4
#define RLIMIT_RSS 5
#define RLIMIT_NPROC 6
#define RLIMIT_NOFILE 7
#define RLIMIT_MEMLOCK 8
#define RLIMIT_AS 9
#define RLIMIT_LOCKS 10
#define RLIMIT_SIGPENDING 11
#define RLIMIT_MSGQUEUE 12
#define RLIMIT_NICE 13
#define RLIMIT_RTPRIO 14
#define RLIMIT_RTTIME 15
#define RLIM_NLIMITS 16
#define RLIM_INFINITY (~0UL)
#define _STK_LIM (8 * 1024 * 1024)
#define MAX_ERRNO 4095
#define IS_ERR_VALUE(x) ((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)
#define IS_ERR(p) IS_ERR_VALUE(p)
#define IS_ERR_OR_NULL(p) (!(p) || IS_ERR_VALUE(p))
#define PTR_ERR(p) ((long)(p))
#define ERR_PTR(e) ((void *)(long)(e))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define offsetof(type, member) __builtin_offsetof(type, member)
#define READ_ONCE(x) (x)
// A BPF program of a kernel probe already runs inside an RCU read-side section (the
// kprobe, tracepoint and perf paths take it before they call it), and it cannot call the
// kernel's functions: the RCU calls are no-ops, and rcu_dereference a plain read.
#define rcu_read_lock() ((void)0)
#define rcu_read_unlock() ((void)0)
#define rcu_read_lock_bh() ((void)0)
#define rcu_read_unlock_bh() ((void)0)
#define rcu_read_lock_sched() ((void)0)
#define rcu_read_unlock_sched() ((void)0)
#define rcu_dereference(p) (p)
#define rcu_dereference_raw(p) (p)
#define rcu_dereference_check(p, c) (p)
#define rcu_dereference_protected(p, c) (p)
// container_of and the kernel's list walks. The entry is an address made from an integer,
// so its loads become checked kernel reads (kernel_loads.h) rather than BTF accesses the
// verifier would refuse at a negative offset. A walk stops after BTAP_LIST_MAX entries (a
// loop the verifier can bound) with stap's error, never silently: a list that long in a
// probe is a list the script should not walk there.
#ifndef BTAP_LIST_MAX
#define BTAP_LIST_MAX 1024
#endif
#define container_of(ptr, type, member) \
  ((type *)((unsigned long)(ptr) - __builtin_offsetof(type, member)))
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(head, type, member) list_entry((head)->next, type, member)
#define list_next_entry(pos, member) list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_empty(head) ((head)->next == (head))
#define __btap_raw(p) ((__typeof__(p))(unsigned long)(p))
// `link` is the list_head reached: NULL when a `next` read faulted (reads give zero then)
// or the list is broken, an error rather than BTAP_LIST_MAX rounds of faulting reads.
#define __btap_list_more(i, link) ({ \
    if (!(link)) \
      STAP_ERROR("list walk reached a NULL next pointer (a bad list address?)"); \
    if ((i) >= BTAP_LIST_MAX) \
      STAP_ERROR("list walk past %d entries (BTAP_LIST_MAX)", BTAP_LIST_MAX); \
    1; })
#define list_for_each(pos, head) \
  for (long __btap_i = ((pos) = __btap_raw((head)->next), 0); \
       (pos) != (head) && __btap_list_more(__btap_i, pos); \
       ++__btap_i, (pos) = __btap_raw((pos)->next))
#define list_for_each_safe(pos, n, head) \
  for (long __btap_i = ((pos) = __btap_raw((head)->next), (n) = __btap_raw((pos)->next), 0); \
       (pos) != (head) && __btap_list_more(__btap_i, pos); \
       ++__btap_i, (pos) = (n), (n) = __btap_raw((pos)->next))
#define list_for_each_entry(pos, head, member) \
  for (long __btap_i = ((pos) = list_first_entry(head, __typeof__(*(pos)), member), 0); \
       &(pos)->member != (head) && __btap_list_more(__btap_i, &(pos)->member); \
       ++__btap_i, (pos) = list_next_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member) \
  for (long __btap_i = ((pos) = list_first_entry(head, __typeof__(*(pos)), member), \
                        (n) = list_next_entry(pos, member), 0); \
       &(pos)->member != (head) && __btap_list_more(__btap_i, &(pos)->member); \
       ++__btap_i, (pos) = (n), (n) = list_next_entry(n, member))
)prelude";

// Whether C may name the kernel's types: only then is their header (megabytes of C)
// parsed.
// Whether `word` stands in `code` as a word of its own (not inside "currently").
bool HasWord(std::string_view code, std::string_view word) {
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = code.find(word); at != std::string_view::npos; at = code.find(word, at + 1))
    if ((at == 0 || !ident(code[at - 1])) &&
        (at + word.size() == code.size() || !ident(code[at + word.size()])))
      return true;
  return false;
}

}  // namespace

bool UsesCurrent(std::string_view code) { return HasWord(code, "current"); }

namespace {

// CONTEXT: stap's probe context, as far as BPF has one (FillCContext).
bool UsesContext(std::string_view code) { return HasWord(code, "CONTEXT"); }
constexpr size_t kCContextFields = 4;
constexpr const char* kCContext =
    "struct pt_regs;\n"
    "struct __btap_context {\n"
    "  struct pt_regs *kregs;  /* kernel.function, perf and timer.profile probes */\n"
    "  struct pt_regs *uregs;  /* process probes */\n"
    "  long user_mode_p;\n"
    "  const char *probe_point;\n"
    "};\n";

// The prelude's file-table lookups, which read the kernel's files_struct and fdtable.
constexpr std::string_view kFileLookups[] = {"fcheck_files", "files_fdtable", "files_lookup_fd_rcu",
                                             "files_lookup_fd_raw", "files_lookup_fd_locked"};

bool MayUseKernelTypes(std::string_view code) {
  for (std::string_view word : {"struct", "union", "enum", "current", "typeof", "CONTEXT"})
    if (HasWord(code, word)) return true;
  for (std::string_view word : kFileLookups)
    if (HasWord(code, word)) return true;
  return false;
}

// The parameters of the function an embedded expression stands in that its C names as
// `STAP_ARG_x` (stap gives such an expression its function's arguments), in order.
std::vector<const sema::Variable*> ExprArgs(const sema::Program& program,
                                            const ast::EmbeddedExpr* e) {
  std::vector<const sema::Variable*> out;
  // (Most expressions name none: no walk of every function's body for them.)
  if (e->code.find("STAP_ARG_") == std::string::npos) return out;
  for (const sema::Function* f : program.functions) {
    bool within = false;
    if (f->decl && f->decl->body)
      ast::WalkTree(f->decl->body, [&](ast::Node* n) { within |= n == e; });
    if (!within) continue;
    for (const sema::Variable* p : f->params)
      if (HasWord(e->code, "STAP_ARG_" + std::string(p->name))) out.push_back(p);
    break;
  }
  return out;
}

// "MAJOR, MINOR" of a version "4.8" (a part that is not a number counts as 0).
std::string CompatVersion(std::string_view v) {
  auto part = [&](size_t at, size_t end) {
    unsigned n = 0;
    for (size_t i = at; i < end && i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]));
         ++i)
      n = n * 10 + static_cast<unsigned>(v[i] - '0');
    return std::to_string(n & 0xffff);
  };
  size_t dot = v.find('.');
  if (dot == std::string_view::npos) return part(0, v.size()) + ", 0";
  return part(0, dot) + ", " + part(dot + 1, v.size());
}

// LINUX_VERSION_CODE of a release "6.18.0" (parts that are not there count as 0; the
// sublevel is capped at 255, as the kernel's own macro caps it).
int64_t LinuxVersionCode(std::string_view release) {
  int64_t parts[3] = {0, 0, 0};
  size_t at = 0;
  for (int k = 0; k < 3 && at < release.size(); ++k) {
    while (at < release.size() && std::isdigit(static_cast<unsigned char>(release[at])))
      parts[k] = std::min<int64_t>(parts[k] * 10 + (release[at++] - '0'), 0xffff);
    if (at >= release.size() || release[at] != '.') break;
    ++at;
  }
  return (std::min<int64_t>(parts[0], 255) << 16) + (std::min<int64_t>(parts[1], 255) << 8) +
         std::min<int64_t>(parts[2], 255);
}

bool HasMarker(std::string_view code, std::string_view marker) {
  return code.find(marker) != std::string_view::npos;
}

// The script offset of embedded text held as a view into its file; else just past `%{`.
SourceRange CodeOrigin(std::string_view code, SourceRange token, const SourceManager& sm) {
  std::string_view text = sm.file(token.file).text();
  if (code.data() >= text.data() && code.data() + code.size() <= text.data() + text.size()) {
    auto at = static_cast<uint32_t>(code.data() - text.data());
    return {token.file, at, at + static_cast<uint32_t>(code.size())};
  }
  return {token.file, token.begin + 2, token.end};
}

}  // namespace

// The context a C function gets (all 8-byte fields, so IR and C agree on the layout
// without a shared header): the result (a long, or a string slot's address), the error
// buffer (empty unless STAP_ERROR ran), the output buffer (STAP_PRINTF; null when the C
// never prints), then one field per parameter.
llvm::Function* Lowering::DeclareC(const sema::Function* f, const ast::EmbeddedExpr* e,
                                   const std::string& name) {
  const void* key = f ? static_cast<const void*>(f) : e;
  for (const CFunction& c : c_functions_)
    if (c.key == key) return c.fn;
  std::string symbol = "__btap_c" + std::to_string(c_functions_.size()) + "_" + name;
  auto* type = llvm::FunctionType::get(b_.getVoidTy(), {ptr_}, false);
  auto* fn = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, symbol, module_);
  c_functions_.push_back({key, fn, symbol, f, e});
  return fn;
}

Value Lowering::CallC(llvm::Function* fn, Type ret, const std::vector<Value>& args,
                      std::string_view code, std::string_view token_kind, std::string_view token,
                      SourceRange at) {
  bool prints = HasMarker(code, "STAP_PRINTF");
  size_t context_fields = UsesContext(code) ? kCContextFields : 0;
  size_t first_arg = 3 + context_fields;
  auto* context_type = llvm::ArrayType::get(i64_, args.size() + first_arg);
  llvm::AllocaInst* context = Alloca(context_type);
  Value result = nullptr;  // a string result's slot; a long comes back in THIS
  if (ret == Type::String) {
    result = StringSlot();
    b_.CreateStore(b_.getInt8(0), result);
  }
  Value error = StringSlot();
  b_.CreateStore(b_.getInt8(0), error);
  auto field = [&](size_t i) { return b_.CreateConstGEP2_64(context_type, context, 0, i); };
  if (ret == Type::String)
    b_.CreateStore(result, field(0));
  else
    b_.CreateStore(b_.getInt64(0), field(0));
  b_.CreateStore(error, field(1));
  Value out = nullptr;
  if (prints) {
    out = StringSlot();
    b_.CreateStore(b_.getInt8(0), out);
    b_.CreateStore(out, field(2));
  } else {
    b_.CreateStore(llvm::ConstantPointerNull::get(ptr_), field(2));
  }
  if (context_fields) FillCContext(field, 3);
  for (size_t i = 0; i < args.size(); ++i) {
    Value v = args[i];
    if (!v) continue;
    if (v->getType() != i64_) {  // a string: the C may write to its copy
      Value copy = StringSlot();
      CopyString(copy, v);
      v = copy;
    }
    b_.CreateStore(v, field(i + first_arg));
  }
  b_.CreateCall(fn, {context});
  if (out) {  // what STAP_PRINTF wrote, even when STAP_ERROR followed
    auto* print = llvm::BasicBlock::Create(context_, "c_print", frame_->fn);
    auto* printed = llvm::BasicBlock::Create(context_, "c_printed", frame_->fn);
    b_.CreateCondBr(b_.CreateICmpNE(b_.CreateLoad(b_.getInt8Ty(), out), b_.getInt8(0)), print,
                    printed);
    b_.SetInsertPoint(print);
    Record(record::Kind::Printf, FormatId("%s"), {out});
    b_.CreateBr(printed);
    b_.SetInsertPoint(printed);
  }
  Value failed = b_.CreateICmpNE(b_.CreateLoad(b_.getInt8Ty(), error), b_.getInt8(0));
  auto* bad = llvm::BasicBlock::Create(context_, "c_error", frame_->fn);
  auto* good = llvm::BasicBlock::Create(context_, "c_ok", frame_->fn);
  b_.CreateCondBr(failed, bad, good);
  b_.SetInsertPoint(bad);
  // Inside `try` the catch variable gets the message alone, as stap's last_error.
  if (!frame_->handlers.empty())
    Fail("%s", {error});
  else
    Fail("%s" + EscapePercent(Near(token_kind, token, at)), {error});
  b_.SetInsertPoint(good);
  if (ret == Type::String) return result;
  return b_.CreateLoad(i64_, field(0));
}

// stap's CONTEXT for C called here: the registers of the probed code, the kernel's (a
// kernel.function kprobe; a perf or timer.profile sample) or the user's (a process probe),
// whether the probe hit user code, and the probe point. Registers are the program's
// context, which C reads directly (a kprobe handler that hands it to C gets no fentry
// copy: lower_fentry.cpp); elsewhere they are null, as in stap's probes without them.
void Lowering::FillCContext(const std::function<Value(size_t)>& field, size_t first) {
  const sema::Probe* probe = frame_->probe;
  Value null = llvm::ConstantPointerNull::get(ptr_);
  Value kregs = null, uregs = null, user_mode = b_.getInt64(0);
  if (probe && frame_->ctx && !frame_->user_side) {
    sema::Family family = probe->spec.family;
    if (UserProbe(probe)) {
      uregs = frame_->ctx;
      user_mode = b_.getInt64(1);
    } else if (sema::IsKernelFunction(family)) {
      kregs = frame_->ctx;
    } else if (family == sema::Family::TimerProfile || family == sema::Family::Perf) {
      constexpr uint32_t kCs = 136;
      kregs = frame_->ctx;
      Value cs = RawArg(kCs / 8);
      user_mode =
          b_.CreateZExt(b_.CreateICmpEQ(b_.CreateAnd(cs, b_.getInt64(3)), b_.getInt64(3)), i64_);
    }
  }
  Value point = null;
  if (probe) point = frame_->group ? GroupString(GroupText::Point) : Literal(probe->spec.point);
  b_.CreateStore(kregs, field(first));
  b_.CreateStore(uregs, field(first + 1));
  b_.CreateStore(user_mode, field(first + 2));
  b_.CreateStore(point, field(first + 3));
}

Value Lowering::EmbeddedCall(ast::Call* c) {
  const sema::Function* f = c->callee;
  // C marked `/* guru */` is for tapsets, which are presumed to call it safely; the
  // user's script needs -g (a tapset function calling it is the tapset's business).
  const sema::Function* caller = frame_->scopes.empty() ? nullptr : Top().function;
  // A call in an alias's body is the tapset's even inside the user's probe: by its file.
  bool from_script =
      caller ? !caller->from_tapset
             : frame_->probe && !frame_->probe->from_tapset && c->range.file == frame_->probe->file;
  if (from_script && !options_.guru && HasMarker(f->decl->embedded, "/* guru */")) {
    failed_ = true;
    diags_.Report(Diag::NeedsGuruMode, c->range,
                  {"a call to `" + std::string(f->name) + "` (its C is marked `/* guru */`)"});
    return nullptr;
  }
  // The interpreter that runs begin, end and error probes has no task to give.
  if (frame_->user_side && HasWord(f->decl->embedded, "current")) {
    Unsupported(c->range, "`current` in the C of `" + std::string(f->name) + "`",
                " in a probe btap runs in user space (begin, end, error), which has no task");
    return nullptr;
  }
  if (HasMarker(f->decl->embedded, "/* bpf */")) return AsmCall(c);
  std::vector<Value> args;
  for (ast::Expr* a : c->args) args.push_back(Expr(a));
  llvm::Function* fn = DeclareC(f, nullptr, std::string(f->name));
  Locate(c->range);
  return CallC(fn, f->ret, args, f->decl->embedded, "identifier", f->name, c->range);
}

Value Lowering::EmbeddedValue(ast::EmbeddedExpr* e) {
  llvm::Function* fn = DeclareC(nullptr, e, "expr");
  Type ret = e->type == Type::String ? Type::String : Type::Long;
  std::vector<Value> args;
  for (const sema::Variable* p : ExprArgs(program_, e)) {
    Value storage = Local(p, e->range);
    if (!storage) return nullptr;
    args.push_back(p->type == Type::String ? storage : b_.CreateLoad(i64_, storage));
  }
  return CallC(fn, ret, args, e->code, "embedded-code", "", e->range);
}

// STAP_GLOBAL_GET_x() and STAP_GLOBAL_SET_x(v) for each scalar global a pragma names: the
// C reaches the global's own storage (global data) by its symbol.
bool Lowering::GlobalAccess(CSource& source) {
  std::vector<std::pair<std::string_view, SourceRange>> texts;
  for (const ast::EmbeddedDecl* d : program_.embedded) texts.emplace_back(d->code, d->range);
  for (const CFunction& cf : c_functions_)
    texts.emplace_back(cf.function ? cf.function->decl->embedded : cf.expr->code,
                       cf.function ? cf.function->decl->range : cf.expr->range);
  std::set<std::string> done;
  bool ok = true;
  for (const auto& [code, token] : texts)
    for (const sema::GlobalPragma& pragma : sema::GlobalPragmas(code)) {
      const std::string& name = pragma.name;
      size_t offset = pragma.offset;
      if (!done.insert(name).second) continue;
      const sema::Variable* global = sema::PragmaGlobal(program_.globals, name);
      auto info = global ? globals_.find(global) : globals_.end();
      if (info == globals_.end() || !info->second.storage) {
        SourceRange origin = CodeOrigin(code, token, sm_);
        uint32_t at = origin.begin + static_cast<uint32_t>(offset);
        diags_.Report(Diag::CodegenLimit, {origin.file, at, at + 7},
                      {"`pragma` names `" + name +
                       "`, which is no global scalar of the program (arrays and statistics "
                       "cannot be reached from C yet)"});
        ok = false;
        continue;
      }
      std::string symbol = info->second.storage->getName().str();
      if (global->type == Type::String)
        source.Add("extern char " + symbol + "[__BTAP_SLOT];\n#define STAP_GLOBAL_GET_" + name +
                   "() ((char *)" + symbol + ")\n#define STAP_GLOBAL_SET_" + name +
                   "(v) ((void)strlcpy(" + symbol + ", (v), MAXSTRINGLEN))\n");
      else
        source.Add("extern long " + symbol + ";\n#define STAP_GLOBAL_GET_" + name + "() (" +
                   symbol + ")\n#define STAP_GLOBAL_SET_" + name + "(v) ((void)(" + symbol +
                   " = (long)(v)))\n");
    }
  return ok;
}

// BTF line info takes a line's file (and so the text the verifier quotes) from its
// function: each C function gets a file of its own, the script's text with the body's
// lines saying whose they are, so that a rejection inside C names the script function.
// (A path of its own keeps its text apart from the script's own file, which BTF knows by
// path; the kernel shows the base name only.)
void Lowering::NameCFunctions(llvm::Module& c) {
  for (const CFunction& cf : c_functions_) {
    if (!cf.function) continue;
    llvm::Function* fn = c.getFunction(cf.symbol);
    llvm::DISubprogram* sp = fn ? fn->getSubprogram() : nullptr;
    if (!sp || !sp->isDistinct()) continue;
    std::string_view code = cf.function->decl->embedded;
    SourceRange origin = CodeOrigin(code, cf.function->decl->range, sm_);
    const SourceFile& file = sm_.file(origin.file);
    uint32_t first = file.Locate(origin.begin).line, last = file.Locate(origin.end).line;
    std::string text, line;
    uint32_t number = 1;
    for (char ch : file.text()) {
      if (ch != '\n') {
        line += ch;
        continue;
      }
      size_t lead = line.find_first_not_of(" \t");
      if (number >= first && number <= last && lead != std::string::npos)
        line.insert(lead, "in C function `" + std::string(cf.function->name) + "`: ");
      text += line + '\n';
      line.clear();
      ++number;
    }
    text += line;
    std::string path = "/btap-c/" + cf.symbol + "/" + file.name();
    auto* named = llvm::DIFile::get(context_, path, "", std::nullopt,
                                    llvm::StringRef(text));  // copied into the context
    sp->replaceOperandWith(0, named);
  }
}

// The script's range at `line`:`column` of the file named `file` (the C's debug info
// names the script's lines), else `fallback`.
SourceRange Lowering::ScriptPlace(const std::string& file, unsigned line, unsigned column,
                                  SourceRange fallback) const {
  for (FileId id = 0; id < sm_.size(); ++id) {
    const SourceFile& f = sm_.file(id);
    if (f.name() != file || line == 0) continue;
    std::string_view text = f.text();
    size_t at = 0;
    for (unsigned n = 1; n < line && at != std::string_view::npos; ++n) {
      at = text.find('\n', at);
      if (at != std::string_view::npos) ++at;
    }
    if (at == std::string_view::npos) break;
    at += column > 0 ? column - 1 : 0;
    if (at >= text.size()) break;
    return {id, static_cast<uint32_t>(at), static_cast<uint32_t>(at + 1)};
  }
  return fallback;
}

// LINUX_VERSION_CODE is the compiling kernel's: C that names it makes the object check,
// where it loads, that kernel_v is the same, as a `%( kernel_v ... %)` condition is.
void Lowering::VersionCodeTerm() {
  auto term = [&](std::string_view code, SourceRange token) {
    size_t at = code.find("LINUX_VERSION_CODE");
    if (at == std::string_view::npos) return false;
    SourceRange origin = CodeOrigin(code, token, sm_);
    LineColumn lc = sm_.file(origin.file).Locate(origin.begin + static_cast<uint32_t>(at));
    std::string_view release = program_.kernel.release;
    meta_.kernel_terms.push_back({"kernel_v",
                                  "==", std::string(release.substr(0, release.find('-'))),
                                  KernelTerm::Operand::String, true,
                                  sm_.file(origin.file).name() + ":" + std::to_string(lc.line) +
                                      ":" + std::to_string(lc.column) + ", LINUX_VERSION_CODE"});
    return true;
  };
  for (const ast::EmbeddedDecl* d : program_.embedded)
    if (term(d->code, d->range)) return;
  for (const CFunction& cf : c_functions_)
    if (term(cf.function ? cf.function->decl->embedded : cf.expr->code,
             cf.function ? cf.function->decl->range : cf.expr->range))
      return;
}

bool Lowering::LinkEmbeddedC() {
  if (c_functions_.empty()) return true;
  bool kernel_types = false, trimmed = false;
  for (const ast::EmbeddedDecl* d : program_.embedded) kernel_types |= MayUseKernelTypes(d->code);
  for (const CFunction& cf : c_functions_)
    kernel_types |= MayUseKernelTypes(cf.function ? cf.function->decl->embedded : cf.expr->code);
  const struct btf* btf = kernel_types && program_.kernel.btf ? program_.kernel.btf() : nullptr;
  KernelTypes types;
  if (btf) {
    // The types the C can reach by the words it uses (and `current`'s task_struct; the
    // prelude reads no kernel type); the whole header, precompiled, only when that
    // cannot be made.
    std::set<std::string> words = {"task_struct", "pt_regs"};
    auto add = [&](std::string_view code) {
      for (size_t i = 0; i < code.size();) {
        auto ident = [&](size_t k) {
          return std::isalnum(static_cast<unsigned char>(code[k])) || code[k] == '_';
        };
        size_t start = i;
        while (i < code.size() && ident(i)) ++i;
        if (i > start)
          words.emplace(code.substr(start, i - start));
        else
          ++i;
      }
    };
    for (const std::string& d : options_.c_defines) add(d);
    for (const ast::EmbeddedDecl* d : program_.embedded) add(d->code);
    for (const CFunction& cf : c_functions_)
      add(cf.function ? cf.function->decl->embedded : cf.expr->code);
    // The types the prelude's file-table lookups read.
    for (std::string_view lookup : kFileLookups)
      if (words.count(std::string(lookup)))
        words.insert({"files_struct", "fdtable", "file", "max_fds", "fd", "fdt"});
    std::string error;
    trimmed = KernelTypesFor(btf, words, &types.text, &error);
    if (!trimmed && !KernelTypesHeader(btf, &types, &error)) {
      diags_.Report(Diag::CodegenFailed, SourceRange{}, {error});
      return false;
    }
  }
  SourceRange first;
  // The translation unit over the kernel types `kt`.
  auto build = [&](const KernelTypes& kt, CSource& source) {
    if (btf) {
      if (!kt.text.empty()) source.Add("#line 1 \"<kernel types>\"\n" + kt.text);
      // The current task as a BTF pointer: its members are read directly (CO-RE).
      source.Add(
          "static struct task_struct *(*const bpf_get_current_task_btf)(void) = (void *)158;\n"
          "#define current (bpf_get_current_task_btf())\n");
    }
    source.Add(
        "#line 1 \"<btap prelude>\""
        "\n#define MAXSTRINGLEN " +
        std::to_string(limit_) + "\n#define __BTAP_SLOT " + std::to_string(slot_) + "\n");
    source.Add(kPrelude);
    // -D options (checked when btap read its options; MAXSTRINGLEN is the prelude's already, with
    // the same value).
    for (const std::string& d : options_.c_defines) {
      std::string name, directive, error;
      if (CDefine(d, &name, &directive, &error) && name != "MAXSTRINGLEN")
        source.Add(directive + "\n");
    }
    // stap's version macros: STAP_VERSION(a, b) is a version as one number, and
    // STAP_COMPAT_VERSION the --compatible one unless -D gave it.
    source.Add(
        "#define STAP_VERSION(a, b) (((a) << 8) + (b))\n#ifndef STAP_COMPAT_VERSION\n"
        "#define STAP_COMPAT_VERSION STAP_VERSION(" +
        CompatVersion(options_.compatible) + ")\n#endif\n");
    // The kernel's version macros (<linux/version.h>), for the kernel compiled for (-r):
    // from its release, the sublevel capped at 255 as the kernel caps it.
    source.Add(
        "#ifndef KERNEL_VERSION\n#define KERNEL_VERSION(a, b, c) "
        "(((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))\n#endif\n"
        "#ifndef LINUX_VERSION_CODE\n#define LINUX_VERSION_CODE " +
        std::to_string(LinuxVersionCode(program_.kernel.release)) + "\n#endif\n");
    VersionCodeTerm();
    if (!GlobalAccess(source)) return false;
    bool context = false;
    for (const ast::EmbeddedDecl* d : program_.embedded) context |= UsesContext(d->code);
    for (const CFunction& cf : c_functions_)
      context |= UsesContext(cf.function ? cf.function->decl->embedded : cf.expr->code);
    if (context) source.Add(kCContext);
    for (const ast::EmbeddedDecl* d : program_.embedded)
      source.AddScript(d->code, CodeOrigin(d->code, d->range, sm_), sm_);
    for (const CFunction& cf : c_functions_) {
      const sema::Function* f = cf.function;
      const ast::EmbeddedExpr* e = cf.expr;
      std::string_view code = f ? f->decl->embedded : e->code;
      SourceRange token = f ? f->decl->range : e->range;
      if (!first.valid()) first = token;
      Type ret = f ? f->ret : e->type == Type::String ? Type::String : Type::Long;
      const char* ret_c = ret == Type::String ? "char *" : "long ";
      bool unmangled = HasMarker(code, "/* unmangled */");
      std::string s = "\nstruct " + cf.symbol + "_this {\n";
      s += unmangled ? std::string("  union { ") + ret_c + "__retvalue; };\n"
                     : std::string("  ") + ret_c + "__retvalue;\n";
      s += "  char *__btap_error;\n  char *__btap_out;\n";
      if (UsesContext(code)) s += "  struct __btap_context __btap_context;\n";
      std::vector<const sema::Variable*> params =
          f ? std::vector<const sema::Variable*>(f->params.begin(), f->params.end())
            : ExprArgs(program_, e);
      for (const sema::Variable* p : params) {
        std::string name(p->name);
        const char* type = p->type == Type::String ? "char *" : "long ";
        s += unmangled
                 ? "  union { " + std::string(type) + "l_" + name + "; " + type + name + "; };\n"
                 : "  " + std::string(type) + "l_" + name + ";\n";
      }
      s += "};\n#define STAP_RETVALUE (THIS->__retvalue)\n";
      if (UsesContext(code)) s += "#define CONTEXT (&THIS->__btap_context)\n";
      if (ret == Type::String)
        s += "#define STAP_RETURN(...) do { __VA_OPT__(strlcpy(STAP_RETVALUE, (__VA_ARGS__), "
             "MAXSTRINGLEN);) return; } while (0)\n";
      else
        s += "#define STAP_RETURN(...) do { __VA_OPT__(STAP_RETVALUE = (long)(__VA_ARGS__);) "
             "return; } while (0)\n";
      for (const sema::Variable* p : params)
        s += "#define STAP_ARG_" + std::string(p->name) + " (THIS->l_" + std::string(p->name) +
             ")\n";
      source.Add(s);
      std::string head = "void " + cf.symbol + "(struct " + cf.symbol + "_this *THIS) { ";
      SourceRange origin = CodeOrigin(code, token, sm_);
      if (f)
        source.AddScript(code, origin, sm_, head, "\n}");
      else if (ret == Type::String)  // an expression: its value is the result
        source.AddScript(code, origin, sm_, head + "strlcpy(STAP_RETVALUE, (",
                         "), MAXSTRINGLEN); }");
      else
        source.AddScript(code, origin, sm_, head + "STAP_RETVALUE = (long)(", "); }");
      s = "#undef STAP_RETVALUE\n#undef STAP_RETURN\n#undef CONTEXT\n";
      for (const sema::Variable* p : params) s += "#undef STAP_ARG_" + std::string(p->name) + "\n";
      source.Add(s);
    }
    return true;
  };
  CSource source;
  if (!build(types, source)) return false;
  std::unique_ptr<llvm::Module> c;
  if (trimmed) {
    // C that the trimmed types do not serve (an enumerator, a typedef's struct) gets the
    // whole header, precompiled; a compile with warnings is made again to report them.
    DiagnosticSink trial;
    c = CompileC(source, context_, sm_, trial, first);
    if (!c || !trial.diagnostics().empty()) {
      KernelTypes whole;
      std::string error;
      if (!c && KernelTypesHeader(btf, &whole, &error)) {
        CSource again;
        if (!build(whole, again)) return false;
        c = CompileC(again, context_, sm_, diags_, first, whole.pch);
      } else {
        c = CompileC(source, context_, sm_, diags_, first);
      }
    }
  } else {
    c = CompileC(source, context_, sm_, diags_, first, types.pch);
  }
  if (!c) return false;
  KernelLoads loads = ReadKernelAddressesByHelper(*c);
  for (const BitfieldRead& read : loads.bitfields)
    Unsupported(ScriptPlace(read.file, read.line, read.column, first),
                "reading bitfield `" + read.member + "` through an address the C made",
                "; read it in the script (@cast(address, \"" +
                    (read.holder.empty() ? "TYPE" : read.holder) + "\")->" + read.member + ")");
  for (const KernelWrite& write : loads.writes)
    diags_.Report(Diag::EmbeddedCError, ScriptPlace(write.file, write.line, write.column, first),
                  {"a BPF program cannot write kernel memory, and this writes through an "
                   "address the C made (BPF reads kernel memory with bpf_probe_read_kernel; "
                   "it has no way to write it)"});
  if (!loads.bitfields.empty() || !loads.writes.empty()) return false;
  c->setDataLayout(module_.getDataLayout());
  c->setTargetTriple(module_.getTargetTriple());
  std::set<std::string> defined;
  for (llvm::Function& fn : *c)
    if (!fn.isDeclaration()) defined.insert(fn.getName().str());
  NameCFunctions(*c);
  // The C's constants (string literals, STAP_ERROR's formats) join the script's
  // literals in `.rodata`, the one read-only section the runtime places on the user
  // side; bpf_snprintf wants its format there too.
  // Each gets a symbol of its own, as the script's literals have: the runtime's
  // interpreter places data by symbol.
  int constants = 0;
  for (llvm::GlobalVariable& g : c->globals()) {
    if (!g.isConstant() || g.isDeclaration() || g.hasSection()) continue;
    g.setSection(".rodata");
    g.setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::None);  // else a mergeable section
    if (g.hasPrivateLinkage()) {
      g.setLinkage(llvm::GlobalValue::InternalLinkage);
      g.setName("__btap_cdata" + std::to_string(constants++));
    }
  }
  // The linker's complaint (C defining a name the script's module has) becomes btap's.
  struct Keep : llvm::DiagnosticHandler {
    std::string* out;
    explicit Keep(std::string* o) : out(o) {}
    bool handleDiagnostics(const llvm::DiagnosticInfo& info) override {
      if (info.getSeverity() == llvm::DS_Error) {
        llvm::raw_string_ostream text(*out);
        llvm::DiagnosticPrinterRawOStream printer(text);
        info.print(printer);
      }
      return true;
    }
  };
  std::string why;
  std::unique_ptr<llvm::DiagnosticHandler> handler = context_.getDiagnosticHandler();
  context_.setDiagnosticHandler(std::make_unique<Keep>(&why));
  bool link_failed = llvm::Linker::linkModules(module_, std::move(c));
  context_.setDiagnosticHandler(std::move(handler));
  if (link_failed) {
    diags_.Report(Diag::CodegenFailed, first,
                  {"linking the embedded C failed" + (why.empty() ? "" : ": " + why)});
    return false;
  }
  // Inlined into the probes like the runtime library (bpflib.cpp): the same target
  // attributes on both sides, and nothing of the C left as a program of its own.
  for (const std::string& name : defined) {
    llvm::Function* fn = module_.getFunction(name);
    if (!fn) continue;
    fn->removeFnAttr("target-cpu");
    fn->removeFnAttr("target-features");
    fn->removeFnAttr(llvm::Attribute::NoInline);
    fn->addFnAttr(llvm::Attribute::AlwaysInline);
    fn->setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  return true;
}

}  // namespace btap::codegen::lowering
