#include "proxy/session/client_session.h"

#include <charconv>

#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/auth/client_auth.h"
#include "proxy/session/login_deadline.h"
#include "proxy/tenants/pool_spec.h"
#include "routing/guard/search_path.h"
#include "routing/tenant_context.h"

namespace shardgate::proxy {

namespace {

using protocol::Bytes;

// For the log of every connection. IPv4 is written here: the library's to_string() goes
// through inet_ntop, which formats each byte with sprintf (about 1,700 instructions).
std::string endpoint_text(const tcp::endpoint& ep) {
  if (!ep.address().is_v4()) return ep.address().to_string() + ":" + std::to_string(ep.port());
  char text[sizeof "255.255.255.255:65535"];
  char* p = text;
  char* const end = text + sizeof text;
  for (uint8_t byte : ep.address().to_v4().to_bytes()) {
    if (p != text) *p++ = '.';
    p = std::to_chars(p, end, byte).ptr;
  }
  *p++ = ':';
  p = std::to_chars(p, end, ep.port()).ptr;
  return std::string(text, p);
}

std::string_view auth_method_name(config::AuthMethod method) {
  switch (method) {
    case config::AuthMethod::kScramSha256:
      return "scram-sha-256";
    case config::AuthMethod::kMd5:
      return "md5";
    case config::AuthMethod::kPlain:
      return "plain";
    case config::AuthMethod::kTrust:
      return "trust";
  }
  return "unknown";
}

bool session_source_enabled(const config::Config& c) {
  for (auto s : c.tenant.sources)
    if (s == config::TenantSource::kSession) return true;
  return false;
}

}  // namespace

ClientSession::ClientSession(tcp::socket socket, const tcp::endpoint& peer,
                             SessionServices& services, Worker& worker, uint64_t id)
    : client_(std::move(socket)),
      services_(services),
      worker_(&worker),
      runtime_(services.runtime.get()),
      handoff_v6_(peer.address().is_v6()) {
  // Generation first, then the snapshot: a swap in between is seen as a change later.
  runtime_generation_ = services.runtime.generation();
  runtime_ = services.runtime.get();
  log_.session = id;
  log_.client = endpoint_text(peer);
}

ClientSession::~ClientSession() {
  if (admitted_) services_.clients.fetch_sub(1, std::memory_order_relaxed);
  if (key_) services_.cancels.remove(*key_);
  drop_tenant_state();
  // serve() always returns its server connection to the pool before it ends (on the pool's
  // own worker); one still attached here was never pooled.
  if (server_) server_->close();
}

void ClientSession::detach_socket(int target) {
  error_code ec;
  handoff_fd_ = client_.socket().release(ec);
  handoff_target_ = ec ? -1 : target;
}

void ClientSession::attach_socket(Worker& worker) {
  worker_ = &worker;
  pool_cache_ = nullptr;
  client_.reset_socket(tcp::socket(worker.io, handoff_v6_ ? tcp::v6() : tcp::v4(), handoff_fd_));
  handoff_fd_ = -1;
}

awaitable<void> ClientSession::send_error(std::string_view severity, std::string_view sqlstate,
                                          std::string_view message, std::string_view hint) {
  Bytes out = take_login_reply();
  protocol::encode_error(out, severity, sqlstate, message, hint);
  if (tenant_state_) tenant_state_->count_error(sqlstate);
  co_await write_bytes(client_, out);
  if (severity == "FATAL")
    log_event(spdlog::level::info, "client refused", &log_,
              {{"sqlstate", sqlstate}, {"reason", message}});
}

std::optional<routing::RouteError> ClientSession::refresh_runtime() {
  forward_memo_set_ = false;  // decided under the old config
  runtime_generation_ = services_.runtime.generation();
  auto next = services_.runtime.get();
  // user_ and route_ point into the config snapshot: both move to the new one together.
  const config::UserConfig* user = next->config->find_user(identity_.login_user);
  if (!user) {
    // The login user is gone from the new config: the session authenticated under the old
    // one and keeps it (and its pointers) until it ends.
    log_event(spdlog::level::warn, "login user removed from the configuration", &log_);
    return std::nullopt;
  }
  runtime_ = std::move(next);
  user_ = user;
  if (!route_) return std::nullopt;
  std::string tenant = route_->tenant;
  auto err = route_to(tenant);
  if (err) {
    // The tenant left the directory, or this user may no longer act for it: this session
    // has no tenant any more (its old route pointed into the old config).
    log_event(spdlog::level::info, "tenant no longer routable", &log_, {{"reason", err->message}});
    route_.reset();
    drop_tenant_state();
    pool_key_.clear();
    pool_cache_ = nullptr;
    log_.tenant.clear();
    log_.shard.clear();
  }
  return err;
}

void ClientSession::drop_tenant_state() {
  set_in_flight(false);
  if (tenant_state_) tenant_state_->clients.fetch_sub(1, std::memory_order_relaxed);
  tenant_state_.reset();
}

std::optional<routing::RouteError> ClientSession::route_to(const std::string& tenant) {
  if (auto denied = routing::check_tenant_allowed(*user_, tenant)) return denied;
  auto routed = routing::route_tenant(tenant, *runtime_->config, *runtime_->directory);
  if (auto* err = std::get_if<routing::RouteError>(&routed)) return *err;
  auto& route = std::get<routing::Route>(routed);
  auto state = services_.tenants.get(tenant, tenant_limits(route.placement, *route.tier));
  if (state != tenant_state_) {
    int max = state->max_clients.load(std::memory_order_relaxed);
    int now = state->clients.fetch_add(1, std::memory_order_relaxed) + 1;
    if (max > 0 && now > max) {
      state->clients.fetch_sub(1, std::memory_order_relaxed);
      return routing::RouteError{
          "53300",
          "too many client connections for tenant \"" + tenant + "\" (max " + std::to_string(max) +
              ")",
          "Close idle connections of this tenant, or raise its max_client_connections."};
    }
    drop_tenant_state();
    tenant_state_ = std::move(state);
  }
  bool same_tenant = route_ && route_->tenant == tenant;
  route_ = std::move(route);
  default_search_path_ = routing::quote_ident_if_needed(route_->placement.schema);
  if (!same_tenant) set_search_path({});  // a client's own search_path belongs to its tenant
  shard_in_flight_ = services_.pauses.shard_in_flight(route_->placement.shard);
  pool_key_ = pool_spec(*route_, *runtime_->config).key;
  pool_cache_ = nullptr;
  log_.tenant = tenant;
  log_.shard = route_->placement.shard;
  return std::nullopt;
}

std::optional<routing::RouteError> ClientSession::admit() {
  auto configured = runtime_->config->max_client_conn;
  int max = configured.value_or(services_.client_capacity.load(std::memory_order_relaxed));
  int now = services_.clients.fetch_add(1, std::memory_order_relaxed) + 1;
  admitted_ = true;
  if (max <= 0 || now <= max) return std::nullopt;
  services_.clients.fetch_sub(1, std::memory_order_relaxed);
  admitted_ = false;
  if (configured)
    return routing::RouteError{
        "53300", "too many client connections (max_client_conn " + std::to_string(max) + ")",
        "Close idle connections, or raise max_client_conn in the shardgate configuration."};
  return routing::RouteError{
      "53300",
      "too many client connections (max_client_conn auto: " + std::to_string(max) +
          ", what the open-file limit leaves for clients)",
      "Close idle connections, or raise shardgate's open-file hard limit (LimitNOFILE, "
      "ulimit -Hn)."};
}

awaitable<bool> ClientSession::log_in() {
  LoginDeadline deadline(client_.socket(), runtime_->config->client_login_timeout, log_);
  auto startup = co_await read_startup();
  if (!startup) co_return false;
  startup_ = std::move(*startup);
  if (auto err = admit()) {
    co_await send_fatal(*err);
    co_return false;
  }
  const config::Config& config = *runtime_->config;
  if (startup_.get("replication")) {
    co_await send_error("FATAL", "0A000", "shardgate does not proxy replication connections",
                        "Connect replication clients to the shard directly.");
    co_return false;
  }
  routing::StartupIdentity sid;
  if (auto* u = startup_.get("user")) sid.user = *u;
  if (auto* d = startup_.get("database")) sid.database = *d;
  if (auto* o = startup_.get("options")) sid.options = *o;
  auto resolved = routing::resolve_identity(sid, config);
  if (auto* err = std::get_if<routing::RouteError>(&resolved)) {
    co_await send_fatal(*err);
    co_return false;
  }
  identity_ = std::get<routing::Identity>(std::move(resolved));
  log_.user = identity_.login_user;
  if (identity_.tenant) log_.tenant = *identity_.tenant;  // as asked for; routed below

  user_ = config.find_user(identity_.login_user);
  if (auto refused = tls_refusal(user_)) {
    co_await send_fatal(*refused);
    co_return false;
  }
  auto auth = co_await authenticate_client(client_, client_buf_, user_, identity_.login_user,
                                           sid.user, *runtime_, login_reply_);
  if (deadline.expired()) co_return false;  // logged by the deadline
  if (!auth.ok()) {
    if (auth.kind == AuthOutcome::Kind::kDisconnected) {
      log_event(spdlog::level::info, "client left during authentication", &log_);
      co_return false;
    }
    log_event(spdlog::level::warn, "authentication failed", &log_,
              {{"sqlstate", auth.sqlstate}, {"reason", auth.message}});
    Bytes out;
    protocol::encode_error(out, "FATAL", auth.sqlstate, auth.message, {});
    co_await write_bytes(client_, out);
    co_return false;
  }
  log_event(spdlog::level::info, "client authenticated", &log_,
            {{"method", auth_method_name(user_->method)}});
  co_return true;
}

awaitable<void> ClientSession::run() {
  if (!co_await log_in()) co_return;
  const config::Config& config = *runtime_->config;

  if (auto err = check_startup_settings()) {
    co_await send_fatal(*err);
    co_return;
  }
  if (!identity_.tenant) {
    if (!session_source_enabled(config)) {
      co_await send_fatal(routing::no_tenant_error(config, true));
      co_return;
    }
  } else if (auto err = route_to(*identity_.tenant)) {
    co_await send_fatal(*err);
    co_return;
  }
  if (auto err = apply_startup_search_path()) {
    co_await send_fatal(*err);
    co_return;
  }
  co_await move_to_owner();
}

bool ClientSession::leave_for_owner() {
  int owner = route_ ? pool_owner(pool_key_, services_.workers) : worker_->index;
  if (owner == worker_->index) return false;
  detach_socket(owner);
  return true;
}

awaitable<void> ClientSession::move_to_owner() {
  if (leave_for_owner()) co_return;
  co_await serve();
}

awaitable<void> ClientSession::serve() {
  parked_ = false;
  if (!welcomed_) {
    bool ok = co_await welcome();
    if (!ok) co_return;
    welcomed_ = true;
    // The startup packet has been read for routing, the guard and settings_ (which keeps its
    // own copy): an idle client should not carry its parameters for the rest of its life.
    startup_ = {};
    note_activity();
  }
  co_await serve_loop();
}

}  // namespace shardgate::proxy
