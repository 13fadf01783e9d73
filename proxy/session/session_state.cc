// Session state on server connections that outlives what pooling can give back clean.
//
// Transaction mode: statements whose effect outlives their transaction (routing/
// session_state.h) are refused unless the tier says `session_state: allow`.
// Session mode: DISCARD ALL resets what a client set, but not everything a backend carries:
// once a session touched temporary tables its temp_buffers is fixed (SET temp_buffers fails)
// and its temporary schema stays, and a LOADed library stays loaded. Such a connection is
// closed at the end of the session instead of going back to the pool.
#include "routing/guard/session_state.h"
#include "proxy/session/client_session.h"

namespace shardgate::proxy {

namespace {
// Fails (division by zero) on a backend that ever had a temporary schema: DISCARD ALL drops
// the tables but not the schema, nor the fixed temp_buffers. pg_my_temp_schema() is stable,
// so the division is not folded away at plan time.
constexpr std::string_view kNoTempSchemaSql =
    "SELECT 1 / (pg_catalog.pg_my_temp_schema() = 0)::int";
}  // namespace

void ClientSession::refuse_session_state(StatementAction& action) const {
  if (action.kind != StatementAction::Kind::kForward || !route_ || session_mode() ||
      route_->tier->session_state != config::SessionState::kRefuse)
    return;
  auto verdict = routing::judge_session_state(*action.info, route_->tenant);
  if (verdict.allowed) return;
  action.kind = StatementAction::Kind::kRefuse;
  action.sqlstate = std::move(verdict.sqlstate);
  action.message = std::move(verdict.message);
  action.hint = std::move(verdict.hint);
}

void ClientSession::note_session_state(const routing::StatementInfo& info) {
  if (info.survives_discard.empty()) return;
  if (session_mode())
    retire_after_session_ = true;
  else
    discard_after_ = true;  // session_state: allow; nothing gives the connection back clean
}

awaitable<bool> ClientSession::reusable_after_session() {
  const char* why = nullptr;
  if (retire_after_session_) {
    retire_after_session_ = false;
    why = "a library was loaded (LOAD)";
  } else {
    auto result = co_await server_->run(kNoTempSchemaSql, runtime_->config->connect_timeout);
    if (!result.ok()) why = "temporary tables were used";
  }
  if (why) log_event(spdlog::level::debug, "server connection retired", &log_, {{"reason", why}});
  co_return why == nullptr;
}

}  // namespace shardgate::proxy
