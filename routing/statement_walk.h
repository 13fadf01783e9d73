// Internal to routing/statement.cc: the parse-tree walk behind inspect_statement().
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <string>
#include <string_view>

#include "routing/statement.h"

namespace shardgate::routing::internal {

// Walks one parsed statement (every node, iteratively: no recursion however deep the tree)
// and adds what it finds to `info`: protected settings, qualified schemas, dynamic SQL,
// persistent settings, RESET ALL / DISCARD ALL, transaction control.
void walk_statement(const PgQuery__Node& stmt, StatementInfo& info);

// The string value of a constant (string, integer or float A_Const, possibly under casts),
// or false when the node is not one.
bool constant_text(const PgQuery__Node* node, std::string& out);

// ASCII lower-casing, as PostgreSQL compares setting names.
std::string ascii_lower(std::string_view s);

}  // namespace shardgate::routing::internal
