// Source file storage and offset-to-line mapping.
#include "common/source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

namespace btap {

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)), size_(text_.size()) {
  text_.append(kPadding, '\0');
}

void SourceFile::IndexLines() const {
  if (!line_starts_.empty()) return;
  line_starts_.push_back(0);
  for (size_t i = 0; i < size_; ++i)
    if (text_[i] == '\n') line_starts_.push_back(static_cast<uint32_t>(i + 1));
}

LineColumn SourceFile::Locate(uint32_t offset) const {
  IndexLines();
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts_.begin());  // 1-based
  return {static_cast<uint32_t>(line), offset - line_starts_[line - 1] + 1};
}

std::string_view SourceFile::LineAt(uint32_t offset) const {
  IndexLines();
  LineColumn lc = Locate(offset);
  uint32_t start = line_starts_[lc.line - 1];
  uint32_t stop = start;
  while (stop < size_ && text_[stop] != '\n') ++stop;
  return std::string_view(text_.data() + start, stop - start);
}

FileId SourceManager::AddFile(std::string name, std::string text) {
  files_.push_back(std::make_unique<SourceFile>(std::move(name), std::move(text)));
  return static_cast<FileId>(files_.size() - 1);
}

FileId SourceManager::LoadFile(const std::string& path, std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = std::strerror(errno);
    return kNoFile;
  }
  struct stat st;
  std::string text;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
    text.reserve(static_cast<size_t>(st.st_size) + SourceFile::kPadding);
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = std::strerror(errno);
      ::close(fd);
      return kNoFile;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return AddFile(path, std::move(text));
}

}  // namespace btap
