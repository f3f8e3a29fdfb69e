// Embedded C that reads kernel memory through an address it made itself (a long cast to a
// pointer, `(struct file *)STAP_ARG_f`), as stap's C does: the verifier lets a BPF program
// load only through pointers it can type (the stack, maps, BTF pointers like `current`), so
// those loads become bpf_probe_read_kernel calls, CO-RE relocations kept.
#pragma once

namespace llvm {
class Module;
}  // namespace llvm

namespace btap::codegen {

// Rewrites, in the (unoptimised) embedded C module `c`, every load through a pointer that
// may be a raw kernel address into a bpf_probe_read_kernel of the same bytes (zero when
// the read faults, as a BTF pointer's load reads), and every memcpy from one into a read
// of its length. Such pointers start at an integer cast to a pointer and carry on through
// address arithmetic, CO-RE member accesses, pointers loaded through them, locals they
// are stored in, and function arguments and results. Returns how many were rewritten.
int ReadKernelAddressesByHelper(llvm::Module& c);

}  // namespace btap::codegen
