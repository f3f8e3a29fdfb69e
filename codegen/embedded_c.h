// Embedded C (DESIGN decision 8): one C translation unit per script, compiled by Clang in
// process to a BPF module in the script's LLVMContext, with Clang's diagnostics located in
// the script text the C came from.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/diagnostics.h"
#include "common/source.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace btap::codegen {

// The C text Clang reads: generated parts (prelude, wrappers) and the script's own C,
// copied verbatim behind a `#line` directive so that Clang's presumed lines (and so the
// debug info the verifier quotes) are the script's. Diagnostics are located by offset
// (Origin), so columns need no padding where generated text leads the script's line.
class CSource {
 public:
  void Add(std::string_view generated) { text_ += generated; }
  // The script's C at `origin` (its text is `code`), on the script's lines: `lead` starts
  // its first line and `tail` ends its last (a function's head and closing brace, so that
  // the function's debug info names the script's file: BTF line info takes a line's file
  // from its function).
  void AddScript(std::string_view code, SourceRange origin, const SourceManager& sm,
                 std::string_view lead = "", std::string_view tail = "");
  const std::string& text() const { return text_; }
  // The script location of byte `offset` of the text; invalid when it is generated.
  SourceRange Origin(size_t offset) const;

 private:
  struct Piece {
    size_t at = 0;  // in text_
    size_t size = 0;
    SourceRange origin;  // origin.begin is the script offset of the piece's first byte
  };
  std::string text_;
  std::vector<Piece> pieces_;
};

// stap's C conventions over BPF (embedded_prelude.cpp): types, the C library functions
// stap's C calls (bounded, so the verifier accepts them), errors and kernel reads, for the
// head of each translation unit, after `MAXSTRINGLEN` and `__BTAP_SLOT` are defined.
extern const char* const kEmbeddedPrelude;

// Compiles `source` for the BPF target (CPU v3, debug info for BTF line info). The module
// is not optimised here: the script's own pipeline optimises it with the probes it is
// inlined into. Clang's errors and warnings go to `diags`, at the script text they point
// into, else at `fallback`; returns null when Clang reported an error.
// `pch`, when given, is a header precompiled by PrecompileHeader, read before the source.
std::unique_ptr<llvm::Module> CompileC(const CSource& source, llvm::LLVMContext& context,
                                       const SourceManager& sm, DiagnosticSink& diags,
                                       SourceRange fallback, const std::string& pch = "");

// A `-D` option as the C macro embedded C gets from it: `NAME` (as 1) and `NAME=VALUE`,
// as stap's C compiler gets them, and (btap's own; stap refuses it) `NAME(ARGS)` or
// `NAME(ARGS)=VALUE`, ARGS being distinct names and a final `...` separated by commas.
// Sets `name` (NAME) and `directive` (the `#define` line, no newline); false, with
// `error` saying what is wrong, for anything else (a value may not leave a comment open
// or end in a backslash, which would reach past the line).
bool CDefine(std::string_view option, std::string* name, std::string* directive,
             std::string* error);

// Precompiles the header file `header` into `pch` with the flags CompileC uses, so that a
// large header (the kernel's types) costs a lazy load instead of a parse per script.
bool PrecompileHeader(const std::string& header, const std::string& pch, std::string* error);

}  // namespace btap::codegen
