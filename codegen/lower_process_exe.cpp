// process("PATH").begin/.end/.syscall match the processes that run the file PATH, as
// stap's task finder does (it binds PATH's inode), not those that bear its name: the
// current task's mm->exe_file is compared, by inode number and device, with PATH's,
// which the runtime finds where it loads the object (meta::kExePrefix).
#include <bpf/btf.h>

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

// Whether the current task runs the file PATH (an i1), through the current task's BTF
// pointer as CO-RE accesses (current->mm->exe_file->f_inode, then its i_ino and
// i_sb->s_dev); nullptr when the kernel's BTF does not describe that way. A task without
// an mm (a kernel thread, or one past exit_mm) does not run PATH: the handler returns.
Value Lowering::RunsFile(const std::string& path) {
  const struct btf* btf = KernelBtf();
  int32_t task = btf ? btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT) : -1;
  if (task <= 0) return nullptr;
  // The records along the way and the member read from each.
  const char* names[] = {"mm", "exe_file", "f_inode", "i_sb", "s_dev"};
  uint32_t records[5] = {static_cast<uint32_t>(task)};
  KernelMember members[5], ino;
  for (int i = 0; i < 5; ++i) {
    if (!records[i] || !FindKernelMember(btf, records[i], names[i], &members[i]) ||
        members[i].bitfield)
      return nullptr;
    if (i < 4) records[i + 1] = PointedRecord(btf, members[i].type);
  }
  // i_ino is in the inode (records[3]).
  if (!FindKernelMember(btf, records[3], "i_ino", &ino) || ino.bitfield) return nullptr;
  int64_t ino_size = btf__resolve_size(btf, ino.type),
          dev_size = btf__resolve_size(btf, members[4].type);
  if ((ino_size != 4 && ino_size != 8) || (dev_size != 4 && dev_size != 8)) return nullptr;

  CoreAccess core(b_, maps_.di(), maps_.file(), btf, maps_.core_indexes());
  auto pointer = [&](Value base, int i) {
    return b_.CreateLoad(ptr_, core.MemberAddress(base, records[i], members[i]));
  };
  auto number = [&](Value base, uint32_t record, const KernelMember& m, int64_t size) {
    llvm::Type* type = size == 8 ? i64_ : b_.getInt32Ty();
    return b_.CreateZExt(b_.CreateLoad(type, core.MemberAddress(base, record, m)), i64_);
  };
  Value mm = pointer(Helper(kCurrentTaskBtf, ptr_, {}), 0);
  Continue(b_.CreateIsNotNull(mm), "has_mm");
  // A null exe_file or f_inode reads as 0 (the loads are the kernel's fault-handled
  // ones); no file has inode 0.
  Value inode = pointer(pointer(mm, 1), 2);
  Value file_ino = number(inode, records[3], ino, ino_size);
  Value file_dev = number(pointer(inode, 3), records[4], members[4], dev_size);
  llvm::GlobalVariable* want = ExeVariable(path);
  Value want_ino = b_.CreateLoad(i64_, want);
  Value want_dev = b_.CreateLoad(i64_, b_.CreateConstGEP1_64(b_.getInt8Ty(), want, 8));
  return b_.CreateAnd(b_.CreateICmpEQ(file_ino, want_ino), b_.CreateICmpEQ(file_dev, want_dev));
}

}  // namespace btap::codegen::lowering
