// process("PATH").begin/.end/.syscall match the processes that run the file PATH, as
// stap's task finder does (it binds PATH's inode), not those that bear its name: the
// current task's mm->exe_file is compared, by inode number and device, with PATH's,
// which the runtime finds where it loads the object (meta::kExePrefix).
#include <bpf/btf.h>

#include <cstring>

#include "codegen/core_access.h"
#include "codegen/lowering.h"

namespace btap::codegen::lowering {

namespace {
// The struct or union a pointer of BTF type `type` points to; 0 when it is no such pointer.
uint32_t PointedRecord(const struct btf* btf, uint32_t type) {
  const struct btf_type* t = btf__type_by_id(btf, StripModifiers(btf, type));
  if (!t || !btf_is_ptr(t)) return 0;
  uint32_t to = StripModifiers(btf, t->type);
  const struct btf_type* record = btf__type_by_id(btf, to);
  return record && btf_is_composite(record) ? to : 0;
}

// The way from a task to its program file's inode number and device in the kernel's BTF:
// task_struct.mm, mm_struct.exe_file, file.f_inode, inode.i_sb, super_block.s_dev, and
// inode.i_ino. False when the BTF does not describe it.
struct ExeWay {
  uint32_t records[5] = {};
  KernelMember members[5], ino;
  int64_t ino_size = 0, dev_size = 0;
};
bool FindExeWay(const struct btf* btf, ExeWay* way) {
  int32_t task = btf ? btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT) : -1;
  if (task <= 0) return false;
  const char* names[] = {"mm", "exe_file", "f_inode", "i_sb", "s_dev"};
  way->records[0] = static_cast<uint32_t>(task);
  for (int i = 0; i < 5; ++i) {
    if (!way->records[i] || !FindKernelMember(btf, way->records[i], names[i], &way->members[i]) ||
        way->members[i].bitfield)
      return false;
    if (i < 4) way->records[i + 1] = PointedRecord(btf, way->members[i].type);
  }
  if (!FindKernelMember(btf, way->records[3], "i_ino", &way->ino) || way->ino.bitfield)
    return false;
  way->ino_size = btf__resolve_size(btf, way->ino.type);
  way->dev_size = btf__resolve_size(btf, way->members[4].type);
  return (way->ino_size == 4 || way->ino_size == 8) && (way->dev_size == 4 || way->dev_size == 8);
}
}  // namespace

// PATH's inode number and device (the kernel's encoding, MKDEV), 0 until the runtime
// stat()s the path written after them: {u64 ino, u64 dev, char path[]}.
llvm::GlobalVariable* Lowering::ExeVariable(const std::string& path) {
  llvm::GlobalVariable*& g = exe_files_[path];
  if (g) return g;
  std::string bytes(16, '\0');
  bytes += path;
  bytes += '\0';
  llvm::Constant* init = llvm::ConstantDataArray::getString(context_, bytes, false);
  std::string name = meta::kExePrefix + std::to_string(exe_files_.size() - 1);
  g = new llvm::GlobalVariable(module_, init->getType(), false, llvm::GlobalValue::ExternalLinkage,
                               init, name);
  g->setSection(".data");
  g->setAlignment(llvm::Align(8));
  return g;
}

// ExeVariable's number for PATH: its bit in btap_exe_procs.
uint64_t Lowering::ExeIndex(const std::string& path) {
  std::string_view name = ExeVariable(path)->getName();
  return std::stoull(std::string(name.substr(std::strlen(meta::kExePrefix))));
}

// The current task's program file (current->mm->exe_file->f_inode): its inode number and
// its super block's device (i64 each), CO-RE reads through the task's BTF pointer; `mm`
// receives the task's mm. False when the kernel's BTF does not describe that way. A null
// exe_file or f_inode reads as 0 (the loads are the kernel's fault-handled ones), and no
// file has inode 0.
bool Lowering::CurrentFile(Value* mm, Value* file_ino, Value* file_dev) {
  const struct btf* btf = KernelBtf();
  ExeWay way;
  if (!FindExeWay(btf, &way)) return false;
  CoreAccess core(b_, maps_.di(), maps_.file(), btf, maps_.core_indexes());
  auto pointer = [&](Value base, int i) {
    return b_.CreateLoad(ptr_, core.MemberAddress(base, way.records[i], way.members[i]));
  };
  auto number = [&](Value base, uint32_t record, const KernelMember& m, int64_t size) {
    llvm::Type* type = size == 8 ? i64_ : b_.getInt32Ty();
    return b_.CreateZExt(b_.CreateLoad(type, core.MemberAddress(base, record, m)), i64_);
  };
  *mm = pointer(Helper(kCurrentTaskBtf, ptr_, {}), 0);
  Value inode = pointer(pointer(*mm, 1), 2);
  *file_ino = number(inode, way.records[3], way.ino, way.ino_size);
  *file_dev = number(pointer(inode, 3), way.records[4], way.members[4], way.dev_size);
  return true;
}

// Whether the file `ino`, `dev` is PATH (an i1).
Value Lowering::IsFile(Value ino, Value dev, const std::string& path) {
  llvm::GlobalVariable* want = ExeVariable(path);
  Value want_ino = b_.CreateLoad(i64_, want);
  Value want_dev = b_.CreateLoad(i64_, b_.CreateConstGEP1_64(b_.getInt8Ty(), want, 8));
  return b_.CreateAnd(b_.CreateICmpEQ(ino, want_ino), b_.CreateICmpEQ(dev, want_dev));
}

// Whether the current task runs the file PATH (an i1); nullptr when the kernel's BTF does
// not describe the way to it. A task without an mm (a kernel thread, or one past
// exit_mm) does not run PATH: the handler returns.
Value Lowering::RunsFile(const std::string& path) {
  Value mm, ino, dev;
  if (!CurrentFile(&mm, &ino, &dev)) return nullptr;
  Continue(b_.CreateIsNotNull(mm), "has_mm");
  return IsFile(ino, dev, path);
}

// process("PATH").end where sched_process_exit fires after exit_mm (kernels without
// group_dead): the files processes ran are recorded while they can be read, one bit per
// ExeVariable (its number) in a hash map by process id, `btap_exe_procs`: set at exec
// (sched_process_exec), passed on to a new process at fork, dropped when the process's
// leader leaves; the runtime adds the processes already running once it has attached
// (meta::kExeProcsMap). nullptr (the name test instead) past 64 files or without BTF.
Value Lowering::RanFile(Value pid, const std::string& path) {
  ExeWay way;
  if (!FindExeWay(KernelBtf(), &way)) return nullptr;
  uint64_t bit = ExeIndex(path);
  if (bit >= 64) return nullptr;
  if (!exe_procs_) exe_procs_ = maps_.Define({meta::kExeProcsMap, kMapHash, meta::kExeProcs, 4, 8});
  Value key = StackTemp(4);
  b_.CreateStore(b_.CreateTrunc(pid, b_.getInt32Ty()), key);
  Value bits = Helper(kMapLookup, ptr_, {exe_procs_, key});
  Continue(b_.CreateIsNotNull(bits), "recorded");
  Value mine = b_.CreateAnd(b_.CreateLoad(i64_, bits), b_.getInt64(uint64_t{1} << bit));
  return b_.CreateICmpNE(mine, b_.getInt64(0));
}

// The programs that keep btap_exe_procs (RanFile).
void Lowering::EmitExeTrackers() {
  auto start = [&](const char* name, const char* tracepoint, Frame& frame) {
    auto* type = llvm::FunctionType::get(b_.getInt32Ty(), {ptr_}, false);
    auto* fn = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, name, module_);
    fn->setSection(std::string("raw_tp/") + tracepoint);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    fn->getArg(0)->setName("ctx");
    b_.SetCurrentDebugLocation(maps_.Describe(*fn, 1, nullptr));
    meta::Probe mp;
    mp.program = name;
    mp.point = std::string("the files process(\"PATH\").end matches (sched:") + tracepoint + ")";
    mp.family = static_cast<uint8_t>(meta::ProbeKind::Tracepoint);
    mp.target = std::string("sched:") + tracepoint;
    mp.internal = true;
    meta_.probes.push_back(std::move(mp));
    return StartFrame(frame, fn, nullptr, false);
  };
  Value pid_tgid, key;
  auto own_key = [&] {
    pid_tgid = Helper(kCurrentPidTgid, i64_, {});
    key = StackTemp(4);
    b_.CreateStore(b_.CreateTrunc(b_.CreateLShr(pid_tgid, 32), b_.getInt32Ty()), key);
  };
  // exec: the bits of the files the process now runs.
  {
    Frame frame;
    llvm::Instruction* has_scratch = start("track_exe_exec", "sched_process_exec", frame);
    own_key();
    Value mm, ino, dev;
    CurrentFile(&mm, &ino, &dev);
    Value bits = b_.getInt64(0);
    for (const auto& [path, g] : exe_files_) {
      uint64_t bit = ExeIndex(path);
      if (bit < 64)
        bits = b_.CreateOr(bits, b_.CreateSelect(IsFile(ino, dev, path),
                                                 b_.getInt64(uint64_t{1} << bit), b_.getInt64(0)));
    }
    auto* set = llvm::BasicBlock::Create(context_, "set", frame.fn);
    auto* clear = llvm::BasicBlock::Create(context_, "clear", frame.fn);
    b_.CreateCondBr(b_.CreateICmpNE(bits, b_.getInt64(0)), set, clear);
    b_.SetInsertPoint(set);
    Value value = StackTemp(8);
    b_.CreateStore(bits, value);
    Helper(kMapUpdate, i64_, {exe_procs_, key, value, b_.getInt64(0)});
    b_.CreateBr(frame.exit);
    b_.SetInsertPoint(clear);
    Helper(kMapDelete, i64_, {exe_procs_, key});
    b_.CreateBr(frame.exit);
    FinishFrame(frame, has_scratch);
  }
  // fork: a new process runs its creator's file.
  {
    Frame frame;
    llvm::Instruction* has_scratch = start("track_exe_fork", "sched_process_fork", frame);
    own_key();
    Value bits = Helper(kMapLookup, ptr_, {exe_procs_, key});
    Continue(b_.CreateIsNotNull(bits), "recorded");
    int32_t task = btf__find_by_name_kind(KernelBtf(), "task_struct", BTF_KIND_STRUCT);
    Value tgid =
        ReadKernelMember(b_.CreateIntToPtr(RawArg(1), ptr_), static_cast<uint32_t>(task), "tgid");
    if (!tgid) tgid = b_.CreateLShr(pid_tgid, 32);  // (no tgid member: nothing is passed on)
    Continue(b_.CreateICmpNE(tgid, b_.CreateLShr(pid_tgid, 32)), "process");
    Value child = StackTemp(4), value = StackTemp(8);
    b_.CreateStore(b_.CreateTrunc(tgid, b_.getInt32Ty()), child);
    b_.CreateStore(b_.CreateLoad(i64_, bits), value);
    Helper(kMapUpdate, i64_, {exe_procs_, child, value, b_.getInt64(0)});
    FinishFrame(frame, has_scratch);
  }
  // exit of the leader (where .end fires on these kernels, after its probes).
  {
    Frame frame;
    llvm::Instruction* has_scratch = start("track_exe_exit", "sched_process_exit", frame);
    own_key();
    Continue(b_.CreateICmpEQ(b_.CreateLShr(pid_tgid, 32),
                             b_.CreateAnd(pid_tgid, b_.getInt64(0xffffffff))),
             "leader");
    Helper(kMapDelete, i64_, {exe_procs_, key});
    FinishFrame(frame, has_scratch);
  }
}

}  // namespace btap::codegen::lowering
