// Transaction pooling and session state: in a transaction-mode tier a server connection goes
// back to the pool after every transaction, so whatever a statement leaves on it past the
// transaction (StatementInfo::outlives_transaction: temporary tables, SQL-level PREPARE,
// WITH HOLD cursors, session advisory locks, LOAD, LISTEN) would be found by the tenant's next
// client there (a temporary table silently shadows the real table of the same name) and
// missed by this client on its next connection. A tier's `session_state: refuse` (the
// default) refuses such statements; `allow` lets them run as PgBouncer does.
#pragma once

#include <string_view>

#include "routing/guard/guard.h"
#include "routing/guard/statement.h"

namespace shardgate::routing {

// The refusal (SQLSTATE 0A000, a hint naming the fix for that kind of state) of a statement
// whose effect outlives its transaction; allowed when it has none. The caller asks only for
// transaction-mode tiers with session_state: refuse.
GuardVerdict judge_session_state(const StatementInfo& info, std::string_view tenant);

}  // namespace shardgate::routing
