// Internal to routing/statement_walk.cc: CREATE FUNCTION/PROCEDURE, ALTER FUNCTION and DO,
// read the way docs/isolation.md describes. Bodies in sql and plpgsql are not refused as such:
// the statements and expressions they hold are parsed with libpg_query (PL/pgSQL with
// pg_query_parse_plpgsql()) and inspected like any other text, their findings merged into
// the enclosing statement's. Refused as dynamic SQL (unless the tier allows it): EXECUTE of a
// computed string, other languages, SECURITY DEFINER, SET clauses. Refused always: a body the
// guard cannot read, nested too deep, or that does what the proxy must see (RESET ALL,
// DEALLOCATE) in the middle of a transaction.
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <string_view>

#include "routing/guard/statement.h"

namespace shardgate::routing::internal {

// Bodies inside bodies (a DO block creating a function that runs a DO block ...) are read
// up to this many levels; deeper is refused.
constexpr int kMaxBodyNesting = 4;

// `stmt_text` is the text of the whole statement (from its RawStmt), which libpg_query's
// PL/pgSQL parser reads again.
void inspect_create_function(const PgQuery__CreateFunctionStmt& f, std::string_view stmt_text,
                             StatementInfo& info);
void inspect_do(const PgQuery__DoStmt& d, std::string_view stmt_text, StatementInfo& info);
// CREATE TRIGGER: the schema of the table its function will run for.
void inspect_create_trigger(const PgQuery__CreateTrigStmt& t, StatementInfo& info);
// ALTER FUNCTION/PROCEDURE/ROUTINE ... SECURITY DEFINER | SET ...
void inspect_alter_function(const PgQuery__AlterFunctionStmt& f, StatementInfo& info);

// Adds what was found in a body (or in one statement or expression of a body) to the
// enclosing statement's findings. A body's RESET ALL / DISCARD ALL counts as changing
// search_path: the proxy cannot put the tenant context back in the middle of a transaction.
void merge_body_findings(const StatementInfo& body, StatementInfo& into);

// The body nesting level of this thread (0 outside any body). statement.cc carries it over
// to the helper threads it parses deep texts on.
int body_nesting();
void set_body_nesting(int level);

}  // namespace shardgate::routing::internal
