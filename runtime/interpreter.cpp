// BPF instruction semantics as the kernel defines them (ALU64/ALU32 with zero-extension,
// division by zero giving 0 and modulo by zero keeping the dividend, JMP/JMP32, loads
// and stores of 1/2/4/8 bytes, atomics, 64-bit immediates, helper and bpf-to-bpf calls).
#include "runtime/interpreter.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

namespace btap::runtime {
namespace {

size_t SizeOf(uint8_t code) {
  switch (BPF_SIZE(code)) {
    case BPF_B:
      return 1;
    case BPF_H:
      return 2;
    case BPF_W:
      return 4;
    default:
      return 8;
  }
}

uint64_t Load(uint64_t address, size_t size) {
  uint64_t v = 0;
  std::memcpy(&v, reinterpret_cast<const void*>(address), size);  // little-endian host
  return v;
}

void Store(uint64_t address, size_t size, uint64_t v) {
  std::memcpy(reinterpret_cast<void*>(address), &v, size);
}

// Returns false for an unknown operation.
bool Alu(uint8_t op, bool is64, uint64_t& dst, uint64_t src, int32_t imm) {
  uint64_t mask = is64 ? ~0ull : 0xffffffffull;
  unsigned shift = is64 ? 63 : 31;
  uint64_t a = dst & mask, b = src & mask;
  switch (op) {
    case BPF_ADD:
      a += b;
      break;
    case BPF_SUB:
      a -= b;
      break;
    case BPF_MUL:
      a *= b;
      break;
    case BPF_DIV:
      a = b ? a / b : 0;
      break;
    case BPF_MOD:
      a = b ? a % b : a;
      break;
    case BPF_OR:
      a |= b;
      break;
    case BPF_AND:
      a &= b;
      break;
    case BPF_XOR:
      a ^= b;
      break;
    case BPF_LSH:
      a <<= (b & shift);
      break;
    case BPF_RSH:
      a >>= (b & shift);
      break;
    case BPF_ARSH:
      a = is64 ? static_cast<uint64_t>(static_cast<int64_t>(a) >> (b & shift))
               : static_cast<uint32_t>(static_cast<int32_t>(a) >> (b & shift));
      break;
    case BPF_NEG:
      a = 0 - a;
      break;
    case BPF_MOV:
      a = b;
      break;
    case BPF_END: {
      // to-le on a little-endian host truncates; to-be swaps.
      unsigned bits = static_cast<unsigned>(imm);
      uint64_t v = dst;
      if (bits == 16) v &= 0xffff;
      if (bits == 32) v &= 0xffffffff;
      if ((src & 1) /* BPF_TO_BE */) {
        if (bits == 16) v = __builtin_bswap16(static_cast<uint16_t>(v));
        if (bits == 32) v = __builtin_bswap32(static_cast<uint32_t>(v));
        if (bits == 64) v = __builtin_bswap64(v);
      }
      dst = v;
      return bits == 16 || bits == 32 || bits == 64;
    }
    default:
      return false;
  }
  dst = a & mask;
  return true;
}

// Returns -1 for an unknown condition, else whether the jump is taken.
int Condition(uint8_t op, bool is64, uint64_t a, uint64_t b) {
  if (!is64) {
    a &= 0xffffffff;
    b &= 0xffffffff;
  }
  int64_t sa = is64 ? static_cast<int64_t>(a) : static_cast<int32_t>(a);
  int64_t sb = is64 ? static_cast<int64_t>(b) : static_cast<int32_t>(b);
  switch (op) {
    case BPF_JEQ:
      return a == b;
    case BPF_JNE:
      return a != b;
    case BPF_JGT:
      return a > b;
    case BPF_JGE:
      return a >= b;
    case BPF_JLT:
      return a < b;
    case BPF_JLE:
      return a <= b;
    case BPF_JSGT:
      return sa > sb;
    case BPF_JSGE:
      return sa >= sb;
    case BPF_JSLT:
      return sa < sb;
    case BPF_JSLE:
      return sa <= sb;
    case BPF_JSET:
      return (a & b) != 0;
    default:
      return -1;
  }
}

}  // namespace

Interpreter::~Interpreter() {
  if (stack_) munmap(stack_, kStackSize * kMaxFrames);
}

void Interpreter::SetHelper(int32_t id, Helper helper) {
  for (auto& [known, h] : helpers_)
    if (known == id) {
      h = std::move(helper);
      return;
    }
  helpers_.emplace_back(id, std::move(helper));
}

void Interpreter::AddRegion(const void* base, size_t size, bool writable) {
  auto b = reinterpret_cast<uint64_t>(base);
  regions_.push_back({b, b + size, writable});
}

bool Interpreter::Accessible(uint64_t address, size_t size, bool write) const {
  if (address + size < address) return false;
  // The stacks of the running frame and its callers (callees may use a caller's buffer).
  auto stack = reinterpret_cast<uint64_t>(stack_);
  if (address >= stack && address + size <= stack_top_) return true;
  return std::any_of(regions_.begin(), regions_.end(), [&](const Region& r) {
    return address >= r.begin && address + size <= r.end && (!write || r.writable);
  });
}

bool Interpreter::Run(std::span<const bpf_insn> program, uint64_t context, uint64_t* result,
                      std::string* error) {
  if (!stack_) {
    void* at = mmap(nullptr, kStackSize * kMaxFrames, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (at == MAP_FAILED) {
      *error = "no memory for the interpreter's stacks";
      return false;
    }
    stack_ = static_cast<uint8_t*>(at);
  }
  std::memset(stack_, 0, kStackSize);  // each frame's stack starts zeroed
  uint64_t reg[11] = {};
  std::vector<Frame> frames;
  reg[1] = context;
  reg[10] = reinterpret_cast<uint64_t>(stack_) + kStackSize;
  stack_top_ = reg[10];
  size_t pc = 0;
  uint64_t executed = 0;
  limit_reached_ = false;
  auto fail = [&](const std::string& what) {
    fault_pc_ = pc;
    fault_ = what;
    *error = "instruction " + std::to_string(pc) + ": " + what;
    return false;
  };
  while (true) {
    if (pc >= program.size()) return fail("ran past the end of the program");
    if (++executed > limit_) {
      limit_reached_ = true;
      return fail("instruction limit reached (a loop that never ends?)");
    }
    const bpf_insn& in = program[pc];
    uint8_t cls = BPF_CLASS(in.code);
    if (in.dst_reg > 10 || in.src_reg > 10) return fail("bad register");
    uint64_t& dst = reg[in.dst_reg];
    uint64_t src = BPF_SRC(in.code) == BPF_X ? reg[in.src_reg]
                                             : static_cast<uint64_t>(static_cast<int64_t>(in.imm));
    switch (cls) {
      case BPF_ALU:
      case BPF_ALU64: {
        if (in.dst_reg == 10) return fail("r10 is read-only");
        uint64_t operand = BPF_OP(in.code) == BPF_END ? (BPF_SRC(in.code) == BPF_X) : src;
        if (!Alu(BPF_OP(in.code), cls == BPF_ALU64, dst, operand, in.imm))
          return fail("unknown ALU operation");
        ++pc;
        break;
      }
      case BPF_JMP:
      case BPF_JMP32: {
        uint8_t op = BPF_OP(in.code);
        if (op == BPF_JA && cls == BPF_JMP) {
          pc += 1 + in.off;
          break;
        }
        if (op == BPF_EXIT && cls == BPF_JMP) {
          if (frames.empty()) {
            *result = reg[0];
            return true;
          }
          Frame f = frames.back();
          frames.pop_back();
          std::copy(f.saved, f.saved + 4, reg + 6);
          reg[10] -= kStackSize;
          stack_top_ = reg[10];
          pc = f.return_pc;
          break;
        }
        if (op == BPF_CALL && cls == BPF_JMP) {
          if (in.src_reg == BPF_PSEUDO_CALL) {
            if (frames.size() + 1 >= static_cast<size_t>(kMaxFrames))
              return fail("calls nested too deeply");
            Frame f{pc + 1, {reg[6], reg[7], reg[8], reg[9]}};
            frames.push_back(f);
            std::memset(reinterpret_cast<void*>(reg[10]), 0, kStackSize);
            reg[10] += kStackSize;
            stack_top_ = reg[10];
            pc += 1 + in.imm;
            break;
          }
          auto it = std::find_if(helpers_.begin(), helpers_.end(),
                                 [&](const auto& h) { return h.first == in.imm; });
          if (it == helpers_.end())
            return fail("helper " + std::to_string(in.imm) + " is not available in user space");
          std::string why;
          reg[0] = it->second(reg + 1, &why);
          if (!why.empty()) return fail(why);
          ++pc;
          break;
        }
        int taken = Condition(op, cls == BPF_JMP, dst, src);
        if (taken < 0) return fail("unknown jump");
        pc += 1 + (taken ? in.off : 0);
        break;
      }
      case BPF_LDX: {
        if (BPF_MODE(in.code) != BPF_MEM) return fail("unsupported load mode");
        size_t size = SizeOf(in.code);
        uint64_t address = reg[in.src_reg] + static_cast<int64_t>(in.off);
        if (in.src_reg == 10 && in.off < -static_cast<int64_t>(kStackSize))
          return fail("stack frame past " + std::to_string(kStackSize) + " bytes");
        if (!Accessible(address, size, false)) return fail("read outside the allowed memory");
        if (in.dst_reg == 10) return fail("r10 is read-only");
        dst = Load(address, size);
        ++pc;
        break;
      }
      case BPF_ST:
      case BPF_STX: {
        size_t size = SizeOf(in.code);
        uint64_t address = dst + static_cast<int64_t>(in.off);
        // (A caller's stack is reachable through a pointer, not past the frame's own.)
        if (in.dst_reg == 10 && in.off < -static_cast<int64_t>(kStackSize))
          return fail("stack frame past " + std::to_string(kStackSize) + " bytes");
        if (!Accessible(address, size, true)) return fail("write outside the allowed memory");
        uint64_t value =
            cls == BPF_ST ? static_cast<uint64_t>(static_cast<int64_t>(in.imm)) : reg[in.src_reg];
        if (BPF_MODE(in.code) == BPF_MEM) {
          Store(address, size, value);
        } else if (BPF_MODE(in.code) == BPF_ATOMIC && cls == BPF_STX && size >= 4) {
          // Global data is shared with kernel probes running on other CPUs: a real
          // atomic, as the BPF instruction is in the kernel.
          if (address % size != 0) return fail("misaligned atomic operation");
          uint64_t mask = size == 8 ? ~0ull : 0xffffffffull;
          uint32_t op = static_cast<uint32_t>(in.imm) & ~static_cast<uint32_t>(BPF_FETCH);
          if (op != BPF_ADD && op != BPF_OR && op != BPF_AND && op != BPF_XOR &&
              op != (BPF_XCHG & ~BPF_FETCH) && op != (BPF_CMPXCHG & ~BPF_FETCH))
            return fail("unknown atomic operation");
          auto apply = [&](uint64_t old) -> uint64_t {
            switch (op) {
              case BPF_ADD:
                return (old + value) & mask;
              case BPF_OR:
                return (old | value) & mask;
              case BPF_AND:
                return (old & value) & mask;
              case BPF_XOR:
                return (old ^ value) & mask;
              case BPF_XCHG & ~BPF_FETCH:
                return value & mask;
              default:  // BPF_CMPXCHG
                return old == (reg[0] & mask) ? value & mask : old;
            }
          };
          uint64_t old;
          if (size == 8) {
            auto* at = reinterpret_cast<uint64_t*>(address);
            old = __atomic_load_n(at, __ATOMIC_SEQ_CST);
            while (!__atomic_compare_exchange_n(at, &old, apply(old), false, __ATOMIC_SEQ_CST,
                                                __ATOMIC_SEQ_CST)) {
            }
          } else {
            auto* at = reinterpret_cast<uint32_t*>(address);
            uint32_t old32 = __atomic_load_n(at, __ATOMIC_SEQ_CST);
            while (!__atomic_compare_exchange_n(at, &old32, static_cast<uint32_t>(apply(old32)),
                                                false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            }
            old = old32;
          }
          if (in.imm == BPF_CMPXCHG)
            reg[0] = old;
          else if (in.imm & BPF_FETCH)
            reg[in.src_reg] = old;
        } else {
          return fail("unsupported store mode");
        }
        ++pc;
        break;
      }
      case BPF_LD: {
        if (in.code != (BPF_LD | BPF_DW | BPF_IMM)) return fail("unsupported load");
        if (pc + 1 >= program.size()) return fail("truncated 64-bit immediate");
        if (in.src_reg != 0) return fail("unresolved map or symbol reference");
        dst = static_cast<uint32_t>(in.imm) |
              (static_cast<uint64_t>(static_cast<uint32_t>(program[pc + 1].imm)) << 32);
        pc += 2;
        break;
      }
      default:
        return fail("unknown instruction class");
    }
  }
}

}  // namespace btap::runtime
