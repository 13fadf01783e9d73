// The slow-statement log (a tier's slow_query_threshold): what of a statement may be logged.
// Only the statement text, cut to kMaxLoggedStatement bytes; Bind parameters never are.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/bytes.h"

namespace shardgate::proxy {

inline constexpr size_t kMaxLoggedStatement = 200;

// `sql` cut to at most `max` bytes on a UTF-8 character boundary.
std::string truncate_statement(std::string_view sql, size_t max = kMaxLoggedStatement);

// The query text of a Parse body ("" when malformed).
std::string_view parse_statement_text(protocol::ByteSpan parse_body);
// The statement name a Bind body binds ("" for the unnamed statement or when malformed).
std::string_view bind_statement_name(protocol::ByteSpan bind_body);

}  // namespace shardgate::proxy
