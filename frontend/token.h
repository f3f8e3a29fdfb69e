// Tokens as the lexer produces them and the preprocessor and parser consume them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/source.h"

namespace btap::frontend {

enum class Tok : uint8_t {
#define TOKEN(name, desc) name,
#define KEYWORD(name, spelling) name,
#define PUNCT(name, spelling) name,
#define ATWORD(name, spelling)
#include "common/tokens.def"
};

enum class AtWord : uint8_t {
  None,
#define TOKEN(name, desc)
#define KEYWORD(name, spelling)
#define PUNCT(name, spelling)
#define ATWORD(name, spelling) name,
#include "common/tokens.def"
};

struct Token {
  Tok kind = Tok::Eof;
  bool space_before = true;  // whitespace or a comment precedes the token
  bool line_start = true;    // first token on its line
  uint32_t expansion = 0;    // the macro expansion it came from (0: none), see Preprocessor
  SourceRange range;
  // Identifiers, numbers, operators: the spelling. Strings: the decoded value.
  // Embedded code: the text between %{ and %}. At-words: the name without '@'.
  std::string_view text;
};

// "identifier `foo`", "`}`", "end of file": how diagnostics name a token.
std::string DescribeToken(const Token& t);
std::string_view TokenSpelling(Tok kind);
AtWord ClassifyAtWord(std::string_view name);
std::string_view AtWordSpelling(AtWord w);  // without the '@'
Tok KeywordKind(std::string_view word);     // Tok::Identifier when not a keyword

}  // namespace btap::frontend
