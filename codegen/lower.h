// Passes 3 and 4: the elaborated program (sema::Program) becomes one LLVM module for the
// BPF target — one program per probe, globals as global data and maps, strings in per-CPU
// scratch space, output as ring-buffer records — and then a BPF object with its
// `.btap.meta` section. Constructs that cannot run yet are located errors, never
// silently dropped code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "common/object_meta.h"
#include "common/source.h"

namespace btap::sema {
struct Program;
}

namespace btap::codegen {

struct CompileOptions {
  std::string script_name;          // the module name (-m), also the object's name in messages
  std::string script_hash;          // a digest of everything that went into the program
  uint32_t max_string_len = 256;    // MAXSTRINGLEN, bytes including the terminating NUL
  uint32_t max_map_entries = 2048;  // MAXMAPENTRIES
  uint32_t max_errors = 0;          // MAXERRORS
  uint32_t max_action = 1000;       // MAXACTION: iterations of one loop in a kernel probe
  uint32_t max_nesting = 10;        // MAXNESTING: nested calls of recursive functions
  // The output ring buffer: 0 picks 4 MiB when kernel probes print, one page otherwise.
  uint32_t ring_buffer_bytes = 0;
  bool guru = false;  // -g: the script may call C marked `/* guru */`
  // -D NAME[=VALUE], all of them: embedded C sees each as a macro, as stap's C compiler does.
  std::vector<std::string> c_defines;
  // --compatible: the language version embedded C sees as STAP_COMPAT_VERSION.
  std::string compatible = "4.8";
  bool want_ir = false;        // fill Compiled::ir (-p3)
  bool want_assembly = false;  // fill Compiled::assembly (--dump=bpf-asm)
  // -G NAME=VALUE: initial values of global scalars, overriding the script's.
  std::vector<std::pair<std::string, std::string>> global_values;
  // The preprocessor's decisions about the kernel, for the runtime to check (meta).
  std::vector<KernelTerm> kernel_terms;
  // The target kernel's release (-r, or the running kernel): whose verifier's rule the
  // stacks of chains of calls are checked by (stack_chain.h); "" the newest rule.
  std::string kernel_release;
  // While/for loops (by where they begin) a kernel handler keeps plain rather than making
  // bpf_loop callbacks: Compile fills it when a callback's chain of frames does not fit.
  std::vector<SourceRange> plain_loops;
  // -D BTAP_NO_STACK_CHECK: no check of chains of calls (the kernel's verifier has the
  // last word; a chain the check counts deeper than the kernel does then loads).
  bool check_stack_chains = true;
};

struct Compiled {
  meta::Meta meta;
  std::string ir;               // the optimised module as text (pass 3's output), when asked for
  std::string assembly;         // BPF instructions as text, when asked for
  std::vector<uint8_t> object;  // the BPF ELF object (.bo)
};

// Fails with diagnostics located at the construct that cannot be compiled.
bool Compile(const sema::Program& program, const SourceManager& sm, const CompileOptions& options,
             DiagnosticSink& diags, Compiled* out);

}  // namespace btap::codegen
