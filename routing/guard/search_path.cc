#include "routing/guard/search_path.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "absl/container/flat_hash_map.h"
#include "routing/guard/sql_chars.h"

#include <cstdint>

namespace shardgate::routing {
namespace {

constexpr size_t kMaxIdentifierBytes = 63;  // NAMEDATALEN - 1

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Whether PostgreSQL's scanner reads `name` as a keyword that quote_identifier() must quote
// (any keyword but an unreserved one).
bool scan_is_quoted_keyword(const std::string& name) {
  PgQueryScanResult scan = pg_query_scan(name.c_str());
  bool keyword = false;
  if (!scan.error) {
    PgQuery__ScanResult* tokens = pg_query__scan_result__unpack(
        nullptr, scan.pbuf.len, reinterpret_cast<const uint8_t*>(scan.pbuf.data));
    if (tokens) {
      keyword = tokens->n_tokens == 1 &&
                tokens->tokens[0]->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD &&
                tokens->tokens[0]->keyword_kind != PG_QUERY__KEYWORD_KIND__UNRESERVED_KEYWORD;
      pg_query__scan_result__free_unpacked(tokens, nullptr);
    }
  }
  pg_query_free_scan_result(scan);
  return keyword;
}

// A scan costs about 15 µs (a memory context, the scanner, a protobuf round trip; measured
// with perf under new TLS connections), and every login quotes its tenant's schema: answers
// are remembered per thread. The names come from clients too (SET search_path), so the memo
// is bounded in entries and in length: no keyword is as long as an identifier may be.
bool is_quoted_keyword(const std::string& name) {
  constexpr size_t kMemoEntries = 4096;
  if (name.size() > kMaxIdentifierBytes) return false;
  thread_local absl::flat_hash_map<std::string, bool> memo;
  if (auto it = memo.find(name); it != memo.end()) return it->second;
  bool keyword = scan_is_quoted_keyword(name);
  if (memo.size() >= kMemoEntries) memo.clear();
  memo.emplace(name, keyword);
  return keyword;
}

}  // namespace

void truncate_identifier(std::string& s) {
  if (s.size() <= kMaxIdentifierBytes) return;
  size_t len = kMaxIdentifierBytes;
  while (len > 0 && (static_cast<unsigned char>(s[len]) & 0xC0) == 0x80) --len;
  // Not UTF-8 at all (continuation bytes only): a plain cut, never an empty name.
  s.resize(len > 0 ? len : kMaxIdentifierBytes);
}

std::optional<std::vector<std::string>> split_search_path(std::string_view value) {
  std::vector<std::string> names;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < value.size() && is_space(value[i])) ++i;
  };
  skip_space();
  if (i == value.size()) return names;  // an empty list
  for (;;) {
    std::string name;
    if (value[i] == '"') {
      for (++i;; ++i) {
        if (i >= value.size()) return std::nullopt;  // unterminated quote
        if (value[i] == '"') {
          if (i + 1 < value.size() && value[i + 1] == '"') {
            name += '"';
            ++i;
            continue;
          }
          ++i;
          break;
        }
        name += value[i];
      }
      if (name.empty()) return std::nullopt;  // a zero-length quoted name
    } else {
      while (i < value.size() && value[i] != ',' && !is_space(value[i])) {
        char c = value[i++];
        name += ascii_lower(static_cast<unsigned char>(c));
      }
      if (name.empty()) return std::nullopt;  // ", ," or a leading comma
    }
    truncate_identifier(name);
    names.push_back(std::move(name));
    skip_space();
    if (i == value.size()) return names;
    if (value[i] != ',') return std::nullopt;
    ++i;
    skip_space();
    if (i == value.size()) return std::nullopt;  // a trailing comma
  }
}

std::string quote_ident_if_needed(std::string_view name) {
  bool safe = !name.empty() && ((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');
  for (char c : name) {
    safe = safe && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (safe && !is_quoted_keyword(std::string(name))) return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string search_path_text(const std::vector<std::string>& schemas) {
  std::string out;
  for (const auto& s : schemas) {
    if (!out.empty()) out += ", ";
    out += quote_ident_if_needed(s);
  }
  return out;
}

}  // namespace shardgate::routing
