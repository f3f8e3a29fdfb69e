// What the lowering's files share beside the Lowering class (lowering.h): the kernel's
// helper and map numbers, the handler stack's budget, the histogram-printing limits, and
// the small structs the class keeps per global, loop, `try` and scope. Internal to codegen.
#pragma once

#include <llvm/IR/BasicBlock.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/Value.h>

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include "common/stats.h"
#include "frontend/ast.h"
#include "semantic/program.h"

namespace btap::codegen::lowering {

// Kernel helper numbers (linux/bpf.h).
enum HelperId : int64_t {
  kMapLookup = 1,
  kMapUpdate = 2,
  kMapDelete = 3,
  kKtimeGetNs = 5,
  kGetPrandomU32 = 7,
  kSmpProcessorId = 8,
  kTailCall = 12,
  kCurrentPidTgid = 14,
  kCurrentUidGid = 15,
  kCurrentComm = 16,
  kCurrentTask = 35,
  kProbeWriteUser = 36,
  kProbeReadUser = 112,
  kProbeReadKernel = 113,
  kProbeReadUserStr = 114,
  kProbeReadKernelStr = 115,
  kSendSignalThread = 117,
  kJiffies64 = 118,
  kRingbufOutput = 130,
  kCopyFromUser = 148,  // sleepable programs only
  kTaskStorageGet = 156,
  kCurrentTaskBtf = 158,
  kForEachMapElem = 164,
  kSnprintf = 165,
  kGetFuncIp = 173,
  kTaskPtRegs = 175,
  kLoop = 181,
  kGetFuncArg = 183,  // fentry/fexit programs
  kGetFuncRet = 184,
};

// Metadata on a pt_regs read: the register's offset (PtRegsAt).
inline constexpr const char* kPtRegsRead = "btap.pt_regs";

constexpr uint32_t kMapHash = 1, kMapArray = 2, kMapPercpuHash = 5, kMapPercpuArray = 6,
                   kMapLruHash = 9, kMapRingbuf = 27, kMapTaskStorage = 29, kMapProgArray = 3;
constexpr int64_t kNoExist = 1;
constexpr int64_t kAny = 0;
constexpr int64_t kUserStack = 1 << 8;                // bpf_get_stack's BPF_F_USER_STACK
constexpr int64_t kSkipBpfFrames = int64_t{1} << 62;  // bpflib/stack.c's own flag
constexpr uint32_t kDefaultRingBytes = 4u << 20;

inline uint32_t NextPow2(uint64_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}
inline uint32_t Align8(uint32_t v) { return (v + 7) & ~7u; }
// The stack a handler's statements share for helpers' keys, values and buffers; past it,
// such temporaries are in the scratch space. Map keys: at most kStackKeys bytes of them in
// a handler go on the stack.
constexpr uint32_t kStackTemps = 128, kStackKeys = 96;

inline bool IsPrintFamily(const ast::Call* c) { return !c->callee; }
// Whether a print call's literal format has `%m` or `%M`, which read memory
// (lower_print_memory.cpp).
bool ReadsMemory(const ast::Call* c);
// Histograms kernel probes print (lower_print_histogram.cpp): a print argument that is
// sprint/sprintln of one alone (sprintln's sets `line`), and the record bytes a print's
// histograms take (0 for a print without any, or one Print refuses). A print with
// histograms whose record is larger than kMaxHistogramPrintRecord is a located error: the
// record area (2 × the next power of two above the largest record) would leave the
// handler's temporaries no room in the kernel's 32 KiB of per-CPU scratch.
constexpr uint32_t kKernelHistogramBuckets = 512;
// Histogram tables one kernel probe may draw (HistogramText): the verifier walks each
// drawing, some 75,000 of its 1,000,000 steps on Linux 6.18 (13 fail with nothing else).
constexpr uint32_t kMaxHistogramTexts = 12;
constexpr uint32_t kMaxHistogramPrintRecord = 8191;
ast::HistOp* PrintedHistogram(ast::Expr* a, bool* line);
uint32_t HistogramRecordBytes(const ast::Call* c);

// Whether embedded C names `current` as a word of its own (lower_embedded.cpp).
bool UsesCurrent(std::string_view code);

// A value: i64 for longs, a pointer to a string slot for strings.
using Value = llvm::Value*;

struct GlobalInfo {
  llvm::GlobalVariable* storage = nullptr;  // scalars
  llvm::GlobalVariable* map = nullptr;      // arrays
  std::vector<uint32_t> key_offsets;
  std::vector<uint32_t> key_widths;  // bytes of each key part
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;  // arrays
  uint32_t meta_index = 0;
  bool stats = false;
  stats::Shape shape;               // statistics: the histogram its uses ask for
  uint8_t kept = stats::kAllSlots;  // and the slots `<<<` updates (lower_stats.cpp)
};

struct Loop {
  llvm::BasicBlock* next_iteration;
  llvm::BasicBlock* done;
};

// An enclosing `try`: where errors go, and the catch variable's slot (or null).
struct Handler {
  llvm::BasicBlock* handler;
  llvm::Value* message;
};

// Variables of one probe body or one inlined function call.
struct Scope {
  std::map<const sema::Variable*, Value> vars;  // long: alloca; string: its slot
  const sema::Function* function = nullptr;
  llvm::BasicBlock* return_block = nullptr;
  Value result = nullptr;  // alloca (long) or slot (string)
  std::vector<Loop> loops;
};

}  // namespace btap::codegen::lowering
