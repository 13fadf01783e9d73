#include "routing/guard/session_state.h"

#include <string>

namespace shardgate::routing {
namespace {

std::string_view hint_for(OutlivingState kind) {
  switch (kind) {
    case OutlivingState::kHoldCursor:
      return "Use a cursor without WITH HOLD inside a transaction (Django: "
             "DISABLE_SERVER_SIDE_CURSORS = True), or a tier with pool_mode: session.";
    case OutlivingState::kTempObject:
      return "Create temporary tables inside a transaction with ON COMMIT DROP and other "
             "objects in the tenant's own schema, or use a tier with pool_mode: session.";
    case OutlivingState::kPrepare:
      return "Use protocol-level prepared statements (the driver's prepare), which shardgate "
             "keeps for each client in transaction mode, or a tier with pool_mode: session.";
    case OutlivingState::kAdvisoryLock:
      return "Use pg_advisory_xact_lock() (released at the end of the transaction), or a tier "
             "with pool_mode: session.";
    case OutlivingState::kListen:
      return "The server connection changes after every transaction, so notifications would "
             "reach other clients and never this one: use a tier with pool_mode: session for "
             "LISTEN. NOTIFY and pg_notify work in both modes.";
    case OutlivingState::kLoad:
    case OutlivingState::kNone:
      break;
  }
  return "Use a tier with pool_mode: session.";
}

}  // namespace

GuardVerdict judge_session_state(const StatementInfo& info, std::string_view tenant) {
  if (info.outlives_transaction.empty()) return {};
  GuardVerdict v;
  v.allowed = false;
  v.sqlstate = "0A000";
  v.message = "shardgate refused the statement: " + info.outlives_transaction +
              " keeps state on the server connection after the transaction ends, but tenant \"" +
              std::string(tenant) +
              "\"'s tier pools by transaction: the next transaction may run on another "
              "connection, and another client may get this one";
  v.hint = hint_for(info.outliving_kind);
  return v;
}

}  // namespace shardgate::routing
