// The kernel's stack limit across BPF-to-BPF calls (its verifier's check_max_stack_depth):
// each function's stack, rounded up to 32 bytes, added along every chain of calls from a
// program (callbacks that bpf_loop and bpf_for_each_map_elem are given count as calls),
// at most 512 bytes. LLVM checks each function alone; this checks the chains, in the
// emitted object, as the verifier sees them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace btap::codegen {

struct StackChain {
  std::string program;              // the program's function (its symbol)
  std::vector<std::string> frames;  // the chain, the program first
  std::vector<uint32_t> depths;     // each frame's stack bytes, as the verifier rounds them
  uint32_t total = 0;
};

constexpr uint32_t kMaxChainStack = 512;

// The deepest chain of each program in `object` (an ELF64 relocatable BPF object) whose
// frames pass kMaxChainStack; programs in sections that start with `skip_prefix` are left
// out (btap's user-side probes, which the kernel never loads).
std::vector<StackChain> ChainsPastLimit(const std::vector<uint8_t>& object,
                                        const std::string& skip_prefix);

}  // namespace btap::codegen
