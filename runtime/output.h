// Turns output records (common/output_record.h) into text with the object's formats:
// each format is parsed once, when the object is opened; a record whose id, kind or
// arguments do not fit its format is an error, never a crash or a guess.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/object_meta.h"
#include "common/printf_format.h"

namespace btap::runtime {

class OutputFormatter {
 public:
  // Fails (with a message) when a format of the object does not parse.
  bool Init(const meta::Meta& meta, std::string* error);

  // Appends the record's text to `out`.
  bool FormatRecord(std::span<const uint8_t> record, std::string& out, std::string* error) const;

 private:
  struct Compiled {
    std::string text;  // owns the bytes the directives point into
    std::vector<FormatDirective> directives;
    std::vector<uint8_t> shape;  // per argument: 1 string, 0 long
  };
  std::vector<Compiled> formats_;
  size_t string_limit_ = 0;  // MAXSTRINGLEN, which cuts the text of format groups
};

}  // namespace btap::runtime
