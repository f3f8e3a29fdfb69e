// Lexer: turns one source file into tokens (re2c; see lexer.re). Reports malformed
// input (unterminated strings, comments, embedded code; stray bytes) and keeps going.
#pragma once

#include "common/arena.h"
#include "common/diagnostics.h"
#include "common/source.h"
#include "frontend/token.h"

namespace btap::frontend {

class Lexer {
 public:
  Lexer(const SourceManager& sm, FileId file, Arena& arena, DiagnosticSink& diags);
  Token Next();

 private:
  Token Make(Tok kind, const unsigned char* start, std::string_view text);
  Token LexString(const unsigned char* start);
  Token LexEmbedded(const unsigned char* start);
  bool SkipBlockComment(const unsigned char* start);
  uint32_t Offset(const unsigned char* p) const { return static_cast<uint32_t>(p - base_); }

  FileId file_;
  Arena& arena_;
  DiagnosticSink& diags_;
  const unsigned char* base_;
  const unsigned char* cur_;
  const unsigned char* limit_;
  bool space_before_ = true;
  bool line_start_ = true;
};

// Decodes the escapes of a string literal's body the way stap does: C escapes
// (\n \t \\ \a \b \f \r \v, octal \NNN, hex \xHH); any other \c is c.
std::string DecodeEscapes(std::string_view raw);

}  // namespace btap::frontend
