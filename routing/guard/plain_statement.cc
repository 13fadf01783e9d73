#include "routing/guard/plain_statement.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "routing/guard/sql_chars.h"

namespace shardgate::routing {

namespace {

constexpr size_t kMaxPlainLength = 8192;

// Whole words. Almost every word of a statement is none of these: is_denied_word rules them
// out by first letter and length (kDeniedFilter, built from this list) before comparing.
constexpr std::array<std::string_view, 25> kDenied = {"set_config",
                                                      "pg_settings",
                                                      "nextval",
                                                      "currval",
                                                      "setval",
                                                      "lastval",
                                                      "pg_sequence_last_value",
                                                      "ts_stat",
                                                      "ts_rewrite",
                                                      "regclass",
                                                      "regcollation",
                                                      "regconfig",
                                                      "regdictionary",
                                                      "regnamespace",
                                                      "regoper",
                                                      "regoperator",
                                                      "regproc",
                                                      "regprocedure",
                                                      "regrole",
                                                      "regtype",
                                                      "query_to_xml",
                                                      "cursor_to_xml",
                                                      "xmlparse",
                                                      "current_setting",
                                                      "pg_notify"};

struct DeniedFilter {
  std::array<bool, 128> first{};
  uint64_t lengths = 0;
};

constexpr DeniedFilter make_denied_filter() {
  DeniedFilter f;
  for (auto d : kDenied) {
    f.first[static_cast<unsigned char>(d[0])] = true;
    f.lengths |= uint64_t{1} << d.size();
  }
  return f;
}

constexpr DeniedFilter kDeniedFilter = make_denied_filter();
static_assert(std::all_of(kDenied.begin(), kDenied.end(),
                          [](std::string_view d) { return !d.empty() && d.size() < 64; }));

bool is_denied_whole_word(std::string_view w) {
  unsigned char c = static_cast<unsigned char>(w[0]);
  if (w.size() >= 64 || c >= 128 || !kDeniedFilter.first[c] ||
      !(kDeniedFilter.lengths >> w.size() & 1))
    return false;
  return std::find(kDenied.begin(), kDenied.end(), w) != kDenied.end();
}

}  // namespace

bool is_denied_word(std::string_view w) {
  if (w.empty()) return false;
  if (is_denied_whole_word(w)) return true;
  switch (w[0]) {
    case 'd':
      if (w.starts_with("dblink")) return true;
      break;
    case 'l':
      if (w.starts_with("lo_")) return true;  // large objects
      break;
    case 'p':
      // Statistics and other sessions' statement texts, server files; session-level
      // advisory locks outlive the transaction (the _xact_ ones do not match these prefixes).
      if (w.starts_with("pg_stat") || w.starts_with("pg_read") || w.starts_with("pg_ls_") ||
          w == "pg_file_write" || w.starts_with("pg_advisory_lock") ||
          w.starts_with("pg_try_advisory_lock"))
        return true;
      break;
    case 't':
      if (w == "temp" || w == "temporary") return true;  // SELECT ... INTO TEMP
      break;
    default:
      break;
  }
  return w.ends_with("_to_xml") || w.ends_with("_to_xmlschema") ||
         w.ends_with("_to_xml_and_xmlschema");
}

bool is_plain_first_word(std::string_view w) {
  return w == "select" || w == "insert" || w == "update" || w == "delete" || w == "values";
}
namespace {

// Past an ordinary literal starting at sql[i] == '\'' ('' doubles a quote; no backslashes
// at all, nothing but ASCII, and no word or literal glued to its end); npos when it is not one.
size_t skip_plain_literal(std::string_view sql, size_t i) {
  const size_t n = sql.size();
  for (++i;; ++i) {
    if (i >= n) return std::string_view::npos;
    char d = sql[i];
    if (d == '\\' || static_cast<unsigned char>(d) >= 0x80 || d == 0) return std::string_view::npos;
    if (d == '\'') {
      if (i + 1 < n && sql[i + 1] == '\'') {
        ++i;
        continue;
      }
      break;
    }
  }
  ++i;
  if (i < n && (is_word_char(static_cast<unsigned char>(sql[i])) || sql[i] == '\''))
    return std::string_view::npos;
  return i;
}

// A '.' at sql[i] is plain only inside a number (digit '.' digit), never after an
// identifier ending in digits (t1.2).
bool is_decimal_point(std::string_view sql, size_t i) {
  bool digit_before = i > 0 && is_ascii_digit(static_cast<unsigned char>(sql[i - 1]));
  bool digit_after = i + 1 < sql.size() && is_ascii_digit(static_cast<unsigned char>(sql[i + 1]));
  if (!digit_before || !digit_after) return false;
  size_t j = i;
  while (j > 0 && is_ascii_digit(static_cast<unsigned char>(sql[j - 1]))) --j;
  return j == 0 || !is_word_char(static_cast<unsigned char>(sql[j - 1]));
}

// White space, brackets and operators that cannot hide a name or start a comment alone.
bool is_plain_punctuation(unsigned char c) {
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\f':
    case '(':
    case ')':
    case ',':
    case '+':
    case '*':
    case '%':
    case '<':
    case '>':
    case '=':
    case '!':
    case '~':
    case '^':
    case '|':
    case '#':
    case '@':
    case ':':
    case '[':
    case ']':
      return true;
    default:
      return false;  // '"', '$', '\\', '?', '`', '{', '}' and anything unexpected
  }
}

}  // namespace

bool is_plain_statement(std::string_view sql) {
  if (sql.empty() || sql.size() > kMaxPlainLength) return false;
  bool first_word_seen = false;
  size_t i = 0;
  const size_t n = sql.size();
  auto plain_word = [&](std::string_view raw) -> bool {
    FoldedWord folded;
    if (!folded.assign(raw)) return false;
    std::string_view word = folded.view();
    if (!first_word_seen) {
      first_word_seen = true;
      if (!is_plain_first_word(word)) return false;
    }
    return !is_denied_word(word);
  };
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(sql[i]);
    if (c >= 0x80 || c == 0) return false;
    if (c == ' ') {  // the commonest byte between words
      ++i;
      continue;
    }
    if (is_word_char(c)) {
      size_t start = i;
      while (i < n && is_word_char(static_cast<unsigned char>(sql[i]))) ++i;
      // A word directly followed by a quote is a prefixed literal (E'', U&'', B'', X'', N'').
      if (i < n && sql[i] == '\'') return false;
      if (!plain_word(sql.substr(start, i - start))) return false;
      continue;
    }
    bool two_char_opener =
        i + 1 < n && ((c == '-' && sql[i + 1] == '-') || (c == '/' && sql[i + 1] == '*') ||
                      (c == '&' && sql[i + 1] == '\''));  // U&'...'
    if (c == '\'') {
      i = skip_plain_literal(sql, i);
      if (i == std::string_view::npos) return false;
      continue;
    }
    if (c == ';') {
      for (++i; i < n; ++i)
        if (!std::isspace(static_cast<unsigned char>(sql[i]))) return false;
      return first_word_seen;
    }
    if (c == '.'
            ? !is_decimal_point(sql, i)
            : two_char_opener || (c != '-' && c != '/' && c != '&' && !is_plain_punctuation(c)))
      return false;
    ++i;
  }
  return first_word_seen;
}

bool starts_as_dml(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size() && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r' ||
                            sql[i] == '\f' || sql[i] == '\v'))
    ++i;
  size_t start = i;
  while (i < sql.size() && is_word_char(static_cast<unsigned char>(sql[i]))) ++i;
  if (i == start || i - start > 6) return false;
  // The word must end there: "selectx" is not SELECT.
  if (i < sql.size() && static_cast<unsigned char>(sql[i]) >= 0x80) return false;
  char word[7] = {};
  for (size_t k = start; k < i; ++k)
    word[k - start] = ascii_lower(static_cast<unsigned char>(sql[k]));
  std::string_view w(word, i - start);
  return w == "select" || w == "insert" || w == "update" || w == "delete" || w == "values" ||
         w == "with" || w == "table";
}

}  // namespace shardgate::routing
