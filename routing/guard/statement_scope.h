// Internal to the statement walk: statements whose effect reaches past the tenant's schema
// (objects every tenant of the database, or of the whole server, shares) or past the
// transaction (state a pooled server connection would carry to the next client).
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include "routing/guard/statement.h"

namespace shardgate::routing::internal {

// Looks at one node of the tree and records in `info` what it finds:
// database_wide / server_wide (extensions, roles, databases, tablespaces, publications,
// subscriptions, event triggers, casts, languages, foreign servers, access methods,
// default privileges for every schema, ...) and outlives_transaction (DECLARE ... WITH HOLD).
void note_statement_scope(const ProtobufCMessage* node, StatementInfo& info);

}  // namespace shardgate::routing::internal
