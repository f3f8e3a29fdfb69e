// Lexer: token kinds, spellings, escapes, and located errors for malformed input.
#include "frontend/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace btap::frontend {
namespace {

struct Lexed {
  std::vector<Token> tokens;
  std::vector<std::string> errors;
};

Lexed Lex(std::string_view text, SourceManager& sm, Arena& arena) {
  DiagnosticSink diags;
  FileId f = sm.AddFile("t.stp", std::string(text));
  Lexer lexer(sm, f, arena, diags);
  Lexed out;
  for (Token t = lexer.Next(); t.kind != Tok::Eof; t = lexer.Next()) out.tokens.push_back(t);
  for (const Diagnostic& d : diags.diagnostics()) {
    LineColumn lc = sm.file(f).Locate(d.range.begin);
    out.errors.push_back(std::to_string(lc.line) + ":" + std::to_string(lc.column) + " " +
                         d.message);
  }
  return out;
}

std::vector<Tok> Kinds(const Lexed& l) {
  std::vector<Tok> k;
  for (const Token& t : l.tokens) k.push_back(t.kind);
  return k;
}

TEST(Lexer, KeywordsIdentifiersAndTargets) {
  SourceManager sm;
  Arena arena;
  Lexed l = Lex("probe foo $x $$parms $x$ $$ @cast @1 $# string long next", sm, arena);
  EXPECT_EQ(Kinds(l), (std::vector<Tok>{Tok::Probe, Tok::Identifier, Tok::Target, Tok::Target,
                                        Tok::Target, Tok::Dollars, Tok::AtWord, Tok::ArgRef,
                                        Tok::ArgRef, Tok::String_, Tok::Long, Tok::Next}));
  EXPECT_EQ(l.tokens[3].text, "$$parms");
  EXPECT_EQ(l.tokens[4].text, "$x$");
  EXPECT_EQ(l.tokens[6].text, "cast");  // at-words drop the '@'
  EXPECT_TRUE(l.errors.empty());
}

TEST(Lexer, OperatorsLongestFirst) {
  SourceManager sm;
  Arena arena;
  Lexed l = Lex("<<< >>> <<= >>= << < -> -- - %( %? %: %) .= =~ !~", sm, arena);
  EXPECT_EQ(Kinds(l), (std::vector<Tok>{Tok::StatAccum, Tok::UShr, Tok::ShlAssign, Tok::ShrAssign,
                                        Tok::Shl, Tok::Less, Tok::Arrow, Tok::MinusMinus,
                                        Tok::Minus, Tok::PPIf, Tok::PPThen, Tok::PPElse, Tok::PPEnd,
                                        Tok::ConcatAssign, Tok::Match, Tok::NotMatch}));
}

TEST(Lexer, NumbersKeepTheirSpelling) {
  SourceManager sm;
  Arena arena;
  Lexed l = Lex("0 017 0x1F 12abc", sm, arena);
  ASSERT_EQ(l.tokens.size(), 4u);
  EXPECT_EQ(l.tokens[2].text, "0x1F");
  EXPECT_EQ(l.tokens[3].text, "12abc");  // validated by the parser, as in stap
}

TEST(Lexer, StringEscapesAreDecoded) {
  SourceManager sm;
  Arena arena;
  Lexed l = Lex(R"("a\tb\n\\ \"q\" \101\x42 \z")", sm, arena);
  ASSERT_EQ(l.tokens.size(), 1u);
  EXPECT_EQ(l.tokens[0].text, "a\tb\n\\ \"q\" AB z");
}

TEST(Lexer, CommentsAndSpacing) {
  SourceManager sm;
  Arena arena;
  Lexed l = Lex("#!/usr/bin/stap\na // c++\n/* c\n */b# shell\nc*d", sm, arena);
  ASSERT_EQ(l.tokens.size(), 5u);
  EXPECT_TRUE(l.tokens[0].space_before);
  EXPECT_TRUE(l.tokens[1].space_before);   // after a comment
  EXPECT_FALSE(l.tokens[3].space_before);  // `*` right after `c`
  EXPECT_FALSE(l.tokens[4].space_before);
}

TEST(Lexer, EmbeddedCode) {
  SourceManager sm;
  Arena arena;
  Lexed l = Lex("%{ int x = 1; /* } */ %} x", sm, arena);
  ASSERT_EQ(l.tokens.size(), 2u);
  EXPECT_EQ(l.tokens[0].kind, Tok::Embedded);
  EXPECT_EQ(l.tokens[0].text, " int x = 1; /* } */ ");
}

TEST(Lexer, LocatedErrors) {
  SourceManager sm;
  Arena arena;
  EXPECT_EQ(
      Lex("x = \"abc\ny", sm, arena).errors,
      std::vector<std::string>{"1:5 unterminated string literal; strings end on the same line"});
  EXPECT_EQ(Lex("a /* never closed", sm, arena).errors,
            std::vector<std::string>{"1:3 unterminated `/*` comment"});
  EXPECT_EQ(Lex("\n  %{ int x;", sm, arena).errors,
            std::vector<std::string>{"2:3 unterminated embedded code; expected `%}`"});
  EXPECT_EQ(Lex("a ` b", sm, arena).errors,
            std::vector<std::string>{"1:3 stray character ``` in program"});
  EXPECT_EQ(Lex(std::string("a \x01 b", 5), sm, arena).errors,
            std::vector<std::string>{"1:3 stray byte `\\x01` in program"});
  EXPECT_EQ(Lex(std::string("a \0 b", 5), sm, arena).errors,
            std::vector<std::string>{"1:3 stray byte `\\x00` in program"});
}

TEST(Lexer, TypoInEmbeddedCloseWarns) {
  SourceManager sm;
  Arena arena;
  Lexed l = Lex("%{ x }% %}", sm, arena);
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_NE(l.errors[0].find("did you mean `%}`"), std::string::npos);
}

TEST(Lexer, DecodeEscapesEdgeCases) {
  EXPECT_EQ(DecodeEscapes("\\x"), "x");
  EXPECT_EQ(DecodeEscapes("\\0"), std::string(1, '\0'));
  EXPECT_EQ(DecodeEscapes("\\1234"), "S4");  // at most three octal digits
  EXPECT_EQ(DecodeEscapes("\\x414"), "A4");  // at most two hex digits
  EXPECT_EQ(DecodeEscapes("end\\"), "end\\");
}

}  // namespace
}  // namespace btap::frontend
