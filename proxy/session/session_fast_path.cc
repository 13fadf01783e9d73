// The protocol's fast-path function call (FunctionCall message) names a function by OID and
// passes its arguments as data: there is no SQL for the guard to read, so pg_notify into
// another tenant's channel or set_config would pass unseen. While the guard is on, the server
// gets a statement that raises instead: the client sees ErrorResponse + ReadyForQuery, as for
// a call that failed.
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/statement_policy.h"

namespace shardgate::proxy {

bool ClientSession::refuse_fast_path(char type, protocol::ByteSpan& raw,
                                     protocol::Bytes& substitute) {
  if (type != protocol::fe::kFunctionCall || !route_ || !runtime_->config->guard.enabled)
    return false;
  StatementAction action;
  action.sqlstate = "42501";
  action.message = "shardgate refused a fast-path function call of tenant \"" + route_->tenant +
                   "\": it calls a function by OID, with no SQL for the guard to read";
  action.hint = "Call the function in a SQL statement.";
  log_refusal("(FunctionCall message)", action);
  protocol::encode_query(substitute, raise_in_server(action.sqlstate, action.message, action.hint));
  raw = protocol::ByteSpan(substitute);
  return true;
}

}  // namespace shardgate::proxy
