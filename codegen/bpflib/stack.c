// btap's BPF runtime library, stack part: the kernel or user stack of the probed context,
// as backtrace()'s text (stap's hex addresses separated by spaces) or one address of it.
// Symbols are not resolved here: the runtime does that from /proc/kallsyms and the
// objects the process maps. `flags` is bpf_get_stack's: 0 for the kernel stack,
// BPF_F_USER_STACK for the user one (which the kernel walks by frame pointers).
#include "bpflib.h"

static long (*const bpf_get_stack)(void* ctx, void* buf, unsigned int size,
                                   unsigned long flags) = (void*)67;

// stap's MAXBACKTRACE: the deepest frame its unwinder reports.
#define BTAP_MAX_BACKTRACE 20

// In `flags` (a bit bpf_get_stack does not use): leave out the BPF program's own frames
// at the top of the stack, which a raw tracepoint's program sees (codegen: the
// syscalls:* points that run on raw_syscalls). The kernel's tracepoint frames below them
// (bpf_trace_run2, __bpf_trace_sys_enter) stay. The program's frames are told by address:
// x86-64 JIT code in the module area (0xffffffffa0000000 or, with KASLR,
// 0xffffffffc0000000 on); with the JIT off, frame 0 is kernel text and nothing is left out
// unless that text lies above 0xffffffffa0000000.
#define BTAP_SKIP_BPF_FRAMES (1UL << 62)

// Fills `frames` (32 slots) with the stack, the first BTAP_MAX_BACKTRACE frames that
// count; returns how many.
static inline __attribute__((always_inline)) long capture(void* ctx, unsigned long* frames, unsigned long flags) {
  if (!(flags & BTAP_SKIP_BPF_FRAMES)) {
    long got = bpf_get_stack(ctx, frames, BTAP_MAX_BACKTRACE * 8, flags);
    return got > 0 ? got / 8 : 0;
  }
  long got = bpf_get_stack(ctx, frames, 32 * 8, flags & ~BTAP_SKIP_BPF_FRAMES);
  long n = got > 0 ? got / 8 : 0;
  if (n <= 0) return 0;
  // Counted without branches (as in btap_backtrace), so that each stack() and
  // backtrace() adds one path for the verifier: for the small values compared here,
  // (x - y) >> 63 is 1 when x < y; `run` stays 1 while the frames are the program's.
  unsigned long x0 = ~frames[0];
  unsigned long below = 0x60000000UL - 0x20000000UL * ((x0 - 0x40000000UL) >> 63);
  long skip = 0;
  unsigned long run = 1;
  for (long i = 0; i < 12; i++) {
    unsigned long here = ((unsigned long)(i - n) >> 63) & ((~frames[i] - below) >> 63);
    asm volatile("" : "+r"(here));
    run &= here;
    skip += (long)run;
  }
  // Moved up whole (past the stack only what this program did not fill): no branch.
  for (int i = 0; i < BTAP_MAX_BACKTRACE; i++) frames[i] = frames[(i + skip) & 31];
  n -= skip;
  return n > BTAP_MAX_BACKTRACE ? BTAP_MAX_BACKTRACE : n;
}

// backtrace(): "0x%lx" of each frame, separated by spaces, whole addresses only, within
// `limit` - 1 bytes of `dst` (a slot of `size` bytes, a power of two); callers(n): of the
// first `last` + 1 frames only (all of them when `last` is negative).
BTAP_LIB long btap_backtrace(char* dst, void* ctx, unsigned long* frames, long last,
                             unsigned long flags, unsigned long size, unsigned long limit) {
  const char* hex = "0123456789abcdef";
  long n = capture(ctx, frames, flags);
  if (last >= 0 && last + 1 < n) n = last + 1;
  long pos = 0;
  for (int i = 0; i < BTAP_MAX_BACKTRACE; i++) {
    if (i >= n) break;
    unsigned long a = frames[i];
    // Digits without leading zeros, counted with arithmetic only, so that the verifier
    // walks one path per frame: (x | -x) >> 63 is 1 when x is not 0. The barrier keeps
    // the optimiser from turning it back into a comparison, which BPF makes a branch.
    long digits = 1;
    for (int k = 1; k < 16; k++) {
      unsigned long x = a >> (4 * k);
      unsigned long m = x | (0 - x);
      asm volatile("" : "+r"(m));
      digits += (long)(m >> 63);
    }
    long need = (i ? 1 : 0) + 2 + 16;
    if (pos + need >= (long)limit) break;
    if (i) dst[(unsigned long)pos++ & (size - 1)] = ' ';
    dst[(unsigned long)pos++ & (size - 1)] = '0';
    dst[(unsigned long)pos++ & (size - 1)] = 'x';
    // All 16 places are written, the significant digits first; the next address or the
    // terminator overwrites the rest.
    unsigned long v = a << (4 * (16 - digits));
    for (int k = 0; k < 16; k++) {
      dst[(unsigned long)(pos + k) & (size - 1)] = hex[(v >> 60) & 15];
      v <<= 4;
    }
    pos += digits;
  }
  dst[(unsigned long)pos & (size - 1)] = 0;
  return pos;
}

// stack(n): the address `n` frames up (0 is where the probe hit), 0 beyond the stack.
BTAP_LIB long btap_stack_at(void* ctx, unsigned long* frames, long depth, unsigned long flags) {
  long n = capture(ctx, frames, flags);
  if (depth < 0 || depth >= n || depth >= BTAP_MAX_BACKTRACE) return 0;
  return (long)frames[depth & 31];
}
