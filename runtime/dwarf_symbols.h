// Symbols and source lines that the runtime reads through elfutils' libdwfl: those of a
// traced process (the ELF symbol tables of the objects it maps, and their DWARF lines
// where the objects or their installed debuginfo have them), and the kernel's source
// lines (vmlinux and modules with debuginfo). Read when a record first needs them.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/symbols.h"

namespace btap::runtime {

// The symbols of process `pid` as it maps its objects now; a process that is gone (or
// pid 0) has none, so its addresses print as hex. Kept for the processes seen last, and
// read again when an address falls outside every object known (dlopen, exec).
const SymbolSource& ProcessSymbolsOf(int pid);

// Reads process `pid`'s mappings and opens its objects now (a kernel probe kept addresses
// of it), so that they can be symbolized once it has exited.
void PrimeProcessSymbols(int pid);

// Reads process `pid`'s mappings now, before any probe has kept an address of it (the -c
// command stopped at its exec, a -x target): a process that exits before the runtime
// reads a probe's record keeps what was read here. The next PrimeProcessSymbols reads
// them again while the process runs (libraries loaded since).
void KeepProcessSymbols(int pid);

// The kernel's source file and line of `address`; empty and 0 without its DWARF.
void KernelSourceLine(uint64_t address, std::string* file, uint64_t* line);

}  // namespace btap::runtime
