// The -o FILE output of a session as staprun writes it: one file, or a numbered series
// when -S SIZE[,N] or switch_file() moves the output on (FILE.0 or FILE, then FILE.1,
// FILE.2 ...), each name's strftime sequences expanded when it opens, the oldest
// removed once more than N are kept.
#pragma once

#include <cstdint>
#include <ctime>
#include <deque>
#include <fstream>
#include <string>

namespace btap::runtime {

// -o FILE as stap and staprun read it: FILE with its strftime(3) sequences expanded for
// `when`, in local time.
bool ExpandOutputName(const std::string& pattern, time_t when, std::string* name,
                      std::string* error);

// -S SIZE[,N]: the output moves to the next file before a file would grow past `bytes`
// (SIZE megabytes); `count` files at most are kept (0: all).
struct FileLimit {
  uint64_t bytes = 0;  // 0: no limit (-S not given)
  long count = 0;
};

// -S as stap and staprun read it: SIZE a positive whole number of megabytes (MiB), N,
// when given, a positive number of files; false with a message for anything else.
bool ParseFileLimit(const std::string& text, FileLimit* limit, std::string* error);

class OutputFiles {
 public:
  // Opens the first file: FILE (FILE.0 with -S), its name expanded now; false with a
  // message naming it when it cannot be made.
  bool Open(const std::string& pattern, FileLimit limit, std::string* error);
  // The current file: the session writes its output here (and says how much: Wrote).
  std::ostream& stream() { return file_; }
  void Wrote(size_t bytes) { written_ += bytes; }
  // Whether `more` bytes, after `held` that the session holds for the current file,
  // should go to the next file instead: the file would grow past -S's size, and already
  // has output (a record is never split, and no file is left empty).
  bool Overflows(size_t held, size_t more) const {
    return limit_.bytes && written_ + held > 0 && written_ + held + more > limit_.bytes;
  }
  // Closes the current file and opens the next (switch_file(), or a full one), removing
  // the oldest file past -S's count; false with a message when the next cannot be made.
  bool Next(std::string* error);
  const std::string& name() const { return name_; }

 private:
  bool OpenNumbered(long number, std::string* error);

  std::string pattern_;
  FileLimit limit_;
  std::ofstream file_;
  std::string name_;              // the current file's
  uint64_t written_ = 0;          // bytes in the current file
  long number_ = 0;               // the current file's number (FILE alone: 0)
  std::deque<std::string> kept_;  // the numbered files that are kept, oldest first
};

}  // namespace btap::runtime
