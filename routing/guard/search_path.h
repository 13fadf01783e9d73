// search_path values as PostgreSQL reads and writes them: a comma-separated list of schema
// names (SplitIdentifierString) and the text SET search_path leaves behind (each name through
// quote_identifier). Used for the tenant context and for a client's own SET search_path.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardgate::routing {

// The schemas of a search_path value ("a, \"B\", c" -> a, B, c): unquoted names folded to
// lower case (ASCII), "" inside quotes is a quote, names cut to 63 bytes. Empty when the
// value is not a valid list (PostgreSQL rejects those too).
std::optional<std::vector<std::string>> split_search_path(std::string_view value);

// An identifier cut to PostgreSQL's 63 bytes (NAMEDATALEN - 1) at a UTF-8 character boundary.
void truncate_identifier(std::string& s);

// A schema name as PostgreSQL's quote_identifier() writes it: bare when it is lower-case
// letters, digits and underscores (not starting with a digit) and not a reserved word,
// double-quoted otherwise.
std::string quote_ident_if_needed(std::string_view name);

// The value PostgreSQL stores for SET search_path TO s1, s2, ...: "s1, s2" with each name
// through quote_ident_if_needed().
std::string search_path_text(const std::vector<std::string>& schemas);

}  // namespace shardgate::routing
