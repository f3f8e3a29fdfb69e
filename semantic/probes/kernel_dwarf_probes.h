// Kernel probe points resolved through the kernel's DWARF (kernel_dwarf_probes.cpp),
// shared by the kernel.function family and listing.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "semantic/machine/debuginfo.h"
#include "semantic/probe_family.h"

namespace btap::sema {

class KernelDwarf;
class KernelFunctionIndex;
struct KernelFunction;

// Expands a kernel.function point whose pattern needs DWARF (`f@file.c`, `.inline`) or a
// kernel.statement point (`statement`) into one probe per address; with `module`, the
// same points of module("MODULE") from the module's DWARF.
void ExpandKernelDwarf(ProbeSpec spec, const PointPart& name, std::span<const PointPart> suffixes,
                       bool statement, ResolveContext& ctx, std::vector<ProbeSpec>& out,
                       const std::string& module = "");

// Listing with DWARF: names `function`'s point `prefix("NAME@FILE:LINE")suffix` and, for -L,
// adds the locals DWARF knows at its entry. False (spec untouched) without DWARF. With
// `module`, the prefix is `module("MODULE").function` and the DWARF the module's.
bool ListWithDwarf(ResolveContext& ctx, std::string_view function, std::string_view prefix,
                   std::string_view suffix, ProbeSpec& spec, const std::string& module = "");

// The variables DWARF can read at `at` in `f` that `spec` does not have yet, as
// TargetArg::Source::Dwarf (their values are built by the target-variable pass).
// In listings (`listing`) every variable in scope, as stap lists them; with
// `parameters_only`, the function's parameters.
void AddDwarfVariables(KernelDwarf& kd, const DebugFunction& f, uint64_t at, bool listing,
                       ProbeSpec& spec, bool parameters_only = false);

// kernel_function.cpp: `f`'s parameters from BTF (registers), as its BTF probes have them.
void AddBtfArgs(const KernelFunctionIndex& index, const KernelFunction& f, bool listing,
                ProbeSpec& spec);

}  // namespace btap::sema
