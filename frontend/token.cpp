// Token names and keyword / @-word classification.
#include "frontend/token.h"

#include <array>
#include <unordered_map>

namespace btap::frontend {
namespace {

constexpr std::string_view kSpellings[] = {
#define TOKEN(name, desc) desc,
#define KEYWORD(name, spelling) spelling,
#define PUNCT(name, spelling) spelling,
#define ATWORD(name, spelling)
#include "common/tokens.def"
};

constexpr bool kIsWord[] = {
#define TOKEN(name, desc) false,
#define KEYWORD(name, spelling) true,
#define PUNCT(name, spelling) true,
#define ATWORD(name, spelling)
#include "common/tokens.def"
};

}  // namespace

std::string_view TokenSpelling(Tok kind) { return kSpellings[static_cast<int>(kind)]; }

Tok KeywordKind(std::string_view word) {
  static const std::unordered_map<std::string_view, Tok> kKeywords = {
#define TOKEN(name, desc)
#define KEYWORD(name, spelling) {spelling, Tok::name},
#define PUNCT(name, spelling)
#define ATWORD(name, spelling)
#include "common/tokens.def"
  };
  // Keywords are short and lower-case; skip the hash for anything else.
  if (word.size() > 8 || word[0] < 'b' || word[0] > 'w') return Tok::Identifier;
  auto it = kKeywords.find(word);
  return it == kKeywords.end() ? Tok::Identifier : it->second;
}

AtWord ClassifyAtWord(std::string_view name) {
  static const std::unordered_map<std::string_view, AtWord> kAtWords = {
#define TOKEN(name, desc)
#define KEYWORD(name, spelling)
#define PUNCT(name, spelling)
#define ATWORD(name, spelling) {spelling, AtWord::name},
#include "common/tokens.def"
  };
  auto it = kAtWords.find(name);
  return it == kAtWords.end() ? AtWord::None : it->second;
}

std::string_view AtWordSpelling(AtWord w) {
  static constexpr std::string_view kNames[] = {
      "",
#define TOKEN(name, desc)
#define KEYWORD(name, spelling)
#define PUNCT(name, spelling)
#define ATWORD(name, spelling) spelling,
#include "common/tokens.def"
  };
  return kNames[static_cast<int>(w)];
}

std::string DescribeToken(const Token& t) {
  switch (t.kind) {
    case Tok::Eof:
      return "end of file";
    case Tok::Identifier:
      return "identifier `" + std::string(t.text) + "`";
    case Tok::Target:
      return "target variable `" + std::string(t.text) + "`";
    case Tok::Number:
      return "number `" + std::string(t.text) + "`";
    case Tok::String:
      return "string";
    case Tok::Embedded:
      return "embedded code";
    case Tok::AtWord:
      return "`@" + std::string(t.text) + "`";
    case Tok::PPName:
      return "`" + std::string(t.text) + "`";
    default:
      break;
  }
  if (kIsWord[static_cast<int>(t.kind)]) return "`" + std::string(TokenSpelling(t.kind)) + "`";
  if (!t.text.empty()) return "`" + std::string(t.text) + "`";
  return std::string(TokenSpelling(t.kind));
}

}  // namespace btap::frontend
