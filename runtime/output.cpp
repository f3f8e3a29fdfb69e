// Record formatting (see output.h).
#include "runtime/output.h"

#include "common/output_record.h"
#include "runtime/format.h"

namespace btap::runtime {
namespace {

// A format's text as a message shows it: control characters escaped, long ones cut.
std::string QuoteForMessage(const std::string& text) {
  constexpr size_t kShown = 60;
  std::string out;
  for (size_t i = 0; i < text.size() && i < kShown; ++i) {
    char ch = text[i];
    if (ch == '\n')
      out += "\\n";
    else if (ch == '\t')
      out += "\\t";
    else if (ch == '"' || ch == '\\')
      out += std::string("\\") + ch;
    else if (static_cast<unsigned char>(ch) < 0x20)
      out += '?';
    else
      out += ch;
  }
  if (text.size() > kShown) out += "...";
  return out;
}

}  // namespace

bool OutputFormatter::Init(const meta::Meta& meta, std::string* error) {
  formats_.clear();
  string_limit_ = meta.limits.max_string_len;
  formats_.reserve(meta.formats.size());
  for (size_t id = 0; id < meta.formats.size(); ++id) {
    Compiled& c = formats_.emplace_back();
    c.text = meta.formats[id];
    std::string why;
    size_t offset = 0;
    if (!ParseFormat(c.text, c.directives, &why, &offset, /*internal=*/true)) {
      *error = "format " + std::to_string(id) + " of the object is invalid: " + why;
      return false;
    }
    for (const FormatDirective& d : c.directives) {
      if (d.literal || d.group != FormatDirective::Group::None) continue;
      if (d.width == -2) c.shape.push_back(0);
      if (d.precision == -2) c.shape.push_back(0);
      c.shape.push_back(d.arg == FormatDirective::Arg::String);
    }
  }
  return true;
}

bool OutputFormatter::FormatRecord(std::span<const uint8_t> bytes, std::string& out,
                                   std::string* error) const {
  record::Decoded r;
  if (!record::Decode(bytes, &r, error)) return false;
  if (r.format_id >= formats_.size()) {
    *error = "output record names format " + std::to_string(r.format_id) + ", the object has " +
             std::to_string(formats_.size());
    return false;
  }
  const Compiled& c = formats_[r.format_id];
  if (!record::DecodeArgs(bytes, c.shape, &r, error)) {
    // Formats are the script's own printf texts: naming it points at the statement.
    *error = "its format \"" + QuoteForMessage(c.text) + "\": " + *error;
    return false;
  }
  std::vector<FormatArg> args;
  args.reserve(r.args.size());
  for (const record::Arg& a : r.args)
    args.push_back(a.is_string ? FormatArg::String(a.string) : FormatArg::Long(a.number));
  Format(c.directives, args, out, string_limit_);
  return true;
}

}  // namespace btap::runtime
