// Kernel symbol lookup and stap's address formats (see symbols.h): the formats of stap's
// _stp_snprint_addr for the flag sets its tapset functions use.
#include "runtime/symbols.h"

#include "runtime/dwarf_symbols.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace btap::runtime {
namespace {

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::vector<uint64_t> Addresses(std::string_view text) {
  std::vector<uint64_t> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i == start) break;
    std::string token(text.substr(start, i - start));
    out.push_back(std::strtoull(token.c_str(), nullptr, 16));
  }
  return out;
}

std::string Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// One address as stap's _stp_snprint_addr writes it for the flag set of `shape` (a kernel
// shape: the user modes differ only in where they look).
std::string Address(const SymbolSource& source, Symbolic shape, uint64_t address) {
  SymbolHit hit;
  source.Lookup(address, &hit);
  std::string name(hit.name), module(hit.module);
  if (!name.empty() && name[0] == '.') name.erase(0, 1);
  std::string file;
  uint64_t line = 0;
  if (shape == Symbolic::Fuller || shape == Symbolic::File || shape == Symbolic::Line ||
      shape == Symbolic::FileLine)
    source.SourceLine(address, &file, &line);
  std::string hex = Hex(address), off = "+" + Hex(hit.offset), size = "/" + Hex(hit.size);
  std::string at = file.empty() ? "" : " at " + file + (line ? ":" + std::to_string(line) : "");
  switch (shape) {
    case Symbolic::Name:
      return name.empty() ? hex : name;
    case Symbolic::Caller:
      return (name.empty() ? hex : name) + " " + hex;
    case Symbolic::Data:
    case Symbolic::Syms:
      if (!name.empty()) return name + off + size + (module.empty() ? "" : " [" + module + "]");
      return module.empty() ? hex : hex + " [" + module + off + size + "]";
    case Symbolic::Full:
    case Symbolic::Fuller:
      if (!name.empty())
        return hex + " : " + name + off + size + at + (module.empty() ? "" : " [" + module + "]");
      return hex + (module.empty() ? "" : " [" + module + off + size + "]" + at);
    case Symbolic::Simple:
      if (!name.empty()) return name + off + (module.empty() ? "" : " [" + Basename(module) + "]");
      return module.empty() ? hex : hex + " [" + Basename(module) + off + "]";
    case Symbolic::Brief:
      return name.empty() ? hex : name + off;
    case Symbolic::File:
      return file.empty() ? hex : file;
    case Symbolic::Line:
      return line ? std::to_string(line) : hex;
    case Symbolic::FileLine:
      if (file.empty()) return line ? "??:" + std::to_string(line) : hex;
      return file + (line ? ":" + std::to_string(line) : "");
    case Symbolic::Module:
      return module.empty() ? "<unknown>" : module;
    default:
      return hex;
  }
}

}  // namespace

void KernelSymbols::Parse(std::string_view text, std::string_view modules) {
  symbols_.clear();
  module_ends_.clear();
  std::istringstream module_lines{std::string(modules)};
  std::string module_line;
  while (std::getline(module_lines, module_line)) {
    std::istringstream fields(module_line);
    std::string name, refs, deps, state, address;
    uint64_t size = 0;
    if (fields >> name >> size >> refs >> deps >> state >> address)
      module_ends_[name] = std::strtoull(address.c_str(), nullptr, 16) + size;
  }
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string address, type, name, module;
    if (!(fields >> address >> type >> name)) continue;
    fields >> module;
    uint64_t a = std::strtoull(address.c_str(), nullptr, 16);
    // Absolute symbols and per-CPU offsets (below the kernel half) are not code.
    if (type == "a" || type == "A" || type == "U" || !(a >> 63)) continue;
    if (module.size() >= 2 && module.front() == '[' && module.back() == ']')
      module = module.substr(1, module.size() - 2);
    else
      module = "kernel";
    symbols_.push_back({a, std::move(name), std::move(module)});
  }
  std::stable_sort(symbols_.begin(), symbols_.end(),
                   [](const Symbol& x, const Symbol& y) { return x.address < y.address; });
}

bool KernelSymbols::Lookup(uint64_t address, SymbolHit* hit) const {
  auto after = std::upper_bound(symbols_.begin(), symbols_.end(), address,
                                [](uint64_t a, const Symbol& s) { return a < s.address; });
  if (after == symbols_.begin()) return false;
  auto at = std::prev(after);
  uint64_t start = at->address;
  while (at != symbols_.begin() && std::prev(at)->address == start) --at;
  // A symbol ends where the next one of its module starts, or where its module ends;
  // past the kernel image's last symbol the address is in no known one.
  uint64_t end = 0;
  if (after != symbols_.end() && after->module == at->module) {
    end = after->address;
  } else if (auto m = module_ends_.find(at->module); m != module_ends_.end()) {
    end = m->second;
  }
  if (address >= end) return false;
  hit->name = at->name;
  hit->module = at->module;
  hit->offset = address - start;
  hit->size = end - start;
  return true;
}

void KernelSymbols::SourceLine(uint64_t address, std::string* file, uint64_t* line) const {
  KernelSourceLine(address, file, line);
}

const KernelSymbols& RunningKernelSymbols() {
  static const KernelSymbols symbols = [] {
    KernelSymbols s;
    auto read = [](const char* path) {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      return text.str();
    };
    s.Parse(read("/proc/kallsyms"), read("/proc/modules"));
    return s;
  }();
  return symbols;
}

std::string Symbolize(const SymbolSource& source, Symbolic mode, std::string_view addresses) {
  if (mode == Symbolic::None) return std::string(addresses);
  std::vector<uint64_t> list = Addresses(addresses);
  Symbolic shape = KernelShape(mode);
  std::string out;
  switch (shape) {
    case Symbolic::Syms:  // print_syms(): the address, then symdata() of it
      for (uint64_t a : list) out += " " + Hex(a) + " : " + Address(source, shape, a) + "\n";
      return out;
    case Symbolic::Full:
    case Symbolic::Fuller:
      for (uint64_t a : list) out += " " + Address(source, shape, a) + "\n";
      return out;
    case Symbolic::Simple:
    case Symbolic::Brief:
      for (uint64_t a : list) out += Address(source, shape, a) + "\n";
      return out;
    default:
      return list.empty() ? "" : Address(source, shape, list[0]);
  }
}

std::string Symbolize(Symbolic mode, std::string_view addresses, int pid) {
  if (!UserSymbolic(mode)) return Symbolize(RunningKernelSymbols(), mode, addresses);
  return Symbolize(ProcessSymbolsOf(pid), mode, addresses);
}

std::string ExpandSymbolTags(std::string_view text, size_t limit) {
  constexpr auto kModes = static_cast<size_t>(Symbolic::UModule);
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t tag = text.find('\2', i);
    out.append(text.substr(i, tag == std::string_view::npos ? tag : tag - i));
    if (tag == std::string_view::npos) break;
    // "\2" mode pid ':' addresses ("\3" or the end of the text).
    size_t at = tag + 1;
    size_t mode = at < text.size() ? static_cast<unsigned char>(text[at]) - 'A' : 0;
    size_t colon = text.find(':', at);
    size_t end = text.find('\3', at);
    bool cut = end == std::string_view::npos;
    if (cut) end = text.size();
    if (mode < 1 || mode > kModes || colon == std::string_view::npos || colon > end ||
        colon == at + 1 ||
        text.substr(at + 1, colon - at - 1).find_first_not_of("0123456789") !=
            std::string_view::npos) {
      out.push_back(text[tag]);  // not a tag: the byte as it is
      i = tag + 1;
      continue;
    }
    int pid = std::atoi(std::string(text.substr(at + 1, colon - at - 1)).c_str());
    std::string_view addresses = text.substr(colon + 1, end - colon - 1);
    if (cut)
      addresses = addresses.substr(
          0, addresses.rfind(' ') == std::string_view::npos ? 0 : addresses.rfind(' '));
    out += Symbolize(static_cast<Symbolic>(mode), addresses, pid);
    i = cut ? end : end + 1;
  }
  if (limit && out.size() >= limit) out.resize(limit - 1);
  return out;
}

}  // namespace btap::runtime
