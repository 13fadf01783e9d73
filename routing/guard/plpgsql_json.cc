// A small, strict JSON reader for pg_query_parse_plpgsql()'s output: no dependency, no
// recursion (an explicit stack of open objects and arrays), and every string decoded
// exactly (libpg_query escapes control characters as \u00XX and passes other bytes through).
#include "routing/guard/plpgsql_json.h"

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

namespace shardgate::routing::internal {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool read_hex4(std::string_view s, size_t& pos, uint32_t& out) {
  if (pos + 4 > s.size()) return false;
  out = 0;
  for (int i = 0; i < 4; ++i) {
    int v = hex_value(s[pos + static_cast<size_t>(i)]);
    if (v < 0) return false;
    out = out * 16 + static_cast<uint32_t>(v);
  }
  pos += 4;
  return true;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Reads the string starting at s[pos] == '"'; pos ends after the closing quote. A decoded
// NUL is refused: the text after it would be invisible to the guard's parser.
bool read_string(std::string_view s, size_t& pos, std::string& out, std::string& error) {
  out.clear();
  ++pos;
  while (pos < s.size()) {
    char c = s[pos++];
    if (c == '"') return true;
    if (static_cast<unsigned char>(c) < 0x20) {
      error = "control character inside a JSON string";
      return false;
    }
    if (c != '\\') {
      out += c;
      continue;
    }
    if (pos >= s.size()) break;
    char e = s[pos++];
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp;
        if (!read_hex4(s, pos, cp)) {
          error = "bad \\u escape in JSON";
          return false;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
          uint32_t low;
          if (pos + 2 > s.size() || s[pos] != '\\' || s[pos + 1] != 'u') {
            error = "lone surrogate in JSON";
            return false;
          }
          pos += 2;
          if (!read_hex4(s, pos, low) || low < 0xDC00 || low > 0xDFFF) {
            error = "bad surrogate pair in JSON";
            return false;
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          error = "lone surrogate in JSON";
          return false;
        }
        if (cp == 0) {
          error = "NUL character in embedded SQL";
          return false;
        }
        append_utf8(out, cp);
        break;
      }
      default:
        error = "bad escape in JSON";
        return false;
    }
  }
  error = "unterminated JSON string";
  return false;
}

struct Frame {
  bool object;
  std::string key;      // the key this container is the value of ("" in arrays, at the root)
  std::string current;  // objects: the key being read
};

// How PostgreSQL reads the expression `field` of `owner` (a PLpgSQL_* node name).
PlpgsqlPiece::Kind kind_of(std::string_view owner, std::string_view field) {
  if (field == "sqlstmt") return PlpgsqlPiece::Kind::kStatement;
  if (field == "query" && (owner == "PLpgSQL_stmt_fors" || owner == "PLpgSQL_stmt_return_query" ||
                           owner == "PLpgSQL_stmt_open")) {
    return PlpgsqlPiece::Kind::kStatement;
  }
  if (field == "expr" && (owner == "PLpgSQL_stmt_perform" || owner == "PLpgSQL_stmt_call")) {
    return PlpgsqlPiece::Kind::kStatement;  // PERFORM's text already starts with SELECT
  }
  if (field == "cursor_explicit_expr") return PlpgsqlPiece::Kind::kStatement;
  if (field == "expr" && owner == "PLpgSQL_stmt_assign") return PlpgsqlPiece::Kind::kAssignment;
  return PlpgsqlPiece::Kind::kExpression;
}

class Reader {
 public:
  explicit Reader(PlpgsqlBody& out) : out_(out) {}

  void on_key(std::string_view key) {
    if (key == "PLpgSQL_function") ++out_.functions;
    if (key == "action" && !frames_.empty() && frames_.back().key == "PLpgSQL_function") {
      ++out_.actions;
    }
    if ((key == "PLpgSQL_stmt_dynexecute" || key == "PLpgSQL_stmt_dynfors" || key == "dynquery") &&
        out_.dynamic_what.empty()) {
      out_.dynamic_what = "EXECUTE of a computed string in PL/pgSQL";
    }
  }

  void on_string(std::string_view key, std::string&& value) {
    if (key == "refname" && frames_.back().key == "PLpgSQL_rec" && value != "new" &&
        value != "old" && unseen_.empty()) {
      // libpg_query does not write a record variable's default: only trigger functions'
      // NEW and OLD (which have none) are expected as records.
      unseen_ = "a record variable \"" + value + "\" whose default the guard cannot see";
    }
    if (key == "typname") {
      out_.pieces.push_back({PlpgsqlPiece::Kind::kTypeName, std::move(value)});
      return;
    }
    if (key != "query") return;
    // frames_.back() is the PLpgSQL_expr object; the field is the nearest named container
    // above it, the owner the nearest PLpgSQL_* node above that.
    std::string_view field, owner;
    size_t i = frames_.size() - 1;
    while (i-- > 0) {
      if (!frames_[i].key.empty()) {
        field = frames_[i].key;
        break;
      }
    }
    while (i-- > 0) {
      if (frames_[i].key.starts_with("PLpgSQL_")) {
        owner = frames_[i].key;
        break;
      }
    }
    out_.pieces.push_back({kind_of(owner, field), std::move(value)});
  }

  bool read(std::string_view s, std::string& error);

 private:
  PlpgsqlBody& out_;
  std::vector<Frame> frames_;
  std::string unseen_;  // something the JSON cannot show in full
};

bool Reader::read(std::string_view s, std::string& error) {
  enum class Expect { kValue, kValueOrEnd, kKey, kKeyOrEnd, kColon, kCommaOrEnd, kDone };
  Expect expect = Expect::kValue;
  size_t pos = 0;
  std::string text;
  auto value_key = [&]() -> std::string {
    return frames_.empty() || !frames_.back().object ? std::string() : frames_.back().current;
  };
  auto value_done = [&] { expect = frames_.empty() ? Expect::kDone : Expect::kCommaOrEnd; };
  while (true) {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\t' || s[pos] == '\r'))
      ++pos;
    if (pos >= s.size()) break;
    char c = s[pos];
    bool want_value = expect == Expect::kValue || expect == Expect::kValueOrEnd;
    if (c == '{' || c == '[') {
      if (!want_value) break;
      frames_.push_back({c == '{', value_key(), {}});
      expect = c == '{' ? Expect::kKeyOrEnd : Expect::kValueOrEnd;
      ++pos;
    } else if (c == '}' || c == ']') {
      bool object = c == '}';
      if (frames_.empty() || frames_.back().object != object) break;
      if (expect != Expect::kCommaOrEnd &&
          expect != (object ? Expect::kKeyOrEnd : Expect::kValueOrEnd)) {
        break;
      }
      frames_.pop_back();
      ++pos;
      value_done();
    } else if (c == ':') {
      if (expect != Expect::kColon) break;
      expect = Expect::kValue;
      ++pos;
    } else if (c == ',') {
      if (expect != Expect::kCommaOrEnd) break;
      expect = frames_.back().object ? Expect::kKey : Expect::kValue;
      ++pos;
    } else if (c == '"') {
      if (!read_string(s, pos, text, error)) return false;
      if (expect == Expect::kKey || expect == Expect::kKeyOrEnd) {
        frames_.back().current = text;
        on_key(text);
        expect = Expect::kColon;
      } else if (want_value) {
        on_string(value_key(), std::move(text));
        value_done();
      } else {
        break;
      }
    } else {  // true, false, null, numbers
      if (!want_value) break;
      size_t start = pos;
      while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '-' ||
                                s[pos] == '+' || s[pos] == '.')) {
        ++pos;
      }
      if (pos == start) break;
      value_done();
    }
  }
  if (expect == Expect::kDone && pos >= s.size()) {
    error = unseen_;
    return unseen_.empty();
  }
  error = "malformed JSON from the PL/pgSQL parser at byte " + std::to_string(pos);
  return false;
}

}  // namespace

bool read_plpgsql_json(std::string_view json, PlpgsqlBody& out, std::string& error) {
  Reader reader(out);
  return reader.read(json, error);
}

}  // namespace shardgate::routing::internal
