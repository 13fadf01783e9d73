#include "routing/guard/plain_statement.h"

#include <array>
#include <cctype>
#include <string>

#include "routing/guard/sql_chars.h"

namespace shardgate::routing {

namespace {

constexpr size_t kMaxPlainLength = 8192;

}  // namespace

bool is_denied_word(std::string_view w) {
  static constexpr std::array<std::string_view, 25> kDenied = {"set_config",
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
  for (auto d : kDenied)
    if (w == d) return true;
  if (w.starts_with("dblink")) return true;
  if (w.starts_with("pg_stat")) return true;  // statistics and other sessions' statement texts
  if (w.starts_with("pg_read") || w.starts_with("pg_ls_") || w.starts_with("lo_") ||
      w == "pg_file_write")
    return true;  // server files and large objects
  // Session state that outlives the transaction (routing/session_state.h): SELECT ... INTO
  // TEMP, session-level advisory locks (the _xact_ ones do not match these prefixes).
  if (w == "temp" || w == "temporary" || w.starts_with("pg_advisory_lock") ||
      w.starts_with("pg_try_advisory_lock"))
    return true;
  if (w.ends_with("_to_xml") || w.ends_with("_to_xmlschema") ||
      w.ends_with("_to_xml_and_xmlschema"))
    return true;
  return false;
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
  std::string word;
  word.reserve(32);
  bool first_word_seen = false;
  size_t i = 0;
  const size_t n = sql.size();
  auto end_word = [&]() -> bool {
    if (word.empty()) return true;
    if (!first_word_seen) {
      first_word_seen = true;
      if (!is_plain_first_word(word)) return false;
    }
    bool ok = !is_denied_word(word);
    word.clear();
    return ok;
  };
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(sql[i]);
    if (c >= 0x80 || c == 0) return false;
    if (is_word_char(c)) {
      word += ascii_lower(c);
      ++i;
      continue;
    }
    // A word directly followed by a quote is a prefixed literal (E'', U&'', B'', X'', N'').
    if (c == '\'' && !word.empty()) return false;
    if (!end_word()) return false;
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
  if (!end_word()) return false;
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
