// ASCII character classes and case folding the guard's scanners, its rules and routing share:
// inline, no locale lookup. Bytes >= 0x80 end the scanners before the classes run.
#pragma once

#include <string>
#include <string_view>

namespace shardgate::routing {

inline bool is_ascii_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_word_char(unsigned char c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool is_sql_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
inline char ascii_lower(unsigned char c) {
  return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}
// ASCII lower-casing as PostgreSQL folds unquoted names and compares setting names: bytes
// >= 0x80 stay as they are (no locale).
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(static_cast<unsigned char>(c));
  return out;
}

}  // namespace shardgate::routing
