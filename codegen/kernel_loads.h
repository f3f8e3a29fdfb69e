// Embedded C that reads kernel memory through an address it made itself (a long cast to a
// pointer, `(struct file *)STAP_ARG_f`), as stap's C does: the verifier lets a BPF program
// load only through pointers it can type (the stack, maps, BTF pointers like `current`), so
// those loads become bpf_probe_read_kernel calls, CO-RE relocations kept.
#pragma once

#include <string>
#include <vector>

namespace llvm {
class Module;
}  // namespace llvm

namespace btap::codegen {

// A bitfield read through such an address (left as it was): the member, the struct that
// holds it ("" when unnamed), and where the C reads it (its file, line and column as the
// debug info gives them).
struct BitfieldRead {
  std::string member;
  std::string holder;
  std::string file;
  unsigned line = 0, column = 0;
};

// A store (or memset, memcpy, memmove) through such an address: a write of kernel memory,
// which no BPF program can make; where the C makes it.
struct KernelWrite {
  std::string file;
  unsigned line = 0, column = 0;
};

struct KernelLoads {
  int rewritten = 0;  // loads and copies that became reads
  std::vector<BitfieldRead> bitfields;
  std::vector<KernelWrite> writes;
};

// Rewrites, in the (unoptimised) embedded C module `c`, every load through a pointer that
// may be a raw kernel address into a bpf_probe_read_kernel of the same bytes (zero when
// the read faults, as a BTF pointer's load reads), and every memcpy from one into a read
// of its length. Such pointers start at an integer cast to a pointer and carry on through
// address arithmetic, CO-RE member accesses, pointers loaded through them, locals they
// are stored or copied (memcpy, also from another such local) in, function arguments and
// results, and pointer parameters a callee stores them through (out-parameters, structs
// returned by value). A store through a pointer of no known object (`*pp = raw`) marks
// every local whose address its function lets out. A bitfield's load is not rewritten but
// returned, for an error, and so is each write through a pointer certainly made from an
// integer (the verifier would refuse it with a register number, nowhere near the C that
// made it; a pointer that only may hold one is left to the verifier).
KernelLoads ReadKernelAddressesByHelper(llvm::Module& c);

}  // namespace btap::codegen
