// BTF-defined maps through LLVM debug info (see maps.h).
#include "codegen/maps.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DIBuilder.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/Module.h>

#include <vector>

namespace btap::codegen {

MapBuilder::MapBuilder(llvm::Module& module)
    : module_(module), di_(std::make_unique<llvm::DIBuilder>(module)) {
  // Every file carries its text (see SourceFile), so this one does too.
  file_ = di_->createFile("btap", ".", std::nullopt, llvm::StringRef(""));
  unit_ = di_->createCompileUnit(llvm::dwarf::DW_LANG_C99, file_, "btap", true, "", 0);
  module_.addModuleFlag(llvm::Module::Warning, "Debug Info Version", llvm::DEBUG_METADATA_VERSION);
  module_.addModuleFlag(llvm::Module::Warning, "Dwarf Version", 4);
}

MapBuilder::~MapBuilder() = default;

llvm::GlobalVariable* MapBuilder::Define(const MapSpec& spec) {
  llvm::LLVMContext& context = module_.getContext();
  llvm::DIBasicType* int_type = di_->createBasicType("int", 32, llvm::dwarf::DW_ATE_signed);
  // `int (*name)[value]`: the array's element count carries the value.
  std::vector<std::pair<const char*, uint32_t>> fields = {{"type", spec.type},
                                                          {"max_entries", spec.max_entries}};
  if (spec.key_size && !spec.typed) fields.push_back({"key_size", spec.key_size});
  if (spec.value_size && !spec.typed) fields.push_back({"value_size", spec.value_size});
  if (spec.flags) fields.push_back({"map_flags", spec.flags});
  std::vector<llvm::Metadata*> members;
  uint64_t offset = 0;
  auto member = [&](const char* name, llvm::DIType* pointee) {
    llvm::DIDerivedType* pointer = di_->createPointerType(pointee, 64);
    members.push_back(di_->createMemberType(unit_, name, file_, 0, 64, 64, offset,
                                            llvm::DINode::FlagZero, pointer));
    offset += 64;
  };
  for (const auto& [name, value] : fields) {
    llvm::DINodeArray range = di_->getOrCreateArray({di_->getOrCreateSubrange(0, value)});
    member(name, di_->createArrayType(0, 32, int_type, range));
  }
  if (spec.typed) {  // `int *key; unsigned char (*value)[N]`
    member("key", int_type);
    llvm::DIBasicType* byte =
        di_->createBasicType("unsigned char", 8, llvm::dwarf::DW_ATE_unsigned_char);
    llvm::DINodeArray range = di_->getOrCreateArray({di_->getOrCreateSubrange(0, spec.value_size)});
    member("value", di_->createArrayType(uint64_t{spec.value_size} * 8, 8, byte, range));
  }
  std::vector<llvm::Type*> slots(members.size(), llvm::PointerType::get(context, 0));
  llvm::DICompositeType* type =
      di_->createStructType(unit_, "", file_, 0, offset, 64, llvm::DINode::FlagZero, nullptr,
                            di_->getOrCreateArray(members));

  auto* ir_type = llvm::StructType::get(context, slots);
  auto* global =
      new llvm::GlobalVariable(module_, ir_type, false, llvm::GlobalValue::ExternalLinkage,
                               llvm::ConstantAggregateZero::get(ir_type), spec.name);
  global->setSection(".maps");
  global->setAlignment(llvm::Align(8));
  global->addDebugInfo(
      di_->createGlobalVariableExpression(unit_, spec.name, spec.name, file_, 0, type, false));
  return global;
}

llvm::DIFile* MapBuilder::SourceFile(const std::string& name, const std::string& text) {
  return di_->createFile(name, ".", std::nullopt, llvm::StringRef(text));
}

// BTF line info names the file of a location's subprogram (LLVM's BPF backend passes over
// lexical block files), so a line of another file, a tapset's, sits in a subprogram of
// that file inlined into the program: the verifier's log then names the tapset.
llvm::DILocation* MapBuilder::Place(llvm::Function& program, llvm::DIFile* file, unsigned line,
                                    unsigned column) {
  llvm::LLVMContext& context = module_.getContext();
  llvm::DISubprogram* sp = program.getSubprogram();
  if (!file || file == sp->getFile()) return llvm::DILocation::get(context, line, column, sp);
  llvm::DISubprogram*& inner = inlined_[file];
  if (!inner) {
    llvm::DISubroutineType* type = di_->createSubroutineType(di_->getOrCreateTypeArray({}));
    inner = di_->createFunction(
        file, "inlined", "inlined", file, 0, type, 0, llvm::DINode::FlagPrototyped,
        llvm::DISubprogram::SPFlagDefinition | llvm::DISubprogram::SPFlagLocalToUnit);
    di_->finalizeSubprogram(inner);
  }
  llvm::DILocation* site = llvm::DILocation::get(context, sp->getLine(), 0, sp);
  return llvm::DILocation::get(context, line, column, inner, site);
}

llvm::DILocation* MapBuilder::Describe(llvm::Function& program, unsigned line, llvm::DIFile* file,
                                       const std::vector<std::string>& params) {
  if (!file) file = file_;
  llvm::DIBasicType* ret = program.getReturnType()->isIntegerTy(64)
                               ? di_->createBasicType("long", 64, llvm::dwarf::DW_ATE_signed)
                               : di_->createBasicType("int", 32, llvm::dwarf::DW_ATE_signed);
  llvm::DIDerivedType* pointer = di_->createPointerType(nullptr, 64);
  std::vector<llvm::Metadata*> types = {ret};
  for (size_t i = 0; i < params.size(); ++i) types.push_back(pointer);
  llvm::DISubroutineType* type = di_->createSubroutineType(di_->getOrCreateTypeArray(types));
  llvm::DISubprogram* sp =
      di_->createFunction(file, program.getName(), program.getName(), file, line, type, line,
                          llvm::DINode::FlagPrototyped,
                          // Internal functions are static in BTF: the verifier checks
                          // them per call, not against their prototype.
                          program.hasLocalLinkage() ? llvm::DISubprogram::SPFlagDefinition |
                                                          llvm::DISubprogram::SPFlagLocalToUnit
                                                    : llvm::DISubprogram::SPFlagDefinition);
  program.setSubprogram(sp);
  // The kernel refuses function BTF whose arguments have no names; BTF takes them from
  // the parameters the subprogram retains.
  for (size_t i = 0; i < params.size(); ++i)
    di_->createParameterVariable(sp, params[i], static_cast<unsigned>(i + 1), file, line, pointer,
                                 true);
  di_->finalizeSubprogram(sp);
  return llvm::DILocation::get(module_.getContext(), line, 0, sp);
}

void MapBuilder::Finalize() { di_->finalize(); }

}  // namespace btap::codegen
