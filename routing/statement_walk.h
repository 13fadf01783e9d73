// Internal to routing/statement.cc: the parse-tree walk behind inspect_statement().
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/setting_rules.h"
#include "routing/statement.h"

namespace shardgate::routing::internal {

// Walks one parsed statement (every node, iteratively: no recursion however deep the tree)
// and adds what it finds to `info`: protected settings, qualified schemas, dynamic SQL,
// persistent settings, RESET ALL / DISCARD ALL, transaction control. `text` is the
// statement's own text, which the PL/pgSQL parser needs (function_body.h).
void walk_statement(const PgQuery__Node& stmt, StatementInfo& info, std::string_view text = {});

// statement.cc: runs `fn` on a short-lived helper thread with a big stack (for libpg_query's
// recursion), carrying the function body nesting level over; false when no thread could be
// made.
bool run_on_big_stack(const std::function<void()>& fn);

// The string value of a constant (string, integer or float A_Const, possibly under casts),
// or false when the node is not one.
bool constant_text(const PgQuery__Node* node, std::string& out);

// ASCII lower-casing, as PostgreSQL compares setting names.
std::string ascii_lower(std::string_view s);

// statement_rules.cc ------------------------------------------------------------------------

// Splits a name written inside a string constant the way PostgreSQL's
// stringToQualifiedNameList() does ('s.t', '"S"."t"', ' s . t '): unquoted parts folded to
// lower case (ASCII), "" inside quotes is a quote, parts truncated to 63 bytes. Reading stops
// at `stop` characters outside quotes (e.g. '(' for regprocedure). False on bad syntax.
bool split_qualified_name(std::string_view s, std::string_view stop,
                          std::vector<std::string>& parts);

// reg* types whose input is an object name (regclass, regproc, regtype, regnamespace...).
bool is_reg_type(std::string_view type);

// Functions that run query text or dump whole relations: query_to_xml & kin, ts_stat,
// ts_rewrite, dblink*.
bool is_dynamic_function(std::string_view name);

// Which settings are protected is decided in routing/setting_rules.h, for every path.
using routing::is_protected_setting;
using routing::SettingChange;

}  // namespace shardgate::routing::internal
