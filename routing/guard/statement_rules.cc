// The rules behind the parse-tree walk: names in strings, functions that run SQL, settings
// the guard protects. Small pure functions over strings and libpg_query nodes.
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "routing/guard/search_path.h"
#include "routing/guard/statement_walk.h"

namespace shardgate::routing::internal {
namespace {

std::string_view sv(const char* s) { return s ? std::string_view(s) : std::string_view(); }

}  // namespace

// Splits a name written inside a string constant the way PostgreSQL's
// stringToQualifiedNameList() does ('s.t', '"S"."t"', ' s . t '): unquoted parts folded to
// lower case (ASCII), "" inside quotes is a quote, parts truncated to 63 bytes. Reading
// stops at `stop` characters outside quotes (e.g. '(' for regprocedure). Returns false on a
// syntax PostgreSQL would reject as well.
bool split_qualified_name(std::string_view s, std::string_view stop,
                          std::vector<std::string>& parts) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && is_space(s[i])) ++i;
  };
  for (;;) {
    skip_space();
    std::string part;
    if (i < s.size() && s[i] == '"') {
      ++i;
      for (;;) {
        if (i >= s.size()) return false;  // unterminated quote
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            part += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        part += s[i++];
      }
      if (part.empty()) return false;
    } else {
      while (i < s.size() && s[i] != '.' && !is_space(s[i]) &&
             stop.find(s[i]) == std::string_view::npos) {
        char c = s[i++];
        part += ascii_lower(static_cast<unsigned char>(c));
      }
      if (part.empty()) return false;
    }
    truncate_identifier(part);
    parts.push_back(std::move(part));
    skip_space();
    if (i < s.size() && s[i] == '.') {
      ++i;
      continue;
    }
    return i >= s.size() || stop.find(s[i]) != std::string_view::npos;
  }
}

bool is_reg_type(std::string_view t) {
  static constexpr std::array<std::string_view, 10> kTypes = {
      "regclass", "regproc",      "regprocedure", "regoper",       "regoperator",
      "regtype",  "regcollation", "regconfig",    "regdictionary", "regnamespace"};
  for (std::string_view k : kTypes) {
    if (k == t) return true;
  }
  return false;
}

bool is_dynamic_function(std::string_view f) {
  static constexpr std::array<std::string_view, 16> kFunctions = {
      "query_to_xml",    "query_to_xmlschema",    "query_to_xml_and_xmlschema",
      "table_to_xml",    "table_to_xmlschema",    "table_to_xml_and_xmlschema",
      "schema_to_xml",   "schema_to_xmlschema",   "schema_to_xml_and_xmlschema",
      "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
      "cursor_to_xml",   "cursor_to_xmlschema",   "ts_stat",
      "ts_rewrite",
  };
  if (f.substr(0, 6) == "dblink") return true;
  for (std::string_view k : kFunctions) {
    if (k == f) return true;
  }
  return false;
}

bool constant_text(const PgQuery__Node* node, std::string& out) {
  // Look through casts: 'search_path'::text, CAST('x' AS text).
  for (int guard = 0; node && node->node_case == PG_QUERY__NODE__NODE_TYPE_CAST && guard < 64;
       ++guard) {
    node = node->type_cast ? node->type_cast->arg : nullptr;
  }
  if (!node || node->node_case != PG_QUERY__NODE__NODE_A_CONST || !node->a_const) return false;
  const PgQuery__AConst* c = node->a_const;
  if (c->isnull) return false;
  switch (c->val_case) {
    case PG_QUERY__A__CONST__VAL_SVAL:
      if (!c->sval) return false;
      out = sv(c->sval->sval);
      return true;
    case PG_QUERY__A__CONST__VAL_IVAL:
      out = std::to_string(c->ival ? c->ival->ival : 0);
      return true;
    case PG_QUERY__A__CONST__VAL_FVAL:
      if (!c->fval) return false;
      out = sv(c->fval->fval);
      return true;
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
      out = c->boolval && c->boolval->boolval ? "true" : "false";
      return true;
    default:
      return false;
  }
}

}  // namespace shardgate::routing::internal
