// The C prelude of embedded C (DESIGN decision 8): stap's C conventions and the C library
// functions its code calls, over BPF helpers. lower_embedded.cpp puts it at the head of
// each script's translation unit, after MAXSTRINGLEN and __BTAP_SLOT.
#include "codegen/embedded_c.h"

namespace btap::codegen {

// stap's conventions (man stap, EMBEDDED C) over BPF: types, the string functions stap's
// C uses (bounded, so the verifier accepts them), errors and kernel reads. The function
// wrappers define the per-function macros (STAP_ARG_*, STAP_RETVALUE, STAP_RETURN).
extern const char* const kEmbeddedPrelude = R"prelude(
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
// strnlen without a loop: the kernel's string copy (into a sink no one reads, which CPUs may
// share) says where the NUL is. A loop of a branch per byte had the verifier keep every
// byte's exit pending (psig.stp's strlen in a 64-round loop passed its 8,192 on 6.1) and
// walk what follows once per length (ttyspy.stp's two strlens passed a million
// instructions). The copy reads at most `limit` bytes, as the loop did, and returns `limit`
// both when the NUL is the last of them and when there is none: that last byte decides.
// A string that runs into unreadable memory before its NUL measures 0.
static char __btap_length_sink[__BTAP_SLOT] __attribute__((section(".bss"), aligned(8)));
static inline __attribute__((always_inline)) size_t strnlen(const char *s, size_t max) {
  size_t limit = max < MAXSTRINGLEN ? max : MAXSTRINGLEN;
  if (limit == 0) return 0;
  long n = bpf_probe_read_kernel_str(__btap_length_sink, limit, s);
  if (n < 1) return 0;
  if ((size_t)n < limit) return n - 1;
  char last = 0;
  if (bpf_probe_read_kernel(&last, 1, s + limit - 1)) return 0;
  return last ? limit : limit - 1;
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
// strcmp and strncmp as libc's (the sign of the first differing byte, as unsigned char; a
// string that cannot be read compares as an empty one). A C function that names them gets
// two string slots of scratch (`__btap_compare_area`, made by its call): both are zeroed,
// each string is copied into one by the kernel's string copy (at most `size` bytes and a NUL,
// so what follows is zeros in both), and the copies are compared a word at a time over the
// whole slot without a branch, the first differing word kept by masks. The verifier then
// walks straight code, where a branch per byte kept every byte's exit pending (a loop of 64
// rounds calling one passed its 8,192). __btap_opaque keeps LLVM from making compares of
// the masks again (BPF has no instruction that compares without a branch) and from making
// the zeroing a memset call. Outside a function's body (a helper of a top-level %{ %}
// block) there is no scratch (the file's null area, known when compiling): there the loop
// compares a byte a branch. (One result on every path of that loop: with a `return` per
// case, LLVM kept an undefined value in a register that BPF then read, "R2 !read_ok".)
static inline __attribute__((always_inline)) __s64 __btap_opaque(__s64 v) {
  asm volatile("" : "+r"(v));
  return v;
}
static char *const __btap_compare_area = NULL;
static inline __attribute__((always_inline)) int __btap_strncmp(char *area, const char *a,
                                                                const char *b, size_t size) {
  size_t n = size < MAXSTRINGLEN ? size : MAXSTRINGLEN;
  if (__builtin_constant_p(!area) && !area) {
    int r = 0;
    for (size_t i = 0; i < n; ++i) {
      unsigned char x = a[i], y = b[i];
      r = (x > y) - (x < y);
      if (r || !x) break;
    }
    return r;
  }
  __u64 *wa = (__u64 *)area, *wb = (__u64 *)(area + __BTAP_SLOT + 8);
  __u64 zero = __btap_opaque(0);
  for (int k = 0; k < (MAXSTRINGLEN + 7) / 8; ++k) {
    wa[k] = zero;
    wb[k] = zero;
  }
  bpf_probe_read_kernel_str(wa, n + 1, a);
  bpf_probe_read_kernel_str(wb, n + 1, b);
  __u64 xa = 0, xb = 0, done = 0;
  for (int k = 0; k < (MAXSTRINGLEN + 7) / 8; ++k) {
    __u64 va = wa[k], vb = wb[k], d = va ^ vb;
    __u64 hit = __btap_opaque(__btap_opaque(d | -d) >> 63) & ~done;  // ones at the first
    xa |= va & hit;
    xb |= vb & hit;
    done |= hit;
  }
  // In memory order the first differing byte is the most significant; the sign is the
  // difference of the two unsigned compares, each as its subtraction's borrow (Hacker's
  // Delight, 2-12), no branch either.
  xa = __builtin_bswap64(xa);
  xb = __builtin_bswap64(xb);
  __u64 below = (~xa & xb) | (~(xa ^ xb) & (xa - xb));
  __u64 above = (~xb & xa) | (~(xa ^ xb) & (xb - xa));
  return (int)((__u64)__btap_opaque(above) >> 63) - (int)((__u64)__btap_opaque(below) >> 63);
}
#define strncmp(a, b, size) __btap_strncmp(__btap_compare_area, (a), (b), (size))
#define strcmp(a, b) __btap_strncmp(__btap_compare_area, (a), (b), MAXSTRINGLEN)
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

}  // namespace btap::codegen
