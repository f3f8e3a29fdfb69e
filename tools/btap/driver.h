// The `btap` driver: options in, passes run, diagnostics rendered, exit status out.
// Callable in process so that golden tests see exactly what the binary prints.
#pragma once

#include <time.h>

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "codegen/lower.h"
#include "common/source.h"
#include "frontend/preprocessor.h"
#include "semantic/machine/kernel_image.h"
#include "tools/btap/options.h"

namespace btap::driver {

int Run(const std::vector<std::string>& argv, std::istream& in, std::ostream& out,
        std::ostream& err);

// Code generation options from -D NAME=VALUE (MAXSTRINGLEN, MAXMAPENTRIES, MAXERRORS,
// MAXACTION, BTAP_RINGBUF_BYTES) and -m; the name and hash come from the sources.
bool CompileOptionsFrom(const Options& options, const SourceManager& sm,
                        codegen::CompileOptions* compile, std::string* error);

// Pass 5: runs a compiled object with -T, -c and -x; returns the exit status.
int RunObject(std::vector<uint8_t> object, const Options& options, std::ostream& out,
              std::ostream& err);

// After pass 4, whether compiled or taken from the cache: -p4 writes the object (to -o
// FILE, else SCRIPT_NAME.bo) and prints its path; pass 5 runs it.
int FinishObject(std::vector<uint8_t> object, const std::string& script_name,
                 const Options& options, std::ostream& out, std::ostream& err);

// The preprocessor's view of the machine: kernel release, architecture, kernel config.
// `kernel`: what -r named (the running kernel by default).
frontend::PPConfig MachineConfig(const Options& options, const sema::TargetKernel& kernel = {});
// Whether this process may load and attach BPF programs (root, or CAP_SYS_ADMIN, or
// CAP_BPF with CAP_PERFMON).
bool MayLoadBpf();
// Whether tracefs (tracepoint formats, syscall events) can be read; root only by default.
bool TracefsReadable();
// Whether listing PATTERN may need kernel facts (tracefs), so root, to list anything.
bool ListingNeedsKernel(std::string_view pattern);

// -k: a new $TMPDIR/btapXXXXXX (default /tmp); "" and *error when it cannot be made.
std::string MakeTempDir(std::string* error);
// stap's architecture names: i?86 -> i386, aarch64 -> arm64, ppc* -> powerpc, ...
std::string NormalizeArch(const std::string& machine);

}  // namespace btap::driver
