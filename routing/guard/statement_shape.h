// The guard's verdict does not depend on literal values, except where a literal names
// something (set_config, nextval, reg* casts, *_to_xml, ...: the words the no-parse fast path
// already refuses, plain_statement.h). statement_shape() masks the literal values of a
// SELECT/INSERT/UPDATE/DELETE/VALUES/WITH statement so that statements an ORM sends with
// fresh values share one StatementCache entry. Names, quoting, qualification, parameters
// ($1) and everything else stay in the key as written.
//
// Narrow on purpose, like the fast path: one statement of ASCII text, ordinary '...' strings
// (each becomes '?') and numbers (each run of digits becomes 0), no comments, no dollar
// quotes, no escape or prefixed strings (E'', U&'', B'', X''), no backslash, and none of the
// fast path's words, also not as a quoted identifier, and no name longer than PostgreSQL's
// 63 bytes. Anything else has no shape: the cache
// keys it by its whole text. The key is itself SQL with the same statement structure; a fuzz
// target checks that the full inspector finds the same in a text as in its key.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shardgate::routing {

std::optional<std::string> statement_shape(std::string_view sql);

}  // namespace shardgate::routing
