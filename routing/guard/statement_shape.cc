#include "routing/guard/statement_shape.h"

#include "routing/guard/plain_statement.h"
#include "routing/guard/sql_chars.h"

namespace shardgate::routing {
namespace {

constexpr size_t kMaxShapedLength = 16384;

// The scan, one token at a time; false as soon as the text is not one it is sure of.
class Shaper {
 public:
  explicit Shaper(std::string_view sql) : sql_(sql) { out_.reserve(sql.size()); }

  std::optional<std::string> run() {
    if (sql_.empty() || sql_.size() > kMaxShapedLength) return std::nullopt;
    while (i_ < sql_.size()) {
      if (!step()) return std::nullopt;
      if (done_) break;
    }
    if (!first_seen_) return std::nullopt;
    return std::move(out_);
  }

 private:
  bool step() {
    unsigned char c = static_cast<unsigned char>(sql_[i_]);
    if (c >= 0x80 || c == 0 || c == '\\') return false;
    if (c == '$') return param();
    if (is_word_char(c) && !is_ascii_digit(c)) return word();
    if (is_ascii_digit(c) || (c == '.' && i_ + 1 < sql_.size() && is_ascii_digit(sql_[i_ + 1]) &&
                              (i_ == 0 || !is_word_char(sql_[i_ - 1]))))
      return number();
    switch (c) {
      case '\'':
        return string();
      case '"':
        return quoted_identifier();
      case ';':
        for (size_t j = i_ + 1; j < sql_.size(); ++j)
          if (!is_sql_space(sql_[j])) return false;  // a second statement
        out_ += ';';
        done_ = true;
        return true;
      case '-':
        if (i_ + 1 < sql_.size() && sql_[i_ + 1] == '-') return false;  // comment
        break;
      case '/':
        if (i_ + 1 < sql_.size() && sql_[i_ + 1] == '*') return false;  // comment
        break;
      case '&':
        // U&'...' and U&"..." (after the word U, already kept)
        if (i_ + 1 < sql_.size() && (sql_[i_ + 1] == '\'' || sql_[i_ + 1] == '"')) return false;
        break;
      case '`':
      case '?':
      case '{':
      case '}':
        return false;
      default:
        break;
    }
    out_ += static_cast<char>(c);
    ++i_;
    return true;
  }

  // $1, $2, ...: parameters stay as written; a '$' anywhere else starts a dollar quote.
  bool param() {
    if (i_ + 1 >= sql_.size() || !is_ascii_digit(sql_[i_ + 1])) return false;
    size_t start = i_++;
    while (i_ < sql_.size() && is_ascii_digit(sql_[i_])) ++i_;
    if (i_ < sql_.size() && (is_word_char(sql_[i_]) || sql_[i_] == '$')) return false;
    out_.append(sql_.substr(start, i_ - start));
    return true;
  }

  bool word() {
    size_t start = i_;
    while (i_ < sql_.size() && (is_word_char(sql_[i_]) || sql_[i_] == '$')) ++i_;
    // A word directly followed by a quote is a prefixed literal (E'', B'', X'', N'').
    if (i_ < sql_.size() && sql_[i_] == '\'') return false;
    FoldedWord folded;
    if (!folded.assign(sql_.substr(start, i_ - start))) return false;
    std::string_view w = folded.view();
    if (!first_seen_) {
      if (!is_plain_first_word(w) && w != "with") return false;
      first_seen_ = true;
    }
    if (is_denied_word(w)) return false;
    out_.append(sql_.substr(start, i_ - start));
    return true;
  }

  bool number() {
    // Each run of digits becomes 0; '.', 'e' and signs stay, so the lexer sees the same
    // kinds of tokens in the key as in the text.
    while (i_ < sql_.size() && (is_ascii_digit(sql_[i_]) || sql_[i_] == '.')) {
      if (sql_[i_] == '.') {
        out_ += '.';
        ++i_;
        continue;
      }
      while (i_ < sql_.size() && is_ascii_digit(sql_[i_])) ++i_;
      out_ += '0';
    }
    return true;
  }

  bool string() {
    if (!first_seen_) return false;
    for (++i_;; ++i_) {
      if (i_ >= sql_.size()) return false;
      unsigned char d = static_cast<unsigned char>(sql_[i_]);
      if (d == '\\' || d >= 0x80 || d == 0) return false;
      if (d == '\'') {
        if (i_ + 1 < sql_.size() && sql_[i_ + 1] == '\'') {
          ++i_;
          continue;
        }
        break;
      }
    }
    ++i_;
    // 'a' 'b' on one line is an error, across lines one string: keep what follows as written.
    out_ += "'?'";
    return true;
  }

  bool quoted_identifier() {
    if (!first_seen_) return false;
    size_t start = i_;
    FoldedWord name;
    for (++i_;; ++i_) {
      if (i_ >= sql_.size()) return false;
      unsigned char d = static_cast<unsigned char>(sql_[i_]);
      if (d >= 0x80 || d == 0) return false;
      if (d == '"') {
        if (i_ + 1 < sql_.size() && sql_[i_ + 1] == '"') {
          if (!name.push('"')) return false;
          ++i_;
          continue;
        }
        break;
      }
      if (!name.push(static_cast<char>(d))) return false;
    }
    ++i_;
    if (is_denied_word(name.view())) return false;  // "set_config"(...), "regclass"
    out_.append(sql_.substr(start, i_ - start));
    return true;
  }

  std::string_view sql_;
  std::string out_;
  size_t i_ = 0;
  bool first_seen_ = false;
  bool done_ = false;
};

}  // namespace

std::optional<std::string> statement_shape(std::string_view sql) { return Shaper(sql).run(); }

}  // namespace shardgate::routing
