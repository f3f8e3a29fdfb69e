// Shared definitions of the BPF runtime library (codegen/bpflib/*.c).
#pragma once

// Library functions are external so that codegen can link them by name; they are
// always inlined into the probe programs that call them.
#define BTAP_LIB __attribute__((always_inline))

// Upper bound of every string loop: MAXSTRINGLEN can only be made smaller than this.
#define BTAP_MAX_STRING 4096

// `pos` as an offset inside a buffer of `size` bytes (a power of two). The mask is what
// the verifier bounds a variable offset by: the empty asm hides `pos` from the optimiser,
// which would otherwise drop the mask where earlier checks prove it redundant (the
// verifier, seeing another copy of `pos`, cannot), as a print of many values showed.
static inline __attribute__((always_inline)) unsigned long btap_masked(long pos,
                                                                       unsigned long size) {
  unsigned long at = (unsigned long)pos;
  asm volatile("" : "+r"(at));
  return at & (size - 1);
}

// Upper bound of loops over CPUs.
#define BTAP_MAX_CPUS 8192

// Kernel helpers the library calls, by number (linux/bpf.h's list).
static long (*const bpf_probe_read_kernel)(void* dst, unsigned int size,
                                           const void* src) = (void*)113;
static long (*const bpf_probe_read_kernel_str)(void* dst, unsigned int size,
                                               const void* src) = (void*)115;
static long (*const bpf_probe_read_user)(void* dst, unsigned int size,
                                         const void* src) = (void*)112;
static long (*const bpf_probe_read_user_str)(void* dst, unsigned int size,
                                             const void* src) = (void*)114;
static long (*const bpf_map_delete_elem)(void* map, const void* key) = (void*)3;
static long (*const bpf_for_each_map_elem)(void* map, void* callback, void* ctx,
                                           unsigned long flags) = (void*)164;
static void* (*const bpf_map_lookup_percpu_elem)(void* map, const void* key,
                                                 unsigned int cpu) = (void*)195;
static long (*const bpf_loop)(unsigned int nr_loops, void* callback, void* ctx,
                              unsigned long flags) = (void*)181;
// Kernel only: btap's interpreter does not have it.
static long (*const bpf_snprintf)(char* str, unsigned int str_size, const char* fmt,
                                  const unsigned long* data, unsigned int data_len) = (void*)165;

// Loop bodies for bpf_loop: real subprograms (codegen gives them debug info, which the
// kernel needs for every subprogram), verified once per call site instead of once per
// round, so branchy per-byte work fits the verifier.
#define BTAP_CALLBACK __attribute__((noinline))
