// ASCII character classes and case folding the guard's scanners, its rules and routing share:
// inline, no locale lookup. Bytes >= 0x80 end the scanners before the classes run.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace shardgate::routing {

constexpr bool is_ascii_digit(unsigned char c) { return c >= '0' && c <= '9'; }

namespace detail {
// One load per byte instead of four range tests: the scanners ask this of every byte.
constexpr std::array<bool, 256> word_chars() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[c] = is_ascii_digit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '_';
  return t;
}
inline constexpr std::array<bool, 256> kWordChars = word_chars();
}  // namespace detail

inline bool is_word_char(unsigned char c) { return detail::kWordChars[c]; }
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

// A name folded to lower case in a buffer on the stack, for the scanners' word checks.
// PostgreSQL truncates names at NAMEDATALEN - 1 = 63 bytes; a longer word does not fit and
// sends the scanner's caller to the full inspector.
class FoldedWord {
 public:
  static constexpr size_t kMax = 63;
  // False (and the word unchanged) when `raw` is longer than kMax.
  bool assign(std::string_view raw) {
    if (raw.size() > kMax) return false;
    for (size_t k = 0; k < raw.size(); ++k)
      buf_[k] = ascii_lower(static_cast<unsigned char>(raw[k]));
    size_ = raw.size();
    return true;
  }
  // False when the word is full.
  bool push(char c) {
    if (size_ == kMax) return false;
    buf_[size_++] = ascii_lower(static_cast<unsigned char>(c));
    return true;
  }
  std::string_view view() const { return {buf_, size_}; }

 private:
  char buf_[kMax];
  size_t size_ = 0;
};

}  // namespace shardgate::routing
