// A session's use of its pool: finding it, checking connections out and in, and working out
// what context and parameters a checked-out connection still needs.
#include "pool/pool_decisions.h"
#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/context_prefix.h"
#include "proxy/session/statement_text.h"
#include "proxy/session/worker_pools.h"
#include "proxy/tenants/pool_spec.h"
#include "routing/tenant_context.h"

namespace shardgate::proxy {

namespace {
constexpr size_t kWelcomeBytes = 1024;
}  // namespace

pool::ServerPool& ClientSession::current_pool() {
  if (pool_cache_) return *pool_cache_;
  auto spec = pool_spec(*route_, *runtime_->config);
  spec.target.tls = runtime_->tls->shard(route_->placement.shard);
  pool_cache_ = &worker_pool(*worker_, spec);
  return *pool_cache_;
}

awaitable<pool::Lease> ClientSession::acquire_server() {
  pool::ServerPool& pool = current_pool();
  auto lease =
      co_await pool.acquire(route_->tenant, route_->tier->weight, route_->tier->pool_timeout);
  if (lease.conn) keep_lease(pool, lease);
  co_return lease;
}

std::optional<pool::Lease> ClientSession::server_at_once() {
  pool::ServerPool& pool = current_pool();
  auto lease = pool.acquire_at_once(route_->tenant);
  if (lease) keep_lease(pool, *lease);
  return lease;
}

void ClientSession::keep_lease(pool::ServerPool& pool, const pool::Lease& lease) {
  server_pool_ = &pool;
  server_tenant_ = route_->tenant;
  lease_reused_ = lease.reused;
  lease_idle_for_ = lease.reused ? std::chrono::steady_clock::now() - lease.conn->last_used
                                 : std::chrono::steady_clock::duration::zero();
  cancel_slot_->set(lease.conn->shared_cancel_target());
}

void ClientSession::set_in_flight(bool busy) {
  if (busy == in_flight_ || !tenant_state_) return;
  in_flight_ = busy;
  // seq_cst: pairs with PAUSE recording the pause before it counts (pause_control.h).
  tenant_state_->in_flight.fetch_add(busy ? 1 : -1, std::memory_order_seq_cst);
  if (shard_in_flight_) shard_in_flight_->fetch_add(busy ? 1 : -1, std::memory_order_seq_cst);
}

bool ClientSession::enter_unless_paused() {
  set_in_flight(true);
  if (!services_.pauses.any() || !route_ ||
      !services_.pauses.is_paused(route_->tenant, route_->placement.shard))
    return true;
  set_in_flight(false);
  return false;
}

awaitable<bool> ClientSession::pass_pause_gate() {
  if (enter_unless_paused()) co_return true;
  waiting_ = true;
  auto deadline = std::chrono::steady_clock::now() + route_->tier->pause_timeout;
  asio::steady_timer timer(client_.get_executor());
  bool entered = false;
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(use_nothrow);
    entered = enter_unless_paused();
    if (entered || std::chrono::steady_clock::now() >= deadline || shutdown_requested_) break;
  }
  waiting_ = false;
  co_return entered;
}

void ClientSession::begin_request(char type, protocol::ByteSpan body) {
  settings_.end_request();
  request_timing_.push_back({std::chrono::steady_clock::now(), type, {}, 0});
  if (slow_threshold().count() > 0) {
    auto& timing = request_timing_.back();
    std::string_view sql;
    if (type == protocol::fe::kQuery) {
      protocol::Reader r(body);
      sql = r.cstr();
    } else if (type == protocol::fe::kSync) {
      sql = batch_statement_;
    } else {
      sql = "(function call)";
    }
    timing.statement = truncate_statement(sql);
    timing.statement_bytes = sql.size();
    if (type == protocol::fe::kSync) batch_statement_.clear();
  }
  set_in_flight(true);
}

void ClientSession::note_statement(char type, protocol::ByteSpan body) {
  if (type == protocol::fe::kParse) {
    std::string_view sql = parse_statement_text(body);
    batch_statement_.assign(sql);
    protocol::Reader r(body);
    if (r.cstr().empty()) unnamed_statement_.assign(sql);
  } else if (type == protocol::fe::kBind) {
    std::string_view name = bind_statement_name(body);
    if (name.empty()) {
      batch_statement_ = unnamed_statement_;
    } else if (const auto* entry = statements_.find(std::string(name))) {
      const auto& parse = entry->statement->parse;  // a whole Parse message: skip its header
      if (parse.size() > 5)
        batch_statement_.assign(parse_statement_text(protocol::ByteSpan(parse).subspan(5)));
    }
  }
}

void ClientSession::finish_request() {
  note_activity();  // answered: the client's idle time starts now
  if (!request_timing_.empty()) {
    const auto& timing = request_timing_.front();
    auto now = std::chrono::steady_clock::now();
    auto elapsed = now - timing.started;
    if (tenant_state_) {
      tenant_state_->latency.observe(elapsed);
      if (elapsed >= pool::decide::kLongStatement) tenant_state_->note_long_statement(now);
      if (timing.turn != std::chrono::steady_clock::time_point{})
        tenant_state_->note_turn(now - timing.turn, now);
    }
    auto threshold = slow_threshold();
    if (threshold.count() > 0 && elapsed > threshold) {
      char duration[32], limit[32];
      std::snprintf(duration, sizeof duration, "%.3f",
                    std::chrono::duration<double, std::milli>(elapsed).count());
      std::snprintf(limit, sizeof limit, "%lld", static_cast<long long>(threshold.count()));
      log_event(
          spdlog::level::warn, "slow statement", &log_,
          {{"duration_ms", duration},
           {"threshold_ms", limit},
           {"statement", timing.statement},
           {"truncated", timing.statement_bytes > timing.statement.size() ? "true" : "false"}});
    }
    request_timing_.pop_front();
  }
  if (!exchange_.awaiting_reply() && !exchange_.in_transaction()) set_in_flight(false);
}

void ClientSession::return_server(bool reusable) {
  if (!server_) return;
  cancel_slot_->set(nullptr);
  if (reusable && server_->transaction_status() == 'I')
    server_pool_->release(std::move(server_), server_tenant_);
  else
    server_pool_->discard(std::move(server_), server_tenant_);
  server_pool_ = nullptr;
}

ContextPrefix ClientSession::prepare_context(pool::ServerConnection& server) {
  ContextRequest request;
  request.tenant = route_->tenant;
  request.placement = &route_->placement;
  request.tier = route_->tier;
  request.discard_first = !server.last_tenant.empty() && server.last_tenant != route_->tenant;
  if (request.discard_first) {
    server.prepared.clear();  // DISCARD ALL deallocates them
    server.context_tenant.clear();
    server.settings.clear();  // and sets every setting back to the connection's default
  }
  server.last_tenant = route_->tenant;
  request.set_tenant = server.context_tenant != context_key();
  request.search_path = context_search_path();
  if (request.set_tenant) {
    // The tenant context sets these first; a client's own startup value comes after it.
    server.settings.erase("search_path");
    server.settings.erase("role");
  }
  for (auto& call : settings_.sync(server.settings))
    request.parameters.emplace_back(std::move(call.name), std::move(call.value));
  if (request.set_tenant) services_.context_switches.fetch_add(1, std::memory_order_relaxed);
  return build_context_prefix(request);
}

awaitable<bool> ClientSession::welcome() {
  protocol::Bytes out = take_login_reply();
  // AuthenticationOk, about fifteen ParameterStatus, BackendKeyData, ReadyForQuery: one
  // allocation instead of the vector doubling its way up (and copying) eight times.
  out.reserve(kWelcomeBytes);
  init_settings();
  if (!route_) {
    std::vector<std::pair<std::string, std::string>> defaults = {
        {"server_version", "15.0 (shardgate)"},
        {"server_encoding", "UTF8"},
        {"client_encoding", "UTF8"},
        {"DateStyle", "ISO, MDY"},
        {"TimeZone", "UTC"},
        {"IntervalStyle", "postgres"},
        {"integer_datetimes", "on"},
        {"standard_conforming_strings", "on"},
        {"is_superuser", "off"},
        {"session_authorization", log_.user},
        {"application_name", ""}};
    send_parameters(out, defaults, true);
  } else {
    bool session_mode = route_->tier->pool_mode == config::PoolMode::kSession;
    pool::ServerPool& pool = current_pool();
    if (session_mode || pool.welcome_parameters().empty()) {
      auto lease = co_await acquire_server();
      if (!lease.conn) {
        log_event(spdlog::level::warn, "no server connection", &log_,
                  {{"reason", lease.error.message}});
        co_await send_error(
            "FATAL", lease.error.sqlstate,
            "shard \"" + route_->placement.shard + "\" is unavailable for tenant \"" +
                route_->tenant + "\": " + lease.error.message,
            lease.error.sqlstate == "53300"
                ? "Retry later, or raise the tier's pool_size."
                : "Retry later; other shards are not affected. Operators: check "
                  "that the shard is up and shardgate's shard credentials are right.");
        co_return false;
      }
      if (session_mode) {
        // Session mode: the connection is this client's until it leaves; give it the context
        // now (one round trip at connect time).
        auto result = co_await attach_session_server(std::move(lease));
        if (!result.ok()) {
          log_event(spdlog::level::err, "could not set tenant context", &log_,
                    {{"reason", result.message}});
          co_await send_error("FATAL", result.sqlstate.empty() ? "08006" : result.sqlstate,
                              "could not set the context of tenant \"" + route_->tenant +
                                  "\" on shard \"" + route_->placement.shard +
                                  "\": " + result.message,
                              "Check the tier's role and the tenant's schema on the shard.");
          return_server(false);
          co_return false;
        }
        server_->context_tenant = context_key();
        server_->last_tenant = route_->tenant;
        services_.context_switches.fetch_add(1, std::memory_order_relaxed);
      } else {
        server_ = std::move(lease.conn);
        return_server(true);
      }
    }
    // Session mode: the server's own report after the startup values were applied, as
    // PostgreSQL would send it. Transaction mode: the pool's, with the client's values.
    if (session_mode)
      send_parameters(out, server_->parameters(), false);
    else
      send_parameters(out, pool.welcome_parameters(), true, &pool.shared_welcome_bytes());
  }
  key_ = services_.cancels.issue(cancel_slot_);
  if (server_) cancel_slot_->set(server_->shared_cancel_target());
  protocol::encode_backend_key_data(out, key_->pid, key_->secret);
  protocol::encode_ready_for_query(out, 'I');
  log_event(spdlog::level::info, "client connected", &log_);
  error_code ec = co_await write_bytes(client_, out, Send::kAtOnce);
  co_return !ec;
}

}  // namespace shardgate::proxy
