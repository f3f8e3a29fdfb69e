// The runtime's user-space BPF interpreter. begin/end/error probes and timers that use
// no task context are compiled to BPF like every other probe and run here, with helpers
// that only this interpreter offers (sorted iteration, printing, string work). Every
// memory access is checked against the frame's stack and the regions the runtime
// registered; a bad program is an error with its instruction index, never a crash.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace btap::runtime {

class Interpreter {
 public:
  // Per frame. The kernel's is 512 bytes; user-side probes may use more (codegen lets
  // LLVM's BPF backend go past its 512-byte check for them), up to what an instruction's
  // 16-bit offset reaches from r10.
  static constexpr size_t kStackSize = 8192;
  // Script functions on a cycle of calls are real calls, one frame each: codegen stops
  // them at MAXNESTING (at most kMaxNesting) with a located error; this is the safety net
  // past that (with room for the probe's frame and the library's calls). The stacks are
  // reserved once, and only the frames a run enters are touched.
  static constexpr int kMaxNesting = 1000;
  static constexpr int kMaxFrames = kMaxNesting + 16;

  Interpreter() = default;
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;
  ~Interpreter();

  // A helper gets r1..r5 and returns r0; it reports a failure by setting *error.
  using Helper = std::function<uint64_t(const uint64_t args[5], std::string* error)>;

  void SetHelper(int32_t id, Helper helper);
  // Memory outside the stack that programs may read (and write, if `writable`).
  void AddRegion(const void* base, size_t size, bool writable);
  void ClearRegions() { regions_.clear(); }
  void set_instruction_limit(uint64_t limit) { limit_ = limit; }

  // Runs `program` from its first instruction with r1 = `context`. On success stores r0.
  // On failure returns false with "instruction N: what went wrong".
  bool Run(std::span<const bpf_insn> program, uint64_t context, uint64_t* result,
           std::string* error);

  // After a failed Run: the instruction it stopped at, what went wrong there (without
  // the instruction's index), and whether it was the instruction limit.
  size_t fault_instruction() const { return fault_pc_; }
  const std::string& fault() const { return fault_; }
  bool limit_reached() const { return limit_reached_; }

  // Checks that [address, address + size) is readable (or writable); for helpers.
  bool Accessible(uint64_t address, size_t size, bool write) const;

 private:
  struct Region {
    uint64_t begin;
    uint64_t end;
    bool writable;
  };
  struct Frame {
    size_t return_pc;
    uint64_t saved[4];  // r6..r9
  };

  std::vector<std::pair<int32_t, Helper>> helpers_;
  std::vector<Region> regions_;
  uint8_t* stack_ = nullptr;  // kMaxFrames stacks, mapped on first use
  uint64_t stack_top_ = 0;    // end of the running frame's stack
  uint64_t limit_ = 1 << 24;
  size_t fault_pc_ = 0;
  std::string fault_;
  bool limit_reached_ = false;
};

}  // namespace btap::runtime
