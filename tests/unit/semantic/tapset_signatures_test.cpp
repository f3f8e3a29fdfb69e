// btap's tapset library: every core function has stap's name and signature, every
// public function is documented, and the whole library elaborates in one script.
#include <gtest/gtest.h>

#include <regex>

#include "semantic/embedded_tapsets.h"
#include "tests/unit/semantic/elab_helpers.h"

namespace btap {
namespace {
using testing::Elaborate;

struct Signature {
  const char* name;
  const char* signature;  // "return (param types)"
};

// The signatures SystemTap's own tapsets give these functions.
constexpr Signature kCore[] = {
    {"execname", "string ()"},
    {"pid", "long ()"},
    {"tid", "long ()"},
    {"ppid", "long ()"},
    {"uid", "long ()"},
    {"gid", "long ()"},
    {"euid", "long ()"},
    {"cpu", "long ()"},
    {"pp", "string ()"},
    {"ppfunc", "string ()"},
    {"probefunc", "string ()"},
    {"target", "long ()"},
    {"is_return", "long ()"},
    {"gettimeofday_s", "long ()"},
    {"gettimeofday_ms", "long ()"},
    {"gettimeofday_us", "long ()"},
    {"gettimeofday_ns", "long ()"},
    {"ktime_get_ns", "long ()"},
    {"local_clock_ns", "long ()"},
    {"jiffies", "long ()"},
    {"strlen", "long (string)"},
    {"substr", "string (string, long, long)"},
    {"isinstr", "long (string, string)"},
    {"strpos", "long (string, string)"},
    {"str_replace", "string (string, string, string)"},
    {"tokenize", "string (string, string)"},
    {"text_str", "string (string)"},
    {"string_quoted", "string (string)"},
    {"stringat", "long (string, long)"},
    {"strtol", "long (string, long)"},
    {"kernel_string", "string (long)"},
    {"kernel_string_n", "string (long, long)"},
    {"kernel_string_quoted", "string (long)"},
    {"user_string", "string (long)"},
    {"user_string_n", "string (long, long)"},
    {"user_string_quoted", "string (long)"},
    {"user_string_n_quoted", "string (long, long)"},
    {"user_string_warn", "string (long)"},
    {"kernel_long", "long (long)"},
    {"kernel_int", "long (long)"},
    {"kernel_short", "long (long)"},
    {"kernel_char", "long (long)"},
    {"user_long", "long (long)"},
    {"user_int", "long (long)"},
    {"user_short", "long (long)"},
    {"user_char", "long (long)"},
    {"exit", "unknown ()"},
    {"error", "unknown (string)"},
    {"warn", "unknown (string)"},
    {"abort", "unknown ()"},
    {"log", "unknown (string)"},
    {"thread_indent", "string (long)"},
    {"thread_indent_depth", "long (long)"},
    {"indent", "string (long)"},
    {"indent_depth", "long (long)"},
    {"errno_str", "string (long)"},
    {"return_str", "string (long, long)"},
    {"ctime", "string (long)"},
};

std::string Arguments(std::string_view signature) {
  std::string args;
  size_t open = signature.find('(');
  std::string_view params = signature.substr(open + 1, signature.size() - open - 2);
  size_t pos = 0;
  while (pos < params.size()) {
    size_t end = params.find(", ", pos);
    if (end == std::string_view::npos) end = params.size();
    args += std::string(args.empty() ? "" : ", ") +
            (params.substr(pos, end - pos) == "string" ? "\"s\"" : "1");
    pos = end + 2;
  }
  return args;
}

std::string SignatureOf(const sema::Function& f) {
  std::string s = std::string(sema::TypeName(f.ret)) + " (";
  for (size_t i = 0; i < f.params.size(); ++i)
    s += std::string(i ? ", " : "") + std::string(sema::TypeName(f.params[i]->type));
  return s + ")";
}

class CoreFunction : public ::testing::TestWithParam<Signature> {};

TEST_P(CoreFunction, HasStapSignature) {
  const Signature& want = GetParam();
  std::string call = std::string(want.name) + "(" + Arguments(want.signature) + ")";
  auto r = Elaborate("probe begin { " + call + " }");
  ASSERT_FALSE(r->diags.has_errors()) << r->Errors();
  const sema::Function* f = r->FindFunction(want.name);
  ASSERT_NE(f, nullptr) << want.name;
  EXPECT_EQ(SignatureOf(*f), want.signature);
}

INSTANTIATE_TEST_SUITE_P(Tapsets, CoreFunction, ::testing::ValuesIn(kCore),
                         [](const auto& info) { return std::string(info.param.name); });

// Every public function of the library is preceded by a `sfunction name - summary`
// comment, from which docs/tapsets.md is generated.
TEST(TapsetLibrary, EveryPublicFunctionIsDocumented) {
  std::regex function(R"((^|\n)function\s+([A-Za-z_][A-Za-z0-9_]*))");
  size_t count = 0;
  for (const sema::EmbeddedTapset& t : sema::EmbeddedTapsets()) {
    std::string text(t.text, t.size);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), function);
         it != std::sregex_iterator(); ++it) {
      std::string name = (*it)[2];
      size_t at = static_cast<size_t>(it->position(0));
      size_t doc = text.rfind("/**", at);
      ASSERT_NE(doc, std::string::npos) << t.path << ": " << name;
      std::string comment = text.substr(doc, at - doc);
      EXPECT_NE(comment.find("sfunction " + name + " - "), std::string::npos)
          << t.path << ": " << name << " has no doc comment";
      ++count;
    }
  }
  EXPECT_GE(count, std::size(kCore));
}

// One script calling every public function elaborates without errors or warnings.
TEST(TapsetLibrary, WholeLibraryElaborates) {
  auto lib = Elaborate("probe never { }");
  ASSERT_FALSE(lib->diags.has_errors()) << lib->Errors();
  std::string body;
  size_t functions = 0;
  for (sema::TapsetFile& file : lib->library->files()) {
    for (ast::Decl* d : file.ast->decls) {
      auto* f = ast::As<ast::Function>(d);
      if (!f || f->is_private) continue;
      std::string args;
      for (const ast::Param& p : f->params) {
        ASSERT_NE(p.type, ast::TypeAnn::None) << f->name << " parameter " << p.name;
        args += std::string(args.empty() ? "" : ", ") +
                (p.type == ast::TypeAnn::String ? "\"s\"" : "1");
      }
      body += "  " + std::string(f->name) + "(" + args + ")\n";
      ++functions;
    }
  }
  auto r = Elaborate("probe never {\n" + body + "}\n");
  ASSERT_FALSE(r->diags.has_errors()) << r->Errors();
  EXPECT_EQ(r->diags.warning_count(), 0u) << r->Errors();
  EXPECT_GE(functions, std::size(kCore));
}

}  // namespace
}  // namespace btap
