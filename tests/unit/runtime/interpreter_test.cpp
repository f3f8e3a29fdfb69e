// The user-space BPF interpreter: every instruction class, helper calls, bpf-to-bpf
// calls, and the bounds that keep a bad program from touching memory or looping forever.
#include "runtime/interpreter.h"

#include <gtest/gtest.h>

#include <climits>
#include <vector>

namespace btap::runtime {
namespace {

bpf_insn I(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn in{};
  in.code = code;
  in.dst_reg = dst;
  in.src_reg = src;
  in.off = off;
  in.imm = imm;
  return in;
}
bpf_insn Alu64Imm(uint8_t op, uint8_t dst, int32_t imm) {
  return I(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn Alu64Reg(uint8_t op, uint8_t dst, uint8_t src) {
  return I(BPF_ALU64 | op | BPF_X, dst, src, 0, 0);
}
bpf_insn Alu32Imm(uint8_t op, uint8_t dst, int32_t imm) {
  return I(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn Mov(uint8_t dst, int32_t imm) { return Alu64Imm(BPF_MOV, dst, imm); }
bpf_insn Exit() { return I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
bpf_insn Jmp(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return I(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
bpf_insn Jmp32(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return I(BPF_JMP32 | op | BPF_K, dst, 0, off, imm);
}

uint64_t RunOk(Interpreter& vm, const std::vector<bpf_insn>& p, uint64_t ctx = 0) {
  uint64_t r0 = 0;
  std::string error;
  EXPECT_TRUE(vm.Run(p, ctx, &r0, &error)) << error;
  return r0;
}
std::string RunError(Interpreter& vm, const std::vector<bpf_insn>& p, uint64_t ctx = 0) {
  uint64_t r0 = 0;
  std::string error;
  EXPECT_FALSE(vm.Run(p, ctx, &r0, &error));
  return error;
}

TEST(Interpreter, Alu64) {
  Interpreter vm;
  auto calc = [&](uint8_t op, int32_t a, int32_t b) {
    return static_cast<int64_t>(RunOk(vm, {Mov(0, a), Alu64Imm(op, 0, b), Exit()}));
  };
  EXPECT_EQ(calc(BPF_ADD, 40, 2), 42);
  EXPECT_EQ(calc(BPF_SUB, 2, 5), -3);
  EXPECT_EQ(calc(BPF_MUL, -6, 7), -42);
  EXPECT_EQ(calc(BPF_DIV, 7, 2), 3);
  EXPECT_EQ(calc(BPF_DIV, 7, 0), 0);  // the kernel's rule: division by zero gives 0
  EXPECT_EQ(calc(BPF_MOD, 7, 0), 7);  // and modulo by zero keeps the dividend
  EXPECT_EQ(calc(BPF_MOD, 7, 4), 3);
  EXPECT_EQ(calc(BPF_OR, 5, 2), 7);
  EXPECT_EQ(calc(BPF_AND, 6, 3), 2);
  EXPECT_EQ(calc(BPF_XOR, 6, 3), 5);
  EXPECT_EQ(calc(BPF_LSH, 1, 40), 1ll << 40);
  EXPECT_EQ(calc(BPF_RSH, -1, 60), 15);
  EXPECT_EQ(calc(BPF_ARSH, -16, 2), -4);
  EXPECT_EQ(static_cast<int64_t>(RunOk(vm, {Mov(0, 5), Alu64Imm(BPF_NEG, 0, 0), Exit()})), -5);
  EXPECT_EQ(RunOk(vm, {Mov(0, 3), Mov(1, 4), Alu64Reg(BPF_MUL, 0, 1), Exit()}), 12u);
}

TEST(Interpreter, Alu32ZeroExtends) {
  Interpreter vm;
  EXPECT_EQ(RunOk(vm, {Mov(0, -1), Alu32Imm(BPF_ADD, 0, 1), Exit()}), 0u);
  EXPECT_EQ(RunOk(vm, {Mov(0, -1), Alu32Imm(BPF_MOV, 0, -2), Exit()}), 0xfffffffeu);
  EXPECT_EQ(RunOk(vm, {Mov(0, -8), Alu32Imm(BPF_ARSH, 0, 1), Exit()}), 0xfffffffcu);
}

TEST(Interpreter, ByteSwap) {
  Interpreter vm;
  EXPECT_EQ(RunOk(vm, {Mov(0, 0x1234), I(BPF_ALU | BPF_END | BPF_TO_BE, 0, 0, 0, 16), Exit()}),
            0x3412u);
  EXPECT_EQ(RunOk(vm, {Mov(0, -1), I(BPF_ALU | BPF_END | BPF_TO_LE, 0, 0, 0, 32), Exit()}),
            0xffffffffu);
}

TEST(Interpreter, Jumps) {
  Interpreter vm;
  // r0 = (r1 s> 5) ? 1 : 2, for signed and unsigned views of -1.
  auto pick = [&](uint8_t op, int64_t r1, int32_t imm, bool is32 = false) {
    std::vector<bpf_insn> p = {is32 ? Jmp32(op, 1, imm, 2) : Jmp(op, 1, imm, 2), Mov(0, 2), Exit(),
                               Mov(0, 1), Exit()};
    return RunOk(vm, p, static_cast<uint64_t>(r1)) == 1;
  };
  EXPECT_FALSE(pick(BPF_JSGT, -1, 5));
  EXPECT_TRUE(pick(BPF_JGT, -1, 5));
  EXPECT_TRUE(pick(BPF_JEQ, 7, 7));
  EXPECT_TRUE(pick(BPF_JNE, 7, 8));
  EXPECT_TRUE(pick(BPF_JGE, 7, 7));
  EXPECT_TRUE(pick(BPF_JLT, 3, 7));
  EXPECT_TRUE(pick(BPF_JLE, 7, 7));
  EXPECT_TRUE(pick(BPF_JSLT, -3, 0));
  EXPECT_TRUE(pick(BPF_JSLE, -3, -3));
  EXPECT_TRUE(pick(BPF_JSGE, 0, -3));
  EXPECT_TRUE(pick(BPF_JSET, 6, 2));
  EXPECT_TRUE(pick(BPF_JEQ, 0x100000007, 7, true));  // JMP32 looks at the low half
  EXPECT_FALSE(pick(BPF_JEQ, 0x100000007, 7));
  // A counting loop: r0 = 0; while (r0 < 100) r0 += 1.
  EXPECT_EQ(RunOk(vm, {Mov(0, 0), Jmp(BPF_JGE, 0, 100, 2), Alu64Imm(BPF_ADD, 0, 1),
                       I(BPF_JMP | BPF_JA, 0, 0, -3, 0), Exit()}),
            100u);
}

TEST(Interpreter, StackLoadsStoresAndAtomics) {
  Interpreter vm;
  std::vector<bpf_insn> p = {
      I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8, -2),     // *(u64*)(fp-8) = -2
      I(BPF_ST | BPF_MEM | BPF_B, 10, 0, -16, 0x1ff),  // *(u8*)(fp-16) = 0xff
      Mov(1, 5),
      I(BPF_STX | BPF_ATOMIC | BPF_DW, 10, 1, -8, BPF_ADD | BPF_FETCH),  // r1 = old, add 5
      I(BPF_LDX | BPF_MEM | BPF_DW, 0, 10, -8, 0),
      Alu64Reg(BPF_ADD, 0, 1),  // 3 + (-2)
      I(BPF_LDX | BPF_MEM | BPF_B, 2, 10, -16, 0),
      Alu64Reg(BPF_ADD, 0, 2),  // + 255
      Exit()};
  EXPECT_EQ(RunOk(vm, p), 256u);
}

TEST(Interpreter, SixtyFourBitImmediate) {
  Interpreter vm;
  bpf_insn lo = I(BPF_LD | BPF_DW | BPF_IMM, 0, 0, 0, 0x89abcdef);
  bpf_insn hi = I(0, 0, 0, 0, 0x01234567);
  EXPECT_EQ(RunOk(vm, {lo, hi, Exit()}), 0x0123456789abcdefull);
  bpf_insn map = I(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, 3);
  EXPECT_NE(RunOk(vm, {lo, hi, Exit()}), 0u);
  EXPECT_NE(RunError(vm, {map, hi, Exit()}).find("unresolved map"), std::string::npos);
}

TEST(Interpreter, HelpersAndRegions) {
  Interpreter vm;
  int64_t counter = 40;
  vm.AddRegion(&counter, sizeof counter, true);
  vm.SetHelper(1, [](const uint64_t args[5], std::string*) { return args[0] + args[1] * 10; });
  vm.SetHelper(2, [](const uint64_t[5], std::string* error) {
    *error = "helper failed on purpose";
    return uint64_t{0};
  });
  std::vector<bpf_insn> p = {Mov(1, 2), Mov(2, 3), I(BPF_JMP | BPF_CALL, 0, 0, 0, 1), Exit()};
  EXPECT_EQ(RunOk(vm, p), 32u);
  // The context pointer reaches a registered region.
  std::vector<bpf_insn> bump = {I(BPF_LDX | BPF_MEM | BPF_DW, 0, 1, 0, 0), Alu64Imm(BPF_ADD, 0, 2),
                                I(BPF_STX | BPF_MEM | BPF_DW, 1, 0, 0, 0), Exit()};
  EXPECT_EQ(RunOk(vm, bump, reinterpret_cast<uint64_t>(&counter)), 42u);
  EXPECT_EQ(counter, 42);
  EXPECT_NE(RunError(vm, {I(BPF_JMP | BPF_CALL, 0, 0, 0, 2), Exit()}).find("on purpose"),
            std::string::npos);
  EXPECT_NE(RunError(vm, {I(BPF_JMP | BPF_CALL, 0, 0, 0, 99), Exit()}).find("helper 99"),
            std::string::npos);
}

TEST(Interpreter, BpfToBpfCalls) {
  Interpreter vm;
  // main: r6 = 7; r1 = 20; call f; r0 += r6; exit.  f clobbers r6 (callee-saved for
  // the caller) and returns r1 * 2. The call at index 2 jumps to 2 + 1 + imm.
  std::vector<bpf_insn> p;
  p = {Mov(6, 7),
       Mov(1, 20),
       I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2),
       Alu64Reg(BPF_ADD, 0, 6),
       Exit(),
       Mov(6, 1000),  // f: clobbers r6, which the caller gets back
       Alu64Reg(BPF_MOV, 0, 1),
       Alu64Imm(BPF_MUL, 0, 2),
       Exit()};
  EXPECT_EQ(RunOk(vm, p), 47u);
}

TEST(Interpreter, BadProgramsAreErrorsNotCrashes) {
  Interpreter vm;
  EXPECT_NE(RunError(vm, {Mov(0, 1)}).find("past the end"), std::string::npos);
  EXPECT_NE(RunError(vm, {I(BPF_LDX | BPF_MEM | BPF_DW, 0, 1, 0, 0), Exit()}, 0x1000)
                .find("read outside"),
            std::string::npos);
  EXPECT_NE(RunError(vm, {I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, 8, 1), Exit()}).find("write outside"),
            std::string::npos);
  int64_t readonly = 1;
  vm.AddRegion(&readonly, sizeof readonly, false);
  EXPECT_NE(RunError(vm, {I(BPF_ST | BPF_MEM | BPF_DW, 1, 0, 0, 1), Exit()},
                     reinterpret_cast<uint64_t>(&readonly))
                .find("write outside"),
            std::string::npos);
  EXPECT_NE(RunError(vm, {Mov(10, 1), Exit()}).find("read-only"), std::string::npos);
  vm.set_instruction_limit(1000);
  EXPECT_NE(RunError(vm, {I(BPF_JMP | BPF_JA, 0, 0, -1, 0)}).find("instruction limit"),
            std::string::npos);
  EXPECT_NE(RunError(vm, {I(0xff, 0, 0, 0, 0)}).find("instruction 0"), std::string::npos);
  // A frame's own stack ends 8 KiB below r10: the stack of the frame before it is not
  // reached from r10.
  std::vector<bpf_insn> two = {I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 1), Exit(),
                               I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8200, 1), Exit()};
  EXPECT_NE(RunError(vm, two).find("stack frame past 8192 bytes"), std::string::npos);
  two[2] = I(BPF_LDX | BPF_MEM | BPF_DW, 0, 10, -8200, 0);
  EXPECT_NE(RunError(vm, two).find("stack frame past 8192 bytes"), std::string::npos);
  // A call without end stops at the frames' limit (past what MAXNESTING allows).
  vm.set_instruction_limit(1 << 20);
  std::vector<bpf_insn> deep = {I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, -1)};
  EXPECT_NE(RunError(vm, deep).find("nested too deeply"), std::string::npos);
}

// A recursive function, as codegen makes one for a script function on a cycle of calls:
// each call keeps its argument on its own frame's stack across the next call. The sum
// 1..n, 900 calls deep (MAXNESTING's limit is 1000), then 1..1 to check a frame once
// used starts zeroed again.
TEST(Interpreter, RecursiveCallsHaveTheirOwnFrames) {
  Interpreter vm;
  std::vector<bpf_insn> sum = {
      Jmp(BPF_JNE, 1, 0, 2),                             // 0: if r1 != 0 goto 3
      Mov(0, 0),                                         // 1
      Exit(),                                            // 2
      I(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8, 0),       // 3: *(r10 - 8) = r1
      Alu64Imm(BPF_SUB, 1, 1),                           // 4
      I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, -6),  // 5: call 0
      I(BPF_LDX | BPF_MEM | BPF_DW, 2, 10, -8, 0),       // 6: r2 = *(r10 - 8)
      Alu64Reg(BPF_ADD, 0, 2),                           // 7
      I(BPF_LDX | BPF_MEM | BPF_DW, 3, 10, -16, 0),      // 8: never written: 0
      Alu64Reg(BPF_ADD, 0, 3),                           // 9
      I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -16, 7),       // 10: dirty it for the next run
      Exit(),                                            // 11
  };
  EXPECT_EQ(RunOk(vm, sum, 0), 0u);
  std::vector<bpf_insn> run = {Mov(1, 900), I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 1),
                               Exit()};
  run.insert(run.end(), sum.begin(), sum.end());
  EXPECT_EQ(RunOk(vm, run), 900u * 901 / 2);
  run[0] = Mov(1, 1);
  EXPECT_EQ(RunOk(vm, run), 1u);
}

}  // namespace
}  // namespace btap::runtime
