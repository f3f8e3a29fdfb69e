// Reads ELF files with libelf (see elf_image.h). Everything is copied out while the file is
// mapped, so an ElfImage holds no descriptor. Offsets and sizes from the file are checked by
// libelf's accessors (elf_getdata, gelf_getnote, elf_strptr, elf_getdata_rawchunk) or here.
#include "semantic/machine/elf_image.h"

#include "common/sdt_note.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <system_error>
#include <unordered_set>

namespace btap::sema {
namespace {

namespace fs = std::filesystem;

void SetError(std::string* error, std::string message) {
  if (error) *error = std::move(message);
}

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string RealPath(const std::string& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (!real) return "";
  std::string out = real;
  free(real);
  return out;
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string Parent(const std::string& path) { return fs::path(path).parent_path().string(); }

// `dir/name` with one slash between, whatever either side brings.
std::string Join(std::string dir, std::string_view name) {
  while (!name.empty() && name[0] == '/') name.remove_prefix(1);
  if (dir.empty() || dir.back() != '/') dir += '/';
  return dir.append(name);
}

// Note descriptors and .gnu_debuglink are raw bytes in the file's byte order.
uint64_t ReadWord(std::string_view bytes, size_t at, size_t width, bool big_endian) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) {
    auto byte = static_cast<uint8_t>(bytes[at + (big_endian ? i : width - 1 - i)]);
    v = v << 8 | byte;
  }
  return v;
}

struct FdCloser {
  int fd;
  ~FdCloser() { close(fd); }
};

struct ElfCloser {
  Elf* elf;
  ~ElfCloser() { elf_end(elf); }
};

}  // namespace

std::vector<std::string> SplitFields(std::string_view text, char sep, bool keep_empty) {
  std::vector<std::string> out;
  for (size_t start = 0;;) {
    size_t end = std::min(text.find(sep, start), text.size());
    if (keep_empty || end > start) out.emplace_back(text.substr(start, end - start));
    if (end == text.size()) return out;
    start = end + 1;
  }
}

// Fills an ElfImage from an open Elf handle; a friend so ElfImage keeps plain fields.
class ElfReader {
 public:
  ElfReader(Elf* elf, ElfImage* image, bool symbols) : elf_(elf), img_(image), symbols_(symbols) {}

  // Walking dependencies needs only the headers and the dynamic section; skipping the
  // symbol tables makes opening a library several times cheaper.
  static std::unique_ptr<ElfImage> OpenDependency(const std::string& path) {
    return ElfImage::Load(path, nullptr, false);
  }

  bool Read(std::string* why) {
    GElf_Ehdr eh;
    if (!gelf_getehdr(elf_, &eh)) {
      *why = elf_errmsg(-1);
      return false;
    }
    img_->is_dyn_ = eh.e_type == ET_DYN;
    img_->is_64_ = eh.e_ident[EI_CLASS] == ELFCLASS64;
    img_->machine_ = eh.e_machine;
    big_endian_ = eh.e_ident[EI_DATA] == ELFDATA2MSB;
    ReadSegments();
    ReadSections();
    for (Elf_Scn* scn : note_sections_) ReadNotes(elf_getdata(scn, nullptr));
    // Without section headers the allocated notes (the build id) are still in PT_NOTE.
    if (note_sections_.empty()) {
      for (const GElf_Phdr& ph : note_segments_)
        ReadNotes(elf_getdata_rawchunk(elf_, ph.p_offset, ph.p_filesz,
                                       ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR));
    }
    FinishSdtNotes();
    if (symbols_ && img_->machine_ == EM_X86_64 && img_->is_64_) ReadPlt();
    img_->Index();
    return true;
  }

 private:
  void ReadSegments() {
    size_t count = 0;
    if (elf_getphdrnum(elf_, &count) != 0) return;
    for (size_t i = 0; i < count; ++i) {
      GElf_Phdr ph;
      if (!gelf_getphdr(elf_, static_cast<int>(i), &ph)) return;
      if (ph.p_type == PT_LOAD) {
        img_->segments_.push_back({ph.p_vaddr, ph.p_offset, ph.p_filesz});
      } else if (ph.p_type == PT_NOTE) {
        note_segments_.push_back(ph);
      } else if (ph.p_type == PT_INTERP) {
        Elf_Data* d = elf_getdata_rawchunk(elf_, ph.p_offset, ph.p_filesz, ELF_T_BYTE);
        if (d && d->d_buf) {
          auto* text = static_cast<const char*>(d->d_buf);
          img_->interpreter_.assign(text, strnlen(text, d->d_size));
        }
      }
    }
  }

  void ReadSections() {
    size_t shstrndx = 0;
    if (elf_getshdrstrndx(elf_, &shstrndx) != 0) shstrndx = 0;
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf_, scn)) != nullptr;) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh)) continue;
      const char* cname = shstrndx ? elf_strptr(elf_, shstrndx, sh.sh_name) : nullptr;
      std::string_view name = cname ? cname : "";
      bool has_bytes = sh.sh_type != SHT_NOBITS && sh.sh_size > 0;
      if ((sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM) && symbols_)
        ReadSymbols(scn, sh, sh.sh_type == SHT_DYNSYM);
      else if (sh.sh_type == SHT_DYNAMIC)
        ReadDynamic(scn, sh);
      else if (sh.sh_type == SHT_NOTE)
        note_sections_.push_back(scn);
      else if (name == ".gnu_debuglink" && has_bytes)
        ReadDebuglink(scn);
      else if (name == ".debug_info" && has_bytes)
        img_->has_debug_info_ = true;
      else if (name == ".stapsdt.base")
        stapsdt_base_ = sh.sh_addr;
      else if ((name == ".rela.plt" || name == ".rela.dyn") && sh.sh_type == SHT_RELA)
        plt_relocs_.push_back(scn);
      else if ((name == ".plt" || name == ".plt.sec" || name == ".plt.got") && has_bytes)
        plt_sections_.push_back({scn, name == ".plt.got" ? 8u : 16u});
    }
  }

  // The number of fixed-size entries in a section's data, 0 when it has none to read.
  size_t Entries(Elf_Data* data, Elf_Type type) const {
    size_t size = gelf_fsize(elf_, type, 1, EV_CURRENT);
    if (!data || !data->d_buf || size == 0) return 0;
    return std::min<size_t>(data->d_size / size, INT_MAX);
  }

  void ReadSymbols(Elf_Scn* scn, const GElf_Shdr& sh, bool dynamic) {
    Elf_Data* data = elf_getdata(scn, nullptr);
    size_t count = Entries(data, ELF_T_SYM);
    for (size_t i = 1; i < count; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(data, static_cast<int>(i), &sym) || sym.st_shndx == SHN_UNDEF) continue;
      int type = GELF_ST_TYPE(sym.st_info);
      bool function = type == STT_FUNC || type == STT_GNU_IFUNC;
      // (Untyped global symbols are the linker's marks, such as the kernel's _sinittext.)
      bool mark = type == STT_NOTYPE && GELF_ST_BIND(sym.st_info) == STB_GLOBAL;
      if (!function && type != STT_OBJECT && !mark) continue;
      const char* name = elf_strptr(elf_, sh.sh_link, sym.st_name);
      if (!name || !*name) continue;
      if (!function) {
        img_->objects_.emplace_back(name, sym.st_value);
        continue;
      }
      int bind = GELF_ST_BIND(sym.st_info);
      bool exported = dynamic && (bind == STB_GLOBAL || bind == STB_WEAK);
      img_->functions_.push_back({name, sym.st_value, sym.st_size, exported});
    }
  }

  void ReadDynamic(Elf_Scn* scn, const GElf_Shdr& sh) {
    Elf_Data* data = elf_getdata(scn, nullptr);
    size_t count = Entries(data, ELF_T_DYN);
    for (size_t i = 0; i < count; ++i) {
      GElf_Dyn dyn;
      if (!gelf_getdyn(data, static_cast<int>(i), &dyn) || dyn.d_tag == DT_NULL) return;
      if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RUNPATH && dyn.d_tag != DT_RPATH) continue;
      const char* text = elf_strptr(elf_, sh.sh_link, dyn.d_un.d_val);
      if (!text) continue;
      if (dyn.d_tag == DT_NEEDED)
        img_->needed_.emplace_back(text);
      else
        for (std::string& dir : SplitFields(text, ':', false))
          (dyn.d_tag == DT_RUNPATH ? img_->runpath_ : img_->rpath_).push_back(std::move(dir));
    }
  }

  // The file name, NUL, padding to 4 bytes, then the CRC32 of the debug file.
  void ReadDebuglink(Elf_Scn* scn) {
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data || !data->d_buf) return;
    std::string_view raw(static_cast<const char*>(data->d_buf), data->d_size);
    size_t nul = raw.find('\0');
    if (nul == std::string_view::npos || nul == 0) return;
    size_t crc_at = (nul + 4) & ~size_t{3};
    if (crc_at + 4 > raw.size()) return;
    img_->debuglink_ = raw.substr(0, nul);
    img_->debuglink_crc_ = static_cast<uint32_t>(ReadWord(raw, crc_at, 4, big_endian_));
  }

  void ReadNotes(Elf_Data* data) {
    if (!data || !data->d_buf) return;
    if (data->d_type != ELF_T_NHDR && data->d_type != ELF_T_NHDR8) return;
    auto* base = static_cast<const char*>(data->d_buf);
    GElf_Nhdr nh;
    size_t name_at = 0, desc_at = 0;
    for (size_t at = 0; (at = gelf_getnote(data, at, &nh, &name_at, &desc_at)) != 0;) {
      std::string_view owner(base + name_at, nh.n_namesz);
      while (!owner.empty() && owner.back() == '\0') owner.remove_suffix(1);
      std::string_view desc(base + desc_at, nh.n_descsz);
      if (owner == "GNU" && nh.n_type == NT_GNU_BUILD_ID && img_->build_id_.empty()) {
        static constexpr char kHex[] = "0123456789abcdef";
        for (unsigned char c : desc) img_->build_id_ += {kHex[c >> 4], kHex[c & 15]};
      } else if (owner == "stapsdt" && nh.n_type == kNtStapsdt) {
        ReadSdtNote(desc);
      }
    }
  }

  void ReadSdtNote(std::string_view desc) {
    if (std::optional<StapsdtNote> note = ParseStapsdtNote(desc, img_->is_64_, big_endian_))
      raw_sdt_.push_back(std::move(*note));
  }

  // (Corrected once .stapsdt.base's place is known: the sections may come in any order.)
  void FinishSdtNotes() {
    for (StapsdtNote& raw : raw_sdt_) {
      raw.Rebase(stapsdt_base_);
      img_->sdt_notes_.push_back(std::move(raw));
    }
  }

  // The PLT's stubs, each named by the function its GOT slot is bound to. The slots are
  // named by .rela.plt's R_X86_64_JUMP_SLOT relocations and, for functions whose address
  // is also taken (called through .plt.got), by .rela.dyn's R_X86_64_GLOB_DAT. A stub is
  // an entry of .plt, .plt.sec (IBT) or .plt.got that jumps through a slot
  // (`[endbr64] [bnd] jmp *slot(%rip)`); entries are sh_entsize apart (16, or 8 for
  // .plt.got without IBT). Decoding the jump rather than counting entries holds for lazy
  // and -z now binding alike; PLT0 and the lazy stubs beside .plt.sec jump elsewhere.
  void ReadPlt() {
    if (plt_relocs_.empty() || plt_sections_.empty()) return;
    std::map<uint64_t, std::string> slots;
    for (Elf_Scn* scn : plt_relocs_) ReadSlotNames(scn, &slots);
    for (auto [scn, fallback] : plt_sections_) {
      GElf_Shdr sh;
      Elf_Data* data = elf_getdata(scn, nullptr);
      if (!gelf_getshdr(scn, &sh) || !data || !data->d_buf) continue;
      size_t step = sh.sh_entsize >= 8 && sh.sh_entsize <= 64 ? sh.sh_entsize : fallback;
      std::string_view bytes(static_cast<const char*>(data->d_buf), data->d_size);
      for (size_t at = 0; at + step <= bytes.size(); at += step) {
        std::string_view stub = bytes.substr(at, step);
        size_t p = stub.starts_with("\xf3\x0f\x1e\xfa") ? 4 : 0;               // endbr64
        if (p < stub.size() && stub[p] == '\xf2') ++p;                         // bnd
        if (p + 6 > stub.size() || stub.substr(p, 2) != "\xff\x25") continue;  // jmp *disp32(%rip)
        auto disp = static_cast<int32_t>(ReadWord(stub, p + 2, 4, false));
        uint64_t slot = sh.sh_addr + at + p + 6 + static_cast<int64_t>(disp);
        auto it = slots.find(slot);
        if (it != slots.end()) img_->plt_.push_back({it->second, sh.sh_addr + at, step, false});
      }
    }
    std::sort(img_->plt_.begin(), img_->plt_.end(),
              [](const ElfSymbol& a, const ElfSymbol& b) { return a.addr < b.addr; });
  }

  // Names the GOT slots bound by one relocation section's JUMP_SLOT and GLOB_DAT entries.
  void ReadSlotNames(Elf_Scn* scn, std::map<uint64_t, std::string>* slots) {
    GElf_Shdr rsh;
    if (!gelf_getshdr(scn, &rsh)) return;
    Elf_Scn* symscn = elf_getscn(elf_, rsh.sh_link);
    GElf_Shdr ssh;
    if (!symscn || !gelf_getshdr(symscn, &ssh)) return;
    Elf_Data* syms = elf_getdata(symscn, nullptr);
    Elf_Data* relas = elf_getdata(scn, nullptr);
    size_t count = Entries(relas, ELF_T_RELA);
    for (size_t i = 0; i < count; ++i) {
      GElf_Rela rela;
      GElf_Sym sym;
      if (!gelf_getrela(relas, static_cast<int>(i), &rela)) continue;
      auto type = GELF_R_TYPE(rela.r_info);
      if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
      if (!syms || !gelf_getsym(syms, static_cast<int>(GELF_R_SYM(rela.r_info)), &sym)) continue;
      // A GLOB_DAT slot of a data object is never jumped through; only functions count.
      if (type == R_X86_64_GLOB_DAT && GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
          GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC && GELF_ST_TYPE(sym.st_info) != STT_NOTYPE)
        continue;
      const char* name = elf_strptr(elf_, ssh.sh_link, sym.st_name);
      if (name && *name) slots->emplace(rela.r_offset, name);
    }
  }

  Elf* elf_;
  ElfImage* img_;
  bool symbols_;
  bool big_endian_ = false;
  std::vector<Elf_Scn*> note_sections_;
  std::vector<GElf_Phdr> note_segments_;
  std::optional<uint64_t> stapsdt_base_;
  std::vector<StapsdtNote> raw_sdt_;
  std::vector<Elf_Scn*> plt_relocs_;
  std::vector<std::pair<Elf_Scn*, size_t>> plt_sections_;  // with the entry size to fall back on
};

std::unique_ptr<ElfImage> ElfImage::Open(const std::string& path, std::string* error) {
  return Load(path, error, true);
}

// The file is mapped (ELF_C_READ_MMAP) for speed; one truncated by another process while
// being read would fault, a risk every mmap-based ELF reader takes.
std::unique_ptr<ElfImage> ElfImage::Load(const std::string& path, std::string* error,
                                         bool symbols) {
  static const bool libelf_ready = elf_version(EV_CURRENT) != EV_NONE;
  if (!libelf_ready) {
    SetError(error, "libelf is too old to read `" + path + "`");
    return nullptr;
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    SetError(error, "cannot open `" + path + "`: " + ErrnoText(errno));
    return nullptr;
  }
  FdCloser fd_closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0) {
    SetError(error, "cannot open `" + path + "`: " + ErrnoText(errno));
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {
    SetError(error, S_ISDIR(st.st_mode) ? "cannot open `" + path + "`: " + ErrnoText(EISDIR)
                                        : "`" + path + "` is not a regular file");
    return nullptr;
  }
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  if (!elf) {
    SetError(error, "cannot read `" + path + "`: " + elf_errmsg(-1));
    return nullptr;
  }
  ElfCloser elf_closer{elf};
  if (elf_kind(elf) != ELF_K_ELF) {
    SetError(error, "`" + path + "` is not an ELF file");
    return nullptr;
  }
  std::unique_ptr<ElfImage> image(new ElfImage);
  image->path_ = RealPath(path);
  if (image->path_.empty()) image->path_ = path;
  std::string why;
  if (!ElfReader(elf, image.get(), symbols).Read(&why)) {
    SetError(error, "`" + path + "` is not a valid ELF file: " + why);
    return nullptr;
  }
  return image;
}

void ElfImage::Index() {
  std::sort(functions_.begin(), functions_.end(), [](const ElfSymbol& a, const ElfSymbol& b) {
    return a.addr != b.addr ? a.addr < b.addr : a.name < b.name;
  });
  // .symtab and .dynsym list the same functions: keep one, exported if either says so.
  std::vector<ElfSymbol> unique;
  unique.reserve(functions_.size());
  for (ElfSymbol& f : functions_) {
    if (!unique.empty() && unique.back().addr == f.addr && unique.back().name == f.name) {
      unique.back().exported |= f.exported;
      unique.back().size = std::max(unique.back().size, f.size);
      continue;
    }
    unique.push_back(std::move(f));
  }
  functions_ = std::move(unique);
  max_end_.clear();
  uint64_t max_end = 0;
  for (const ElfSymbol& f : functions_) {
    uint64_t end = f.addr + f.size < f.addr ? UINT64_MAX : f.addr + f.size;
    max_end = std::max(max_end, end);
    max_end_.push_back(max_end);
  }
  std::stable_sort(objects_.begin(), objects_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

const ElfSymbol* ElfImage::FunctionAt(uint64_t addr) const {
  auto it = std::upper_bound(functions_.begin(), functions_.end(), addr,
                             [](uint64_t a, const ElfSymbol& f) { return a < f.addr; });
  const ElfSymbol* best = nullptr;
  // Walk back from the last symbol starting at or before addr; max_end_ says when no
  // earlier symbol can reach addr any more.
  for (size_t i = it - functions_.begin(); i > 0;) {
    --i;
    if (max_end_[i] <= addr) break;
    const ElfSymbol& f = functions_[i];
    if (best && f.addr != best->addr) break;
    if (addr - f.addr < f.size) best = &f;
  }
  return best;
}

std::optional<uint64_t> ElfImage::SymbolAddress(std::string_view name) const {
  auto it = std::lower_bound(objects_.begin(), objects_.end(), name,
                             [](const auto& o, std::string_view n) { return o.first < n; });
  if (it != objects_.end() && it->first == name) return it->second;
  for (const ElfSymbol& f : functions_)
    if (f.name == name) return f.addr;
  return std::nullopt;
}

std::optional<uint64_t> ElfImage::FileOffset(uint64_t vaddr) const {
  for (const Segment& s : segments_)
    if (vaddr >= s.vaddr && vaddr - s.vaddr < s.filesz) return vaddr - s.vaddr + s.offset;
  return std::nullopt;
}

// ----- Finding files -----

std::string FindProgram(std::string_view name) {
  if (name.empty()) return "";
  std::error_code ec;
  if (name.find('/') != std::string_view::npos) {
    std::string path = fs::absolute(fs::path(name), ec).lexically_normal().string();
    return !ec && IsRegularFile(path) ? path : "";
  }
  const char* env = getenv("PATH");
  for (const std::string& dir :
       SplitFields(env ? env : "/usr/local/bin:/usr/bin:/bin", ':', true)) {
    std::string candidate = Join(dir.empty() ? "." : dir, name);
    if (!IsRegularFile(candidate) || access(candidate.c_str(), X_OK) != 0) continue;
    std::string path = fs::absolute(candidate, ec).lexically_normal().string();
    if (!ec) return path;
  }
  // Found nowhere on $PATH: stap then takes the name as it is, relative to the current
  // directory, so process("a.out") finds ./a.out.
  std::string here = fs::absolute(fs::path(name), ec).lexically_normal().string();
  return !ec && IsRegularFile(here) ? here : "";
}

bool HasGlobChars(std::string_view path) {
  return path.find_first_of("*?[") != std::string_view::npos;
}

std::vector<std::string> GlobPrograms(std::string_view pattern) {
  std::set<std::string> found;  // sorted, and symlinks to one file counted once (as stap)
  glob_t g;
  if (glob(std::string(pattern).c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      if (!IsRegularFile(g.gl_pathv[i])) continue;
      char real[PATH_MAX];
      if (realpath(g.gl_pathv[i], real)) found.insert(real);
    }
  }
  globfree(&g);
  return {found.begin(), found.end()};
}

namespace {

// The CRC-32 (ISO 3309, as zlib's crc32) that .gnu_debuglink records.
std::optional<uint32_t> FileCrc32(const std::string& path) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  FdCloser closer{fd};
  uint32_t crc = 0xffffffffu;
  std::vector<unsigned char> buf(1 << 16);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return crc ^ 0xffffffffu;
    for (ssize_t i = 0; i < n; ++i) crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
  }
}

}  // namespace

std::string FindDebugFile(const ElfImage& image, std::vector<std::string>* tried,
                          std::string_view debug_root) {
  if (image.has_debug_info()) return image.path();
  std::string root(debug_root);
  const std::string& id = image.build_id();
  if (id.size() > 2) {
    std::string candidate =
        Join(root, ".build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug");
    if (tried) tried->push_back(candidate);
    if (IsRegularFile(candidate)) return candidate;
  }
  const std::string& link = image.debuglink();
  if (link.empty()) return "";
  std::string dir = Parent(image.path());
  for (const std::string& candidate :
       {Join(dir, link), Join(dir, ".debug/" + link), Join(Join(root, dir), link)}) {
    if (candidate == image.path()) continue;  // a debuglink naming the stripped file itself
    if (tried) tried->push_back(candidate);
    if (!IsRegularFile(candidate)) continue;
    if (FileCrc32(candidate) == image.debuglink_crc()) return candidate;
  }
  return "";
}

namespace {

// /etc/ld.so.conf and what it includes: the directories ld.so.cache is built from.
void ReadLdConf(const std::string& file, int depth, std::vector<std::string>* dirs) {
  std::ifstream in(file);
  std::string line;
  while (depth < 8 && std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::replace(line.begin(), line.end(), '\t', ' ');
    std::vector<std::string> words = SplitFields(line, ' ', false);
    if (words.empty() || words[0] == "hwcap") continue;
    if (words[0] != "include") {
      dirs->push_back(words[0]);
      continue;
    }
    for (size_t i = 1; i < words.size(); ++i) {
      std::string pattern = words[i][0] == '/' ? words[i] : Join(Parent(file), words[i]);
      glob_t g;
      if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
        for (size_t k = 0; k < g.gl_pathc; ++k) ReadLdConf(g.gl_pathv[k], depth + 1, dirs);
      globfree(&g);
    }
  }
}

// Resolves DT_NEEDED names the way ld.so does, closely enough for naming libraries: the
// DT_RPATH of the needing object and of the executable, LD_LIBRARY_PATH, DT_RUNPATH, the
// ld.so.conf directories, then the default ones. A file of another class or machine is
// skipped, as ld.so skips it.
class LibraryResolver {
 public:
  explicit LibraryResolver(const ElfImage& exe) : exe_(exe) {
    if (const char* env = getenv("LD_LIBRARY_PATH"))
      ld_library_path_ = SplitFields(env, ':', false);
    std::vector<std::string> dirs;
    ReadLdConf("/etc/ld.so.conf", 0, &dirs);
    glob_t g;
    if (glob("/etc/ld.so.conf.d/*.conf", 0, nullptr, &g) == 0)
      for (size_t k = 0; k < g.gl_pathc; ++k) ReadLdConf(g.gl_pathv[k], 1, &dirs);
    globfree(&g);
    std::string triplet = exe.machine() == EM_X86_64    ? "x86_64-linux-gnu"
                          : exe.machine() == EM_AARCH64 ? "aarch64-linux-gnu"
                          : exe.machine() == EM_386     ? "i386-linux-gnu"
                                                        : "";
    if (!triplet.empty()) dirs.insert(dirs.end(), {"/lib/" + triplet, "/usr/lib/" + triplet});
    if (exe.is_64()) dirs.insert(dirs.end(), {"/lib64", "/usr/lib64"});
    dirs.insert(dirs.end(), {"/usr/lib", "/lib"});
    std::unordered_set<std::string> seen;
    for (std::string& d : dirs)
      if (seen.insert(d).second) system_dirs_.push_back(std::move(d));
  }

  std::unique_ptr<ElfImage> Resolve(const std::string& name, const ElfImage& from) const {
    if (name.find('/') != std::string::npos) return Try(name);
    std::vector<std::string> dirs;
    if (from.runpath().empty()) {
      AddDirs(from, from.rpath(), &dirs);
      if (&from != &exe_ && exe_.runpath().empty()) AddDirs(exe_, exe_.rpath(), &dirs);
    }
    dirs.insert(dirs.end(), ld_library_path_.begin(), ld_library_path_.end());
    AddDirs(from, from.runpath(), &dirs);
    dirs.insert(dirs.end(), system_dirs_.begin(), system_dirs_.end());
    for (const std::string& dir : dirs)
      if (std::unique_ptr<ElfImage> lib = Try(Join(dir, name))) return lib;
    return nullptr;
  }

 private:
  // $ORIGIN is the directory of the object whose path list it is in; entries with other
  // dynamic string tokens ($LIB, $PLATFORM) are left out.
  static void AddDirs(const ElfImage& owner, const std::vector<std::string>& list,
                      std::vector<std::string>* dirs) {
    for (std::string dir : list) {
      for (std::string_view token : {"${ORIGIN}", "$ORIGIN"})
        for (size_t at; (at = dir.find(token)) != std::string::npos;)
          dir.replace(at, token.size(), Parent(owner.path()));
      if (dir.find('$') == std::string::npos) dirs->push_back(std::move(dir));
    }
  }

  std::unique_ptr<ElfImage> Try(const std::string& path) const {
    if (!IsRegularFile(path)) return nullptr;
    std::unique_ptr<ElfImage> lib = ElfReader::OpenDependency(path);
    if (!lib || lib->machine() != exe_.machine() || lib->is_64() != exe_.is_64()) return nullptr;
    return lib;
  }

  const ElfImage& exe_;
  std::vector<std::string> ld_library_path_, system_dirs_;
};

std::vector<std::string> MatchPaths(const std::string& pattern) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& path) {
    std::string real = RealPath(path);
    if (!real.empty() && IsRegularFile(real) &&
        std::find(out.begin(), out.end(), real) == out.end())
      out.push_back(real);
  };
  if (pattern.find_first_of("*?[") == std::string::npos) {
    add(pattern);
    return out;
  }
  glob_t g;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t k = 0; k < g.gl_pathc; ++k) add(g.gl_pathv[k]);
  globfree(&g);
  return out;
}

}  // namespace

std::vector<std::string> FindLibraries(const ElfImage& exe, std::string_view pattern) {
  std::string want(pattern);
  if (want.empty()) return {};
  if (want.find('/') != std::string::npos) return MatchPaths(want);
  LibraryResolver resolver(exe);
  std::vector<std::string> out;
  std::vector<std::unique_ptr<ElfImage>> loaded;
  // Like ld.so, a name already loaded is not looked up again by a later object.
  std::unordered_set<std::string> names, paths{exe.path()};
  std::deque<const ElfImage*> queue{&exe};
  while (!queue.empty()) {
    const ElfImage* object = queue.front();
    queue.pop_front();
    for (const std::string& name : object->needed()) {
      if (!names.insert(name).second) continue;
      std::unique_ptr<ElfImage> lib = resolver.Resolve(name, *object);
      if (!lib || !paths.insert(lib->path()).second) continue;
      std::string file = fs::path(lib->path()).filename().string();
      if (fnmatch(want.c_str(), name.c_str(), 0) == 0 ||
          fnmatch(want.c_str(), file.c_str(), 0) == 0)
        out.push_back(lib->path());
      queue.push_back(lib.get());
      loaded.push_back(std::move(lib));
    }
  }
  return out;
}

}  // namespace btap::sema
