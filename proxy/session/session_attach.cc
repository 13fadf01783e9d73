// Session mode: a client's server connection is taken at connect time and given the tenant
// context there. A pooled connection the server closed while it was idle (and the idle watch
// has not dropped yet) fails that first statement with nothing of the client's sent: it is
// dropped and the context set once more on a fresh connection.
#include "proxy/session/client_session.h"
#include "proxy/session/context_prefix.h"

namespace shardgate::proxy {

awaitable<pool::ServerResult> ClientSession::attach_session_server(pool::Lease lease) {
  for (int attempt = 0;; ++attempt) {
    server_ = std::move(lease.conn);
    std::string sql = context_sql([&] {
      ContextRequest r;
      r.set_tenant = true;
      r.tenant = route_->tenant;
      r.placement = &route_->placement;
      r.tier = route_->tier;
      r.search_path = context_search_path();
      for (auto& call : settings_.sync(server_->settings))
        r.parameters.emplace_back(std::move(call.name), std::move(call.value));
      return r;
    }());
    auto result = co_await server_->run(sql, runtime_->config->connect_timeout);
    if (result.ok() || !lease.reused || attempt > 0 ||
        result.kind != pool::ServerResult::Kind::kUnreachable)
      co_return result;
    log_event(spdlog::level::info, "server connection closed while idle: connecting again", &log_);
    server_pool_->drop_idle_opened_before(std::chrono::steady_clock::now());
    return_server(false);
    lease = co_await acquire_server();
    if (!lease.conn) co_return lease.error;
  }
}

}  // namespace shardgate::proxy
