// The kernel's stack limit across BPF-to-BPF calls (its verifier's check_max_stack_depth),
// by the rule of the kernel the object is compiled for. LLVM checks each function alone;
// this checks the chains, in the emitted object, as that verifier counts them:
// - every function a program calls, and every callback it hands to a helper (bpf_loop,
//   bpf_for_each_map_elem: an address taken counts as a call), adds its frame on top of
//   its caller's; at most 512 bytes along any chain, 8 frames deep;
// - before 6.9 each frame is rounded up to 32 bytes (an empty one counts 32); from 6.9 the
//   JIT's rounding, up to 16 bytes (an empty one counts 0);
// - from 6.13 the JIT gives a frame of 64 bytes or more (after rounding) a private stack
//   of its own, outside the chain's sum, in the program types of tracing (kprobe, uprobe,
//   tracepoint, raw tracepoint, perf_event, fentry/fexit); netfilter programs have none.
// Where the kernel may count less (its JIT off, say) this counts the least, meaning to
// refuse nothing that kernel loads; but it follows no control flow (a slot counts whether
// or not the verifier walks the code that uses it), so it may count deeper than the
// verifier does. -D BTAP_NO_STACK_CHECK (CompileOptions::check_stack_chains) skips it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace btap::codegen {

struct StackChain {
  std::string program;              // the program's function (its symbol)
  std::vector<std::string> frames;  // the chain, the program first
  std::vector<uint32_t> depths;     // each frame's bytes as the chain counts them
  uint32_t total = 0;
};

constexpr uint32_t kMaxChainStack = 512;

struct StackRule {
  uint32_t granule = 32;      // each frame rounded up to this many bytes
  bool empty_counts = true;   // an empty frame counts one granule (the interpreter's rule)
  uint32_t private_from = 0;  // frames of this many bytes get a private stack; 0 never
  std::string kernel;         // the release it is for, for messages ("" unknown)
};

// The rule of the kernel `release` (uname -r, as -r gives it); an unknown release gets
// the newest rule known.
StackRule StackRuleFor(std::string_view release);

// The deepest chain of each program in `object` (an ELF64 relocatable BPF object) past
// `limit` bytes under `rule`; programs in sections that start with `skip_prefix` are left
// out (btap's user-side probes, which the kernel never loads).
std::vector<StackChain> ChainsPastLimit(const std::vector<uint8_t>& object,
                                        const std::string& skip_prefix, const StackRule& rule,
                                        uint32_t limit = kMaxChainStack);

}  // namespace btap::codegen
