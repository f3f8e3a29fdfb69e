// Source files and ranges: every token and AST node points back into a file held here.
// Ranges are byte offsets; line and column are computed on demand for diagnostics.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace btap {

using FileId = uint32_t;
inline constexpr FileId kNoFile = UINT32_MAX;

// A half-open byte range [begin, end) in one file. Bison's default location merging
// (YYLLOC_DEFAULT) works on the begin/end members.
struct SourceRange {
  FileId file = kNoFile;
  uint32_t begin = 0;
  uint32_t end = 0;

  bool valid() const { return file != kNoFile; }
  static SourceRange Join(const SourceRange& a, const SourceRange& b) {
    if (!a.valid()) return b;
    if (!b.valid() || a.file != b.file) return a;
    return {a.file, a.begin < b.begin ? a.begin : b.begin, a.end > b.end ? a.end : b.end};
  }
};

struct LineColumn {
  uint32_t line = 0;    // 1-based
  uint32_t column = 0;  // 1-based, in bytes
};

class SourceFile {
 public:
  SourceFile(std::string name, std::string text);
  const std::string& name() const { return name_; }
  // The file's bytes, followed in memory by kPadding NUL bytes so that the lexer can
  // read ahead without bounds checks.
  std::string_view text() const { return std::string_view(text_.data(), size_); }
  LineColumn Locate(uint32_t offset) const;
  std::string_view LineAt(uint32_t offset) const;

  static constexpr size_t kPadding = 8;

 private:
  void IndexLines() const;
  std::string name_;
  std::string text_;
  size_t size_;
  mutable std::vector<uint32_t> line_starts_;
};

class SourceManager {
 public:
  FileId AddFile(std::string name, std::string text);
  // Reads a file from disk; returns kNoFile and sets *error on failure.
  FileId LoadFile(const std::string& path, std::string* error);
  const SourceFile& file(FileId id) const { return *files_[id]; }
  size_t size() const { return files_.size(); }

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;
};

}  // namespace btap
