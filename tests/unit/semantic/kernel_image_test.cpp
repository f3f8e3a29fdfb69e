// Kernel images for `-r`: vmlinux ELFs and bzImages in each compression the kernel uses,
// built here around real BTF (this machine's), and what a damaged one says.
#include "semantic/machine/kernel_image.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "semantic/machine/kernel_functions.h"

namespace btap::sema {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void Spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// An ELF64 with one section, `name`, holding `contents`.
std::string Elf(const std::string& name, const std::string& contents) {
  std::string names = std::string("\0", 1) + name + '\0' + ".shstrtab" + '\0';
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_ehsize = sizeof eh;
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = 3;
  eh.e_shstrndx = 2;
  size_t data_at = sizeof eh, names_at = data_at + contents.size();
  eh.e_shoff = names_at + names.size();
  Elf64_Shdr sh[3]{};
  sh[1] = {1, SHT_PROGBITS, SHF_ALLOC, 0, data_at, contents.size(), 0, 0, 1, 0};
  sh[2] = {static_cast<Elf64_Word>(2 + name.size()),
           SHT_STRTAB,
           0,
           0,
           names_at,
           names.size(),
           0,
           0,
           1,
           0};
  std::string out(reinterpret_cast<const char*>(&eh), sizeof eh);
  out += contents + names;
  out.append(reinterpret_cast<const char*>(sh), sizeof sh);
  return out;
}

std::string Gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 1));
  return out;
}

std::string Xz(const std::string& in) {
  std::string out(lzma_stream_buffer_bound(in.size()), '\0');
  size_t n = 0;
  lzma_easy_buffer_encode(0, LZMA_CHECK_CRC32, nullptr, reinterpret_cast<const uint8_t*>(in.data()),
                          in.size(), reinterpret_cast<uint8_t*>(out.data()), &n, out.size());
  out.resize(n);
  return out;
}

// The legacy frame the kernel's build writes: magic, sized blocks, then the total size.
std::string Lz4(const std::string& in) {
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  std::string out = u32(0x184C2102);
  for (size_t at = 0; at < in.size(); at += 8u << 20) {
    int n = static_cast<int>(std::min<size_t>(8u << 20, in.size() - at));
    std::string block(LZ4_compressBound(n), '\0');
    int size =
        LZ4_compress_default(in.data() + at, block.data(), n, static_cast<int>(block.size()));
    out += u32(static_cast<uint32_t>(size)) + block.substr(0, static_cast<size_t>(size));
  }
  return out + u32(static_cast<uint32_t>(in.size()));
}

// A bzImage: a setup header naming the release, and `payload` where the header says.
std::string BzImage(const std::string& payload, const std::string& release) {
  std::string image(5 * 512, '\0');  // setup_sects 4, then the protected-mode part
  image[0x1f1] = 4;
  image.replace(0x202, 4, "HdrS");
  uint16_t version_at = 0x400 - 0x200;
  std::memcpy(&image[0x20e], &version_at, 2);
  std::string banner = release + " (test@btap) #1 SMP";
  image.replace(0x400, banner.size(), banner);
  uint32_t offset = 0x100, length = static_cast<uint32_t>(payload.size());
  std::memcpy(&image[0x248], &offset, 4);
  std::memcpy(&image[0x24c], &length, 4);
  image += std::string(offset, '\0') + payload;
  return image;
}

class KernelImage : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/btap-kimage-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    setenv("XDG_CACHE_HOME", (dir_ + "/cache").c_str(), 1);
  }
  void TearDown() override {
    unsetenv("XDG_CACHE_HOME");
    std::string rm = "rm -rf '" + dir_ + "'";
    EXPECT_EQ(system(rm.c_str()), 0);
  }
  std::string dir_;
};

TEST_F(KernelImage, EachCompressionGivesTheBtfBack) {
  std::string btf;
  for (int i = 0; i < 200000; ++i) btf += static_cast<char>((i * 7919) ^ (i >> 5));
  std::string elf = Elf(".BTF", btf);
  struct Format {
    const char* name;
    std::string (*compress)(const std::string&);
  };
  for (const Format& f :
       {Format{"gzip", Gzip}, Format{"zstd", Zstd}, Format{"xz", Xz}, Format{"lz4", Lz4}}) {
    std::string path = dir_ + "/vmlinuz-" + f.name;
    Spit(path, BzImage(f.compress(elf), "6.1.0-test"));
    std::string error;
    EXPECT_EQ(ReadImageBtf(path, &error), btf) << f.name << ": " << error;
    EXPECT_EQ(BzImageRelease(path), "6.1.0-test") << f.name;
  }
  std::string plain = dir_ + "/vmlinux";
  Spit(plain, elf);
  std::string error;
  EXPECT_EQ(ReadImageBtf(plain, &error), btf) << error;
}

TEST_F(KernelImage, DamageIsSaidNotFollowed) {
  std::string elf = Elf(".BTF", std::string(4096, 'b'));
  std::string gz = Gzip(elf), error;
  Spit(dir_ + "/cut", BzImage(gz.substr(0, gz.size() / 2), "6.1.0-test"));
  EXPECT_EQ(ReadImageBtf(dir_ + "/cut", &error), "");
  EXPECT_NE(error.find("its gzip kernel is damaged"), std::string::npos) << error;

  std::string lz4 = Lz4(elf);
  Spit(dir_ + "/cutlz4", BzImage(lz4.substr(0, lz4.size() - 40), "6.1.0-test"));
  EXPECT_EQ(ReadImageBtf(dir_ + "/cutlz4", &error), "");
  EXPECT_NE(error.find("its lz4 kernel is damaged"), std::string::npos) << error;

  Spit(dir_ + "/bz2", BzImage("BZh91AY&SY" + std::string(64, 'x'), "6.1.0-test"));
  EXPECT_EQ(ReadImageBtf(dir_ + "/bz2", &error), "");
  EXPECT_NE(error.find("format btap cannot read"), std::string::npos) << error;

  std::string header = BzImage(gz, "6.1.0-test");
  uint32_t huge = 0x7fffffff;
  std::memcpy(&header[0x24c], &huge, 4);
  Spit(dir_ + "/outside", header);
  EXPECT_EQ(ReadImageBtf(dir_ + "/outside", &error), "");
  EXPECT_NE(error.find("points outside the file"), std::string::npos) << error;

  Spit(dir_ + "/nobtf", Elf(".text", "code"));
  EXPECT_EQ(ReadImageBtf(dir_ + "/nobtf", &error), "");
  EXPECT_NE(error.find("carries no BTF"), std::string::npos) << error;

  Spit(dir_ + "/text", "not a kernel");
  EXPECT_EQ(ReadImageBtf(dir_ + "/text", &error), "");
  EXPECT_NE(error.find("neither a vmlinux (ELF) nor a bzImage"), std::string::npos) << error;
}

// -r DIR over an unpacked kernel package holding this machine's BTF in a bzImage: the
// function index reads it without the running kernel's ftrace list.
TEST_F(KernelImage, DirectoryOfAnotherKernel) {
  std::string btf = Slurp("/sys/kernel/btf/vmlinux");
  if (btf.empty()) GTEST_SKIP() << "no kernel BTF";
  std::string kernel = dir_ + "/kernel";
  ASSERT_EQ(mkdir(kernel.c_str(), 0755), 0);
  Spit(kernel + "/vmlinuz", BzImage(Gzip(Elf(".BTF", btf)), "9.8.7-other"));
  Spit(kernel + "/config", "CONFIG_HZ=300\n");
  TargetKernel target;
  std::string error;
  ASSERT_TRUE(FindTargetKernel(kernel + "/", &target, &error)) << error;
  EXPECT_FALSE(target.running);
  EXPECT_EQ(target.release, "9.8.7-other");
  EXPECT_EQ(target.config_path, kernel + "/config");
  EXPECT_EQ(target.btf_path.rfind(dir_ + "/cache/btap/btf/9.8.7-other-", 0), 0u) << target.btf_path;
  EXPECT_EQ(Slurp(target.btf_path), btf);
  auto index = KernelFunctionIndex::Load(target.btf_path, "", target.running);
  ASSERT_EQ(index->error(), "");
  EXPECT_FALSE(index->filtered());
  EXPECT_EQ(index->Match("vfs_read").size(), 1u);

  // btap itself: conditions see that kernel's release and config, and pass 5 stops at 4
  // as stap's does, leaving the object in the current directory.
  std::string script =
      "probe begin { %( kernel_vr == \"9.8.7-other\" %? print(\"vr\") %) "
      "%( CONFIG_HZ == \"300\" %? print(\"hz\") %) }";
  std::string run =
      "cd '" + dir_ + "' && " + BTAP_BINARY + " -r '" + kernel + "' -e '" + script + "' >out 2>err";
  ASSERT_EQ(system(run.c_str()), 0) << Slurp(dir_ + "/err");
  EXPECT_EQ(Slurp(dir_ + "/err"),
            "WARNING: kernel release/architecture mismatch with host forces last-pass 4.\n");
  std::string object = Slurp(dir_ + "/out");
  ASSERT_FALSE(object.empty());
  object.pop_back();
  EXPECT_EQ(object.rfind("btap_", 0), 0u) << object;
  EXPECT_EQ(Slurp(dir_ + "/" + object).substr(0, 4), ELFMAG);
  run = "cd '" + dir_ + "' && " + BTAP_BINARY + " -p1 -r '" + kernel + "' -e '" + script + "' >out";
  ASSERT_EQ(system(run.c_str()), 0);
  EXPECT_EQ(Slurp(dir_ + "/out"), "probe begin {\n  print(\"vr\");\n  print(\"hz\");\n}\n");

  // Another kernel's exports are not known here.
  run = "cd '" + dir_ + "' && " + BTAP_BINARY + " -p2 -r '" + kernel +
        "' -e 'probe kernel.function(\"vfs_read\").exported {}' 2>err";
  EXPECT_NE(system(run.c_str()), 0);
  EXPECT_NE(Slurp(dir_ + "/err").find("`.exported` needs the symbols of the running kernel"),
            std::string::npos)
      << Slurp(dir_ + "/err");

  // A release file wins over the image's header; a second run reads the cached BTF.
  Spit(kernel + "/release", "9.8.7-named\n");
  ASSERT_TRUE(FindTargetKernel(kernel, &target, &error)) << error;
  EXPECT_EQ(target.release, "9.8.7-named");
  EXPECT_EQ(Slurp(target.btf_path), btf);
}

TEST_F(KernelImage, ReleaseWithoutImage) {
  TargetKernel target;
  std::string error;
  EXPECT_FALSE(FindTargetKernel("0.0.1-none", &target, &error));
  EXPECT_NE(
      error.find("cannot find kernel 0.0.1-none: none of `/usr/lib/debug/boot/vmlinux-0.0.1-none`"),
      std::string::npos)
      << error;
  EXPECT_FALSE(FindTargetKernel(dir_, &target, &error));
  EXPECT_NE(error.find("no kernel image in"), std::string::npos) << error;
  // As stap: without a slash it is a release, even where a folder has that name.
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(mkdir((dir_ + "/9.9.9-here").c_str(), 0755), 0);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  EXPECT_FALSE(FindTargetKernel("9.9.9-here", &target, &error));
  EXPECT_EQ(chdir(cwd), 0);
  EXPECT_NE(error.find("cannot find kernel 9.9.9-here"), std::string::npos) << error;
  EXPECT_NE(error.find("write `-r ./9.9.9-here`"), std::string::npos) << error;
  ASSERT_TRUE(FindTargetKernel("", &target, &error));
  EXPECT_TRUE(target.running);
  EXPECT_EQ(target.btf_path, "");
}

}  // namespace
}  // namespace btap::sema
