// Lexer rules (re2c). The buffer is NUL-padded by SourceFile, so the scanner needs no
// fill checks: a NUL at the limit is end of file, a NUL before it is a stray byte.
#include "frontend/lexer.h"

#include <cstdio>
#include <string>

namespace btap::frontend {

Lexer::Lexer(const SourceManager& sm, FileId file, Arena& arena, DiagnosticSink& diags)
    : file_(file), arena_(arena), diags_(diags) {
  std::string_view text = sm.file(file).text();
  base_ = reinterpret_cast<const unsigned char*>(text.data());
  cur_ = base_;
  limit_ = base_ + text.size();
}

Token Lexer::Make(Tok kind, const unsigned char* start, std::string_view text) {
  Token t;
  t.kind = kind;
  t.space_before = space_before_;
  t.line_start = line_start_;
  t.range = {file_, Offset(start), Offset(cur_)};
  t.text = text;
  space_before_ = false;
  line_start_ = false;
  return t;
}

std::string DecodeEscapes(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\' || i + 1 >= raw.size()) {
      out += c;
      continue;
    }
    c = raw[++i];
    switch (c) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': {
        int value = 0, digits = 0;
        while (digits < 2 && i + 1 < raw.size() && isxdigit(static_cast<unsigned char>(raw[i + 1]))) {
          char h = raw[++i];
          value = value * 16 + (isdigit(static_cast<unsigned char>(h)) ? h - '0' : (tolower(h) - 'a' + 10));
          ++digits;
        }
        if (digits == 0) out += 'x';
        else out += static_cast<char>(value);
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          int value = c - '0', digits = 1;
          while (digits < 3 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7') {
            value = value * 8 + (raw[++i] - '0');
            ++digits;
          }
          out += static_cast<char>(value & 0xff);
        } else {
          out += c;
        }
    }
  }
  return out;
}

Token Lexer::LexString(const unsigned char* start) {
  // cur_ is just past the opening quote. An escape takes the next byte whatever it is,
  // so a backslash before a newline continues the string, as in stap.
  const unsigned char* body = cur_;
  bool escapes = false;
  for (;;) {
    if (cur_ >= limit_ || *cur_ == '\n') {
      // Keep what was read as a string so the parser does not report the hole again.
      std::string_view partial(reinterpret_cast<const char*>(body), static_cast<size_t>(cur_ - body));
      Token t = Make(Tok::String, start, partial);
      diags_.Report(Diag::UnterminatedString, {file_, Offset(start), Offset(start) + 1});
      return t;
    }
    if (*cur_ == '"') break;
    if (*cur_ == '\\') {
      escapes = true;
      if (cur_ + 1 < limit_) ++cur_;
    }
    ++cur_;
  }
  std::string_view raw(reinterpret_cast<const char*>(body), static_cast<size_t>(cur_ - body));
  ++cur_;  // closing quote
  std::string_view value = escapes ? arena_.Copy(DecodeEscapes(raw)) : raw;
  return Make(Tok::String, start, value);
}

Token Lexer::LexEmbedded(const unsigned char* start) {
  // cur_ is just past "%{".
  const unsigned char* body = cur_;
  bool warned = false;
  for (; cur_ + 1 < limit_; ++cur_) {
    if (cur_[0] == '%' && cur_[1] == '}') {
      std::string_view code(reinterpret_cast<const char*>(body), static_cast<size_t>(cur_ - body));
      cur_ += 2;
      return Make(Tok::Embedded, start, code);
    }
    if (cur_[0] == '}' && cur_[1] == '%' && !warned) {
      diags_.Report(Diag::ClosingBraceTypo, {file_, Offset(cur_), Offset(cur_) + 2});
      warned = true;
    }
  }
  cur_ = limit_;
  std::string_view partial(reinterpret_cast<const char*>(body), static_cast<size_t>(cur_ - body));
  Token t = Make(Tok::Embedded, start, partial);
  diags_.Report(Diag::UnterminatedEmbedded, {file_, Offset(start), Offset(start) + 2});
  return t;
}

bool Lexer::SkipBlockComment(const unsigned char* start) {
  // cur_ is just past "/*".
  for (; cur_ + 1 < limit_; ++cur_) {
    if (*cur_ == '\n') line_start_ = true;
    if (cur_[0] == '*' && cur_[1] == '/') {
      cur_ += 2;
      return true;
    }
  }
  cur_ = limit_;
  diags_.Report(Diag::UnterminatedComment, {file_, Offset(start), Offset(start) + 2});
  return false;
}

Token Lexer::Next() {
  const unsigned char* mar = nullptr;
  for (;;) {
    const unsigned char* start = cur_;
#define TOK(kind) return Make(Tok::kind, start, std::string_view(reinterpret_cast<const char*>(start), static_cast<size_t>(cur_ - start)))
    /*!re2c
      re2c:api:style = free-form;
      re2c:define:YYCTYPE = "unsigned char";
      re2c:define:YYCURSOR = cur_;
      re2c:define:YYMARKER = mar;
      re2c:yyfill:enable = 0;

      ident_start = [A-Za-z_];
      ident_rest = [A-Za-z0-9_$];

      "\x00" {
        if (start >= limit_) { cur_ = limit_; return Make(Tok::Eof, start, {}); }
        diags_.Report(Diag::StrayCharacter, {file_, Offset(start), Offset(cur_)}, {"byte `\\x00`"});
        space_before_ = true;
        continue;
      }
      [ \t\r\v\f]+ { space_before_ = true; continue; }
      "\n" { space_before_ = true; line_start_ = true; continue; }
      "#" [^\n\x00]* { space_before_ = true; continue; }
      "//" [^\n\x00]* { space_before_ = true; continue; }
      "/*" { SkipBlockComment(start); space_before_ = true; continue; }
      "%{" { return LexEmbedded(start); }
      ["] { return LexString(start); }

      [0-9] [A-Za-z0-9]* { TOK(Number); }
      [$@] ( "#" | [0-9]+ ) { TOK(ArgRef); }
      ident_start ident_rest* {
        std::string_view word(reinterpret_cast<const char*>(start), static_cast<size_t>(cur_ - start));
        return Make(KeywordKind(word), start, word);
      }
      "$" [$]* {
        TOK(Dollars);
      }
      "$" [$]* [A-Za-z_] ident_rest* { TOK(Target); }
      "@" ident_start ident_rest* {
        return Make(Tok::AtWord, start, std::string_view(reinterpret_cast<const char*>(start) + 1, static_cast<size_t>(cur_ - start - 1)));
      }

      "<<<" { TOK(StatAccum); }
      ">>>" { TOK(UShr); }
      "<<=" { TOK(ShlAssign); }
      ">>=" { TOK(ShrAssign); }
      "==" { TOK(EqEq); }
      "!=" { TOK(NotEq); }
      "<=" { TOK(LessEq); }
      ">=" { TOK(GreaterEq); }
      "=~" { TOK(Match); }
      "!~" { TOK(NotMatch); }
      "+=" { TOK(AddAssign); }
      "-=" { TOK(SubAssign); }
      "*=" { TOK(MulAssign); }
      "/=" { TOK(DivAssign); }
      "%=" { TOK(ModAssign); }
      "&=" { TOK(AndAssign); }
      "^=" { TOK(XorAssign); }
      "|=" { TOK(OrAssign); }
      ".=" { TOK(ConcatAssign); }
      "&&" { TOK(AndAnd); }
      "||" { TOK(OrOr); }
      "++" { TOK(PlusPlus); }
      "--" { TOK(MinusMinus); }
      "->" { TOK(Arrow); }
      "<<" { TOK(Shl); }
      ">>" { TOK(Shr); }
      "%(" { TOK(PPIf); }
      "%?" { TOK(PPThen); }
      "%:" { TOK(PPElse); }
      "%)" { TOK(PPEnd); }
      "+" { TOK(Plus); }
      "-" { TOK(Minus); }
      "*" { TOK(Star); }
      "/" { TOK(Slash); }
      "%" { TOK(Percent); }
      "&" { TOK(Amp); }
      "|" { TOK(Pipe); }
      "^" { TOK(Caret); }
      "~" { TOK(Tilde); }
      "!" { TOK(Bang); }
      "<" { TOK(Less); }
      ">" { TOK(Greater); }
      "=" { TOK(Assign); }
      "?" { TOK(Question); }
      ":" { TOK(Colon); }
      ";" { TOK(Semi); }
      "," { TOK(Comma); }
      "." { TOK(Dot); }
      "(" { TOK(LParen); }
      ")" { TOK(RParen); }
      "[" { TOK(LBracket); }
      "]" { TOK(RBracket); }
      "{" { TOK(LBrace); }
      "}" { TOK(RBrace); }

      * {
        char what[32];
        unsigned char c = *start;
        if (c >= 0x21 && c < 0x7f) std::snprintf(what, sizeof what, "character `%c`", c);
        else std::snprintf(what, sizeof what, "byte `\\x%02x`", c);
        diags_.Report(Diag::StrayCharacter, {file_, Offset(start), Offset(cur_)}, {what});
        space_before_ = true;
        continue;
      }
    */
#undef TOK
  }
}

}  // namespace btap::frontend
