#include "proxy/client_session.h"

#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/client_auth.h"
#include "routing/tenant_context.h"

namespace shardgate::proxy {

namespace {

using protocol::Bytes;

// Startup parameters that shardgate consumes itself instead of passing to the server.
bool is_proxy_param(std::string_view name) {
  return name == "user" || name == "database" || name == "options" || name == "replication" ||
         name.starts_with("_pq_.");
}

std::string endpoint_text(const tcp::socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "unknown";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

bool session_source_enabled(const config::Config& c) {
  for (auto s : c.tenant.sources)
    if (s == config::TenantSource::kSession) return true;
  return false;
}

}  // namespace

ClientSession::ClientSession(tcp::socket socket, SessionServices& services, uint64_t id)
    : client_(std::move(socket)), services_(services), runtime_(services.runtime.get()) {
  log_.session = id;
  log_.client = endpoint_text(client_);
}

ClientSession::~ClientSession() {
  if (key_) services_.cancels.remove(*key_);
}

awaitable<void> ClientSession::send_error(std::string_view severity, std::string_view sqlstate,
                                          std::string_view message, std::string_view hint) {
  Bytes out;
  protocol::encode_error(out, severity, sqlstate, message, hint);
  co_await write_bytes(client_, out);
  if (severity == "FATAL")
    log_event(spdlog::level::info, "client refused", &log_,
              {{"sqlstate", sqlstate}, {"reason", message}});
}

awaitable<std::optional<protocol::StartupMessage>> ClientSession::read_startup() {
  bool negotiated_ssl = false, negotiated_gss = false;
  for (;;) {
    auto [ec, frame] = co_await read_startup_packet(client_, client_buf_);
    if (ec) co_return std::nullopt;
    if (frame.status == protocol::FrameStatus::kError) {
      co_await send_error("FATAL", "08P01",
                          std::string("invalid startup packet: ") + std::string(frame.error));
      co_return std::nullopt;
    }
    auto decoded = protocol::decode_startup(frame.body);
    client_buf_.consume(frame.size);
    if (!decoded.packet) {
      co_await send_error("FATAL", "08P01", "invalid startup packet: " + decoded.error);
      co_return std::nullopt;
    }
    auto& packet = *decoded.packet;
    if (std::holds_alternative<protocol::SslRequest>(packet) ||
        std::holds_alternative<protocol::GssEncRequest>(packet)) {
      bool& again = std::holds_alternative<protocol::SslRequest>(packet) ? negotiated_ssl
                                                                        : negotiated_gss;
      if (again || !client_buf_.empty()) {
        co_await send_error("FATAL", "08P01", "unexpected encryption negotiation");
        co_return std::nullopt;
      }
      again = true;
      static const uint8_t kNo = 'N';
      if (co_await write_bytes(client_, protocol::ByteSpan(&kNo, 1))) co_return std::nullopt;
      continue;
    }
    if (auto* cancel = std::get_if<protocol::CancelRequest>(&packet)) {
      if (auto target = services_.cancels.find(ClientKey{cancel->pid, cancel->secret})) {
        log_event(spdlog::level::debug, "forwarding cancel request", &log_);
        co_await pool::send_cancel(*target);
      }
      co_return std::nullopt;
    }
    co_return std::get<protocol::StartupMessage>(std::move(packet));
  }
}

awaitable<void> ClientSession::run() {
  auto startup = co_await read_startup();
  if (!startup) co_return;
  const config::Config& config = *runtime_->config;

  if (startup->get("replication")) {
    co_await send_error("FATAL", "0A000", "shardgate does not proxy replication connections",
                        "Connect replication clients to the shard directly.");
    co_return;
  }
  routing::StartupIdentity sid;
  if (auto* u = startup->get("user")) sid.user = *u;
  if (auto* d = startup->get("database")) sid.database = *d;
  if (auto* o = startup->get("options")) sid.options = *o;
  auto resolved = routing::resolve_identity(sid, config);
  if (auto* err = std::get_if<routing::RouteError>(&resolved)) {
    co_await send_fatal(*err);
    co_return;
  }
  auto identity = std::get<routing::Identity>(std::move(resolved));
  log_.user = identity.login_user;

  const config::UserConfig* user = config.find_user(identity.login_user);
  auto auth = co_await authenticate_client(client_, client_buf_, user, identity.login_user, *runtime_);
  if (!auth.ok()) {
    if (auth.kind != AuthOutcome::Kind::kDisconnected)
      co_await send_error("FATAL", auth.sqlstate, auth.message);
    co_return;
  }

  if (!identity.tenant) {
    if (!session_source_enabled(config)) {
      co_await send_fatal(routing::no_tenant_error(config, true));
      co_return;
    }
    key_ = services_.cancels.issue();
    co_await send_welcome(*startup);
    co_await serve_without_tenant();
    co_return;
  }
  log_.tenant = *identity.tenant;
  if (auto denied = routing::check_tenant_allowed(*user, *identity.tenant)) {
    co_await send_fatal(*denied);
    co_return;
  }
  auto routed = routing::route_tenant(*identity.tenant, config, *runtime_->directory);
  if (auto* err = std::get_if<routing::RouteError>(&routed)) {
    co_await send_fatal(*err);
    co_return;
  }
  const auto& route = std::get<routing::Route>(routed);
  log_.shard = route.placement.shard;
  if (!co_await connect_server(route, *startup, identity)) co_return;
  key_ = services_.cancels.issue();
  services_.cancels.set_target(*key_, server_->cancel_target());
  log_event(spdlog::level::info, "client connected", &log_);
  co_await send_welcome(*startup);
  co_await relay();
  log_event(spdlog::level::info, "client disconnected", &log_);
}

awaitable<bool> ClientSession::connect_server(const routing::Route& route,
                                              const protocol::StartupMessage& startup,
                                              const routing::Identity& identity) {
  const config::Config& config = *runtime_->config;
  pool::ConnectTarget target;
  target.shard = route.shard->name;
  target.host = route.shard->host;
  target.port = route.shard->port;
  target.user = route.shard->user;
  target.password = route.shard->password;
  target.database = route.placement.isolation == config::Isolation::kDatabase &&
                            !route.placement.database.empty()
                        ? route.placement.database
                        : route.shard->dbname;
  for (const auto& [name, value] : startup.params)
    if (!is_proxy_param(name)) target.params.emplace_back(name, value);
  if (!identity.passthrough_options.empty())
    target.params.emplace_back("options", routing::format_options(identity.passthrough_options));

  server_ = std::make_unique<pool::ServerConnection>(client_.get_executor());
  auto result = co_await server_->connect(target, config.connect_timeout);
  if (!result.ok()) {
    log_event(spdlog::level::warn, "shard connection failed", &log_, {{"reason", result.message}});
    std::string sqlstate = result.kind == pool::ServerResult::Kind::kUnreachable ? "08006" : "08006";
    co_await send_error("FATAL", sqlstate,
                        "shard \"" + route.shard->name + "\" is unavailable for tenant \"" +
                            route.tenant + "\": " + result.message,
                        "Retry later; other tenants' shards are not affected. Operators: check "
                        "that the shard is up and shardgate's shard credentials are right.");
    co_return false;
  }
  auto context = routing::tenant_context_sql(route.tenant, route.placement, *route.tier);
  result = co_await server_->run(context, config.connect_timeout);
  if (!result.ok()) {
    log_event(spdlog::level::err, "could not set tenant context", &log_,
              {{"reason", result.message}});
    co_await send_error("FATAL", result.sqlstate.empty() ? "08006" : result.sqlstate,
                        "could not set the context of tenant \"" + route.tenant + "\" on shard \"" +
                            route.shard->name + "\": " + result.message,
                        "Check the tier's role and the tenant's schema on the shard.");
    co_return false;
  }
  co_return true;
}

awaitable<void> ClientSession::send_welcome(const protocol::StartupMessage& startup) {
  Bytes out;
  if (server_) {
    for (const auto& [name, value] : server_->parameters())
      protocol::encode_parameter_status(out, name, value);
  } else {
    // No server yet: report the values PostgreSQL would, honouring what the client asked for.
    auto param = [&](std::string_view name, std::string_view fallback) {
      const std::string* v = startup.get(name);
      protocol::encode_parameter_status(out, name, v ? std::string_view(*v) : fallback);
    };
    protocol::encode_parameter_status(out, "server_version", "15.0 (shardgate)");
    protocol::encode_parameter_status(out, "server_encoding", "UTF8");
    param("client_encoding", "UTF8");
    param("DateStyle", "ISO, MDY");
    param("TimeZone", "UTC");
    param("IntervalStyle", "postgres");
    param("application_name", "");
    protocol::encode_parameter_status(out, "integer_datetimes", "on");
    protocol::encode_parameter_status(out, "standard_conforming_strings", "on");
    protocol::encode_parameter_status(out, "is_superuser", "off");
    protocol::encode_parameter_status(out, "session_authorization", log_.user);
  }
  protocol::encode_backend_key_data(out, key_->pid, key_->secret);
  protocol::encode_ready_for_query(out, 'I');
  co_await write_bytes(client_, out);
}

awaitable<void> ClientSession::serve_without_tenant() {
  // Session switching (SET shardgate.tenant) is answered here once the transaction-pooling
  // work lands; until a tenant is set every statement gets 28000 and the connection stays up.
  const auto error = routing::no_tenant_error(*runtime_->config, false);
  bool skipping = false;  // extended protocol: after an error, skip to Sync
  for (;;) {
    auto [ec, frame] = co_await read_message(client_, client_buf_);
    if (ec) co_return;
    if (frame.status == protocol::FrameStatus::kError) {
      co_await send_error("FATAL", "08P01", std::string("invalid message: ") + std::string(frame.error));
      co_return;
    }
    char type = frame.type;
    client_buf_.consume(frame.size);
    Bytes out;
    switch (type) {
      case protocol::fe::kTerminate:
        co_return;
      case protocol::fe::kQuery:
        protocol::encode_error(out, "ERROR", error.sqlstate, error.message, error.hint);
        protocol::encode_ready_for_query(out, 'I');
        break;
      case protocol::fe::kSync:
        skipping = false;
        protocol::encode_ready_for_query(out, 'I');
        break;
      case protocol::fe::kFlush:
        break;
      default:
        if (!skipping) protocol::encode_error(out, "ERROR", error.sqlstate, error.message, error.hint);
        skipping = true;
    }
    if (!out.empty() && co_await write_bytes(client_, out)) co_return;
  }
}

}  // namespace shardgate::proxy
