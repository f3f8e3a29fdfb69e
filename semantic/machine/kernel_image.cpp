// Finding the kernel `-r` names and the BTF in its image (see kernel_image.h).
#include "semantic/machine/kernel_image.h"

#include <bpf/btf.h>
#include <elf.h>
#include <fcntl.h>
#include <lz4.h>
#include <lzma.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/build_id.h"
#include "common/private_cache.h"
#include "semantic/machine/machine.h"

namespace btap::sema {

namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string ReadAll(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return text.str();
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}

std::string RunningRelease() {
  struct utsname u;
  return uname(&u) == 0 ? u.release : "";
}

template <typename T>
bool Load(std::string_view bytes, size_t at, T* out) {
  if (at > bytes.size() || bytes.size() - at < sizeof(T)) return false;
  std::memcpy(out, bytes.data() + at, sizeof(T));
  return true;
}

// Each decompressor returns false on damage; `limit` bounds the output (a bzImage's
// kernel is far below it), so a hostile payload cannot exhaust memory.
constexpr size_t kMaxImage = size_t{1} << 30;

bool Gunzip(std::string_view in, std::string* out) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return false;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  char buf[1 << 16];
  while (rc == Z_OK && out->size() < kMaxImage) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out->append(buf, sizeof buf - z.avail_out);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END;
}

bool Unzstd(std::string_view in, std::string* out) {
  ZSTD_DStream* d = ZSTD_createDStream();
  if (!d) return false;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::string buf(1 << 17, '\0');
  size_t rc = 1;
  while (rc != 0 && input.pos < input.size && out->size() < kMaxImage) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(d, &output, &input);
    if (ZSTD_isError(rc)) break;
    out->append(buf.data(), output.pos);
  }
  ZSTD_freeDStream(d);
  return rc == 0;
}

bool Unxz(std::string_view in, std::string* out) {
  lzma_stream s = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&s, UINT64_MAX, 0) != LZMA_OK) return false;
  s.next_in = reinterpret_cast<const uint8_t*>(in.data());
  s.avail_in = in.size();
  lzma_ret rc = LZMA_OK;
  uint8_t buf[1 << 16];
  while (rc == LZMA_OK && out->size() < kMaxImage) {
    s.next_out = buf;
    s.avail_out = sizeof buf;
    rc = lzma_code(&s, s.avail_in ? LZMA_RUN : LZMA_FINISH);
    out->append(reinterpret_cast<char*>(buf), sizeof buf - s.avail_out);
  }
  lzma_end(&s);
  return rc == LZMA_STREAM_END;
}

// The kernel's lz4 is the legacy format: a magic, then blocks of a 32-bit compressed
// size and at most 8 MiB of output each; the build appends the total size, the last four
// bytes, which end the loop. A block longer than what is left is damage.
bool Unlz4(std::string_view in, std::string* out) {
  constexpr uint32_t kLegacyMagic = 0x184C2102, kBlock = 8u << 20;
  size_t at = 0;
  std::string block(kBlock, '\0');
  while (out->size() < kMaxImage) {
    uint32_t size;
    if (!Load(in, at, &size)) break;
    at += 4;
    if (size == kLegacyMagic) continue;
    if (size == 0 || at == in.size()) break;  // the total the build appends
    if (size > in.size() - at) return false;  // a block cut short
    int n = LZ4_decompress_safe(in.data() + at, block.data(), static_cast<int>(size),
                                static_cast<int>(block.size()));
    if (n < 0) return false;
    out->append(block.data(), static_cast<size_t>(n));
    at += size;
  }
  return !out->empty();
}

// A bzImage's compressed kernel (an ELF), decompressed; "" with `error` otherwise.
std::string BzImageKernel(std::string_view bytes, const std::string& image, std::string* error) {
  uint8_t setup_sects = 0;
  uint32_t payload_offset = 0, payload_length = 0;
  Load(bytes, 0x1f1, &setup_sects);
  if (!Load(bytes, 0x248, &payload_offset) || !Load(bytes, 0x24c, &payload_length)) {
    *error = "`" + image + "` is too short for a bzImage";
    return "";
  }
  size_t start = (size_t{setup_sects ? setup_sects : 4u} + 1) * 512 + payload_offset;
  if (start > bytes.size() || bytes.size() - start < payload_length || payload_length < 4) {
    *error = "`" + image + "`: its bzImage header points outside the file";
    return "";
  }
  std::string_view payload = bytes.substr(start, payload_length);
  std::string kernel;
  auto magic = [&](std::string_view m) { return payload.substr(0, m.size()) == m; };
  bool ok = false;
  const char* format = nullptr;
  if (magic("\x1f\x8b")) {
    format = "gzip";
    ok = Gunzip(payload, &kernel);
  } else if (magic("\x28\xb5\x2f\xfd")) {
    format = "zstd";
    ok = Unzstd(payload, &kernel);
  } else if (magic(std::string_view("\xfd"
                                    "7zXZ\0",
                                    6))) {
    format = "xz";
    ok = Unxz(payload, &kernel);
  } else if (magic("\x02\x21\x4c\x18")) {
    format = "lz4";
    ok = Unlz4(payload, &kernel);
  } else {
    *error = "`" + image +
             "` is compressed in a format btap cannot read (it reads gzip, zstd, xz and lz4); "
             "give -r a directory holding the uncompressed vmlinux";
    return "";
  }
  if (!ok) {
    *error = "`" + image + "`: its " + format + " kernel is damaged";
    return "";
  }
  return kernel;
}

// The bytes of ELF section `name` ("" when absent); every offset is checked.
std::string_view ElfSection(std::string_view elf, const char* name) {
  Elf64_Ehdr eh;
  if (!Load(elf, 0, &eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr))
    return {};
  auto header = [&](size_t i, Elf64_Shdr* sh) {
    return i < eh.e_shnum && Load(elf, eh.e_shoff + i * sizeof(Elf64_Shdr), sh);
  };
  Elf64_Shdr names;
  if (!header(eh.e_shstrndx, &names) || names.sh_offset > elf.size() ||
      elf.size() - names.sh_offset < names.sh_size)
    return {};
  std::string_view strings = elf.substr(names.sh_offset, names.sh_size);
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!header(i, &sh) || sh.sh_name >= strings.size()) continue;
    std::string_view n = strings.substr(sh.sh_name);
    if (n.substr(0, n.find('\0')) != name || sh.sh_type == SHT_NOBITS) continue;
    if (sh.sh_offset > elf.size() || elf.size() - sh.sh_offset < sh.sh_size) return {};
    return elf.substr(sh.sh_offset, sh.sh_size);
  }
  return {};
}

// The image's BTF as a file libbpf can parse: the image itself when it is an ELF with
// `.BTF`, else the section extracted once into the cache (named by the image's release,
// size and time, so a new image is read again).
bool BtfFile(const std::string& image, const std::string& release, std::string* path,
             std::string* error) {
  struct stat st;
  if (stat(image.c_str(), &st) != 0) {
    *error = "cannot read `" + image + "`: " + std::strerror(errno);
    return false;
  }
  std::ifstream in(image, std::ios::binary);
  char magic[SELFMAG] = {};
  in.read(magic, SELFMAG);
  if (std::memcmp(magic, ELFMAG, SELFMAG) == 0) {  // libbpf reads `.BTF` from an ELF
    // Only the section is read (a vmlinux with DWARF is most of a gigabyte).
    struct btf* btf = btf__parse_elf(image.c_str(), nullptr);
    if (!btf) {
      *error = errno == ENOENT
                   ? "`" + image +
                         "` carries no BTF (a kernel built without CONFIG_DEBUG_INFO_BTF): btap "
                         "needs it to compile for that kernel"
                   : "cannot read the BTF of `" + image + "`: " + std::strerror(errno);
      return false;
    }
    btf__free(btf);
    *path = image;
    return true;
  }
  std::string dir = UserCacheDir("btf");
  if (dir.empty()) {
    *error = "no folder for the BTF of `" + image + "` (neither $XDG_CACHE_HOME nor $HOME is set)";
    return false;
  }
  std::string cached = dir + "/" + (release.empty() ? "kernel" : release) + "-" +
                       std::to_string(st.st_size) + "-" + std::to_string(st.st_mtime) + ".btf";
  // The folder is checked before anything in it is trusted as the kernel's types.
  if (!MakePrivateDirs(dir)) {
    *error = "cannot use `" + dir + "` for the kernel's BTF: " + std::strerror(errno);
    return false;
  }
  if (Exists(cached)) {
    *path = cached;
    return true;
  }
  std::string btf = ReadImageBtf(image, error);
  if (btf.empty()) return false;
  if (!WriteWhole(cached, btf)) {
    *error = "cannot write `" + cached + "`: " + std::strerror(errno);
    return false;
  }
  *path = cached;
  return true;
}

}  // namespace

std::string ReadImageBtf(const std::string& image, std::string* error) {
  bool ok = false;
  std::string bytes = ReadAll(image, &ok);
  if (!ok || bytes.empty()) {
    *error = "cannot read `" + image + "`: " + std::strerror(errno ? errno : EIO);
    return "";
  }
  std::string kernel;
  std::string_view elf = bytes;
  if (bytes.compare(0, SELFMAG, ELFMAG) != 0) {
    if (bytes.size() < 0x206 || bytes.compare(0x202, 4, "HdrS") != 0) {
      *error = "`" + image + "` is neither a vmlinux (ELF) nor a bzImage";
      return "";
    }
    kernel = BzImageKernel(bytes, image, error);
    if (kernel.empty()) return "";
    elf = kernel;
  }
  std::string_view btf = ElfSection(elf, ".BTF");
  if (btf.empty()) {
    *error = "`" + image +
             "` carries no BTF (a kernel built without CONFIG_DEBUG_INFO_BTF): btap needs it "
             "to compile for that kernel";
    return "";
  }
  return std::string(btf);
}

std::string ImageBuildId(const std::string& image, std::string* error) {
  std::ifstream in(image, std::ios::binary);
  char magic[SELFMAG] = {};
  in.read(magic, SELFMAG);
  std::string id;
  if (std::memcmp(magic, ELFMAG, SELFMAG) == 0) {
    id = FileBuildId(image);  // only its notes are read
  } else {
    bool ok = false;
    std::string bytes = ReadAll(image, &ok);
    if (!ok || bytes.size() < 0x206 || bytes.compare(0x202, 4, "HdrS") != 0) {
      *error = "`" + image + "` is neither a vmlinux (ELF) nor a bzImage";
      return "";
    }
    std::string kernel = BzImageKernel(bytes, image, error);
    if (kernel.empty()) return "";
    std::string_view notes = ElfSection(kernel, ".notes");
    id = BuildIdInNotes(notes.data(), notes.size());
  }
  if (id.empty()) *error = "`" + image + "` has no build id";
  return id;
}

std::string BzImageRelease(const std::string& image) {
  std::ifstream in(image, std::ios::binary);
  std::string head(0x10000, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  uint16_t version_at = 0;
  if (head.size() < 0x210 || head.compare(0x202, 4, "HdrS") != 0 ||
      !Load(std::string_view(head), 0x20e, &version_at) || !version_at)
    return "";
  size_t at = size_t{version_at} + 0x200;
  if (at >= head.size()) return "";
  size_t end = head.find_first_of(std::string_view(" \0", 2), at);
  return head.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::vector<std::string> KernelImageCandidates(const std::string& release) {
  return {"/usr/lib/debug/boot/vmlinux-" + release,
          "/usr/lib/debug/lib/modules/" + release + "/vmlinux",
          "/lib/modules/" + release + "/build/vmlinux", "/boot/vmlinux-" + release,
          "/boot/vmlinuz-" + release};
}

bool FindTargetKernel(const std::string& r, TargetKernel* out, std::string* error) {
  *out = TargetKernel{};
  std::string running = RunningRelease();
  out->release = running;
  if (r.empty()) return true;
  // As stap: a value with a slash is a directory, anything else a release.
  if (r.find('/') == std::string::npos) {
    out->release = r;
    if (r == running) return true;
    out->running = false;
    out->modules_dir = "/lib/modules/" + r;
    for (const std::string& c : KernelImageCandidates(r))
      if (Exists(c)) {
        out->image = c;
        break;
      }
    if (out->image.empty()) {
      *error = "cannot find kernel " + r + ": none of ";
      for (const std::string& c : KernelImageCandidates(r))
        *error += (c == KernelImageCandidates(r).front() ? "`" : ", `") + c + "`";
      *error += " exists (give -r the directory that holds its vmlinux or vmlinuz";
      if (IsDirectory(r)) *error += "; to name the directory `" + r + "`, write `-r ./" + r + "`";
      *error += ")";
      return false;
    }
    return BtfFile(out->image, r, &out->btf_path, error);
  }
  // A directory: a kernel build tree, or an unpacked kernel package.
  std::string dir = r;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (!IsDirectory(dir)) {
    *error = "cannot find kernel directory `" + r + "`: " + std::strerror(errno);
    return false;
  }
  for (const char* name : {"/vmlinux", "/vmlinuz", "/arch/x86/boot/bzImage"})
    if (Exists(dir + name)) {
      out->image = dir + name;
      break;
    }
  std::string release = FirstLine(dir + "/include/config/kernel.release");
  if (release.empty()) release = FirstLine(dir + "/release");
  if (release.empty() && !out->image.empty()) release = BzImageRelease(out->image);
  if (out->image.empty()) {
    *error = "no kernel image in `" + dir + "`: btap looks for vmlinux, vmlinuz and " +
             "arch/x86/boot/bzImage there";
    return false;
  }
  if (release.empty()) {
    *error = "cannot tell the release of the kernel in `" + dir +
             "` (from include/config/kernel.release, a `release` file or a bzImage header)";
    return false;
  }
  out->release = release;
  out->running = release == running;
  out->dir = dir;
  for (const std::string& c : {dir + "/modules", dir + "/lib/modules/" + release})
    if (IsDirectory(c)) {
      out->modules_dir = c;
      break;
    }
  // Modules are read as split BTF over this image's: never the loaded ones' BTF, which
  // sits over the running kernel's (even of the same release).
  if (out->modules_dir.empty()) out->modules_dir = "/lib/modules/" + release;
  for (const std::string& c : {dir + "/.config", dir + "/config", dir + "/config-" + release})
    if (Exists(c)) {
      out->config_path = c;
      break;
    }
  return BtfFile(out->image, release, &out->btf_path, error);
}

const std::string& Machine::kernel_build_id(std::string* error) {
  if (!build_id_) {
    build_id_ = image_.empty() ? RunningKernelBuildId() : ImageBuildId(image_, &build_id_error_);
    if (build_id_->empty() && build_id_error_.empty())
      build_id_error_ = "the running kernel's build id cannot be read (/sys/kernel/notes)";
  }
  *error = build_id_error_;
  return *build_id_;
}

}  // namespace btap::sema
