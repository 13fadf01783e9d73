// A session-mode client keeps one server connection for its whole life, so it cannot follow
// its tenant when the directory changes under it: it is ended with an error that says why and
// what to do (reconnect), as PostgreSQL ends sessions of a dropped database.
#include "protocol/messages.h"
#include "proxy/runtime/log.h"
#include "proxy/session/client_session.h"

namespace shardgate::proxy {

awaitable<bool> ClientSession::end_if_placement_changed() {
  runtime_generation_ = services_.runtime.generation();
  auto next = services_.runtime.get();
  auto routed = routing::route_tenant(route_->tenant, *next->config, *next->directory);
  if (auto* err = std::get_if<routing::RouteError>(&routed); err && err->sqlstate == "3D000") {
    log_event(spdlog::level::info, "tenant removed from the directory: session ended", &log_);
    co_await release_session_server();
    co_await send_error("FATAL", err->sqlstate, err->message, err->hint);
    co_return true;
  }
  auto* route = std::get_if<routing::Route>(&routed);
  if (!route || (route->placement.shard == route_->placement.shard &&
                 route->placement.schema == route_->placement.schema))
    co_return false;
  std::string tenant = route_->tenant, shard = route->placement.shard;
  log_event(spdlog::level::info, "tenant moved to another shard: session ended", &log_,
            {{"to", shard}});
  co_await release_session_server();
  co_await send_error("FATAL", "57P01",
                      "tenant \"" + tenant + "\" moved to shard \"" + shard +
                          "\": this session-mode connection is ended, reconnect",
                      "Reconnect: new connections of the tenant go to shard \"" + shard + "\".");
  co_return true;
}

}  // namespace shardgate::proxy
