// The pattern table built from every family, and spelling helpers they share.
#include "semantic/probe_family.h"

#include <fnmatch.h>

#include <cstdio>

#include "frontend/ast_printer.h"

namespace btap::sema {

std::string_view FamilyName(Family f) {
  switch (f) {
    case Family::Begin:
      return "begin";
    case Family::End:
      return "end";
    case Family::Error:
      return "error";
    case Family::Never:
      return "never";
    case Family::Timer:
      return "timer";
    case Family::TimerProfile:
      return "timer.profile";
    case Family::Perf:
      return "perf";
    case Family::Tracepoint:
      return "kernel.trace";
    case Family::KernelFunction:
      return "kernel.function";
    case Family::Kprobe:
      return "kprobe";
    case Family::ProcessFunction:
      return "process.function";
    case Family::ProcessStatement:
      return "process.statement";
    case Family::ProcessMark:
      return "process.mark";
    case Family::ProcessBegin:
      return "process.begin";
    case Family::ProcessEnd:
      return "process.end";
    case Family::Syscall:
      return "__syscall";
    case Family::Netfilter:
      return "netfilter";
    case Family::Procfs:
      return "procfs";
    case Family::Lsm:
      return "kernel.lsm";
  }
  return "?";
}

namespace {

PatternDef ParsePattern(const ProbeFamily* family, std::string_view text) {
  PatternDef def{family, {}, std::string(text)};
  size_t pos = 0;
  while (pos < text.size()) {
    size_t dot = text.find('.', pos);
    size_t paren = text.find('(', pos);
    size_t end = std::min(dot, text.size());
    PatternPart part;
    if (paren < end) {
      size_t close = text.find(')', paren);
      part.name = text.substr(pos, paren - pos);
      part.arg =
          text.substr(paren + 1, close - paren - 1) == "number" ? ArgKind::Number : ArgKind::String;
      end = std::min(text.find('.', close), text.size());
    } else {
      part.name = text.substr(pos, end - pos);
    }
    def.parts.push_back(part);
    pos = end + 1;
  }
  return def;
}

}  // namespace

std::span<const PatternDef> AllPatterns() {
  static const std::vector<PatternDef> table = [] {
    std::vector<PatternDef> t;
    for (const ProbeFamily* f :
         {&BeginEndFamily(), &NeverFamily(), &TimerFamily(), &PerfFamily(), &TracepointFamily(),
          &KernelFunctionFamily(), &KprobeFamily(), &ProcessFamily(), &SyscallFamily(),
          &ProcessSyscallFamily(), &NetfilterFamily(), &ProcfsFamily(), &LsmFamily()})
      for (std::string_view p : f->Patterns()) t.push_back(ParsePattern(f, p));
    return t;
  }();
  return table;
}

std::string Quote(std::string_view s) { return frontend::QuoteString(s); }

std::string PartSpelling(const PointPart& p) {
  std::string s = p.name;
  if (p.placeholder) return s + (p.arg == ArgKind::Number ? "(number)" : "(string)");
  if (p.arg == ArgKind::Number &&
      (p.name == "statement" || p.name == "function" || p.name == "data")) {
    char hex[24];  // addresses, as stap spells them
    snprintf(hex, sizeof hex, "(0x%llx)", static_cast<unsigned long long>(p.number));
    s += hex;
  } else if (p.arg == ArgKind::Number) {
    s += "(" + std::to_string(p.number) + ")";
  }
  if (p.arg == ArgKind::String) s += "(" + Quote(p.string) + ")";
  return s;
}

std::string PointSpelling(std::span<const PointPart> parts) {
  std::string s;
  for (const PointPart& p : parts) {
    if (!s.empty()) s += '.';
    s += PartSpelling(p);
  }
  return s;
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  return fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

bool HasGlob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

}  // namespace btap::sema
