// -o FILE's files (output_files.h) and the session's side of them: switch_file()'s
// record and -S's size move the output on, in order, between whole records.
#include "runtime/output_files.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "runtime/session.h"

namespace btap::runtime {

namespace {

// A whole decimal number in [1, max], nothing else (no sign, no space).
bool PositiveNumber(const std::string& text, long max, long* value) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  long n = std::strtol(text.c_str(), nullptr, 10);
  if (errno || n < 1 || n > max) return false;
  *value = n;
  return true;
}

}  // namespace

bool ExpandOutputName(const std::string& pattern, time_t when, std::string* name,
                      std::string* error) {
  struct tm tm;
  localtime_r(&when, &tm);
  std::vector<char> buf(pattern.size() * 4 + 4096);
  // As staprun: every strftime sequence, in local time; an empty result is an error.
  size_t n = pattern.empty() ? 0 : strftime(buf.data(), buf.size(), pattern.c_str(), &tm);
  if (n == 0) {
    *error = "invalid output file name format `" + pattern + "`";
    return false;
  }
  name->assign(buf.data(), n);
  return true;
}

bool ParseFileLimit(const std::string& text, FileLimit* limit, std::string* error) {
  size_t comma = text.find(',');
  std::string size = text.substr(0, comma);
  long megabytes = 0, count = 0;
  // The size is kept in bytes: at most 2^43 - 1 megabytes fit.
  if (!PositiveNumber(size, (1L << 43) - 1, &megabytes)) {
    *error = "invalid -S `" + text + "`: the file size `" + size +
             "` should be a positive whole number of megabytes (-S SIZE[,N])";
    return false;
  }
  if (comma != std::string::npos) {
    std::string n = text.substr(comma + 1);
    if (!PositiveNumber(n, INT_MAX, &count)) {
      *error = "invalid -S `" + text + "`: the number of files `" + n +
               "` should be a positive whole number (-S SIZE[,N])";
      return false;
    }
  }
  limit->bytes = static_cast<uint64_t>(megabytes) << 20;
  limit->count = count;
  return true;
}

bool OutputFiles::Open(const std::string& pattern, FileLimit limit, std::string* error) {
  pattern_ = pattern;
  limit_ = limit;
  if (limit_.bytes) return OpenNumbered(0, error);
  if (!ExpandOutputName(pattern_, time(nullptr), &name_, error)) return false;
  file_.open(name_, std::ios::binary | std::ios::trunc);
  if (!file_) {
    *error = "cannot open output file `" + name_ + "`: " + std::strerror(errno);
    return false;
  }
  return true;
}

bool OutputFiles::Next(std::string* error) {
  file_.close();  // its output was flushed by the session
  return OpenNumbered(number_ + 1, error);
}

bool OutputFiles::OpenNumbered(long number, std::string* error) {
  std::string name;
  if (!ExpandOutputName(pattern_, time(nullptr), &name, error)) return false;
  // As staprun, /dev/null stays itself (no numbered names to remove).
  if (pattern_ != "/dev/null") name += "." + std::to_string(number);
  // Past the count, the oldest file goes (a file that cannot be removed is left).
  kept_.push_back(name);
  while (limit_.count && kept_.size() > static_cast<size_t>(limit_.count)) {
    if (kept_.front() != name && pattern_ != "/dev/null") std::remove(kept_.front().c_str());
    kept_.pop_front();
  }
  file_.clear();
  file_.open(name, std::ios::binary | std::ios::trunc);
  if (!file_) {
    *error = "cannot open output file `" + name + "`: " + std::strerror(errno);
    return false;
  }
  name_ = name;
  number_ = number;
  written_ = 0;
  return true;
}

// switch_file(): what was printed before stays in the current file.
void Session::SwitchFile() {
  if (!files_) return;  // without -o, as stapio: nothing to switch
  Flush();
  NextFile();
}

// The text from `start` in the pending output is one record's (or one piece of the
// globals printed at exit): when it would take the file past -S's size, it starts the
// next file instead.
void Session::RotateOutput(size_t start) {
  if (!files_->Overflows(start, pending_.size() - start)) return;
  std::string rest = pending_.substr(start);
  pending_.resize(start);
  Flush();
  NextFile();
  pending_ = std::move(rest);
}

void Session::NextFile() {
  std::string why;
  if (write_error_.empty() && !files_->Next(&why)) {
    write_error_ = why;
    Stop(session::State::Stopped);
  }
}

}  // namespace btap::runtime
