// Kernel symbol lookup and stap's address formats (see symbols.h): the formats of stap's
// _stp_snprint_addr for the flag sets its tapset functions use.
#include "runtime/symbols.h"

#include <algorithm>
#include <cstdio>
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

// symdata(): "name+0xoff/0xsize [module]", or the hex address.
std::string Data(const KernelSymbols& symbols, uint64_t address) {
  KernelSymbols::Hit hit;
  if (!symbols.Lookup(address, &hit)) return Hex(address);
  return std::string(hit.name) + "+" + Hex(hit.offset) + "/" + Hex(hit.size) + " [" +
         std::string(hit.module) + "]";
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

bool KernelSymbols::Lookup(uint64_t address, Hit* hit) const {
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

std::string Symbolize(const KernelSymbols& symbols, Symbolic mode, std::string_view addresses) {
  std::vector<uint64_t> list = Addresses(addresses);
  std::string out;
  KernelSymbols::Hit hit;
  switch (mode) {
    case Symbolic::None:
      return std::string(addresses);
    case Symbolic::Name:
    case Symbolic::Caller: {
      uint64_t a = list.empty() ? 0 : list[0];
      out = symbols.Lookup(a, &hit) ? std::string(hit.name) : Hex(a);
      if (mode == Symbolic::Caller) out += " " + Hex(a);
      return out;
    }
    case Symbolic::Data:
      return Data(symbols, list.empty() ? 0 : list[0]);
    case Symbolic::Syms:
      for (uint64_t a : list) out += " " + Hex(a) + " : " + Data(symbols, a) + "\n";
      return out;
    case Symbolic::Full:
      for (uint64_t a : list) {
        out += " " + Hex(a);
        if (symbols.Lookup(a, &hit))
          out += " : " + std::string(hit.name) + "+" + Hex(hit.offset) + "/" + Hex(hit.size) +
                 " [" + std::string(hit.module) + "]";
        out += "\n";
      }
      return out;
    case Symbolic::Simple:
      for (uint64_t a : list) {
        if (symbols.Lookup(a, &hit))
          out += std::string(hit.name) + "+" + Hex(hit.offset) + " [" + std::string(hit.module) +
                 "]\n";
        else
          out += Hex(a) + "\n";
      }
      return out;
  }
  return out;
}

}  // namespace btap::runtime
