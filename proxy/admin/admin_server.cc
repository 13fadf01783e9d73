#include "proxy/admin/admin_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "protocol/startup.h"
#include "proxy/auth/client_auth.h"
#include "proxy/runtime/accept_backoff.h"
#include "proxy/runtime/log.h"
#include "proxy/runtime/version.h"
#include "proxy/tls/negotiate_startup.h"

namespace shardgate::proxy {

namespace {

void encode_reply(protocol::Bytes& out, const AdminReply& reply) {
  if (!reply.ok()) {
    protocol::encode_error(out, "ERROR", reply.sqlstate, reply.message, reply.hint);
    return;
  }
  if (!reply.columns.empty()) {
    protocol::encode_row_description(out, reply.columns);
    for (const auto& row : reply.rows) protocol::encode_data_row(out, row);
    protocol::encode_command_complete(out, reply.tag + " " + std::to_string(reply.rows.size()));
  } else {
    protocol::encode_command_complete(out, reply.tag);
  }
}

}  // namespace

bool AdminServer::bind(const config::AdminConfig& config) {
  config_ = config;
  config::Config auth;
  if (!config.password.empty()) {
    config::UserConfig user;
    user.name = config.user;
    user.password = config.password;
    user.all_tenants = true;
    auth.users.push_back(user);
  }
  auth_runtime_ = make_runtime(std::move(auth), routing::Directory{});

  socket_path_ = config.socket_dir + "/.s.PGSQL." + std::to_string(config.port);
  error_code ec;
  // A socket file left by a process that died is replaced; a live one is not (bind fails).
  if (::access(socket_path_.c_str(), F_OK) == 0) {
    asio::local::stream_protocol::socket probe(io_);
    probe.connect(asio::local::stream_protocol::endpoint(socket_path_), ec);
    if (!ec) {
      log_event(spdlog::level::err, "admin socket is in use by another process", nullptr,
                {{"path", socket_path_}});
      return false;
    }
    ::unlink(socket_path_.c_str());
  }
  unix_acceptor_ = std::make_unique<asio::local::stream_protocol::acceptor>(io_);
  asio::local::stream_protocol::endpoint ep(socket_path_);
  unix_acceptor_->open(ep.protocol(), ec);
  if (!ec) unix_acceptor_->bind(ep, ec);
  if (!ec && ::chmod(socket_path_.c_str(), 0600) != 0)
    ec = error_code(errno, boost::system::system_category());
  if (!ec) unix_acceptor_->listen(64, ec);
  if (ec) {
    log_event(spdlog::level::err, "cannot open the admin socket", nullptr,
              {{"path", socket_path_}, {"error", ec.message()}});
    return false;
  }
  if (config.listen) {
    tcp_acceptor_ = std::make_unique<tcp::acceptor>(io_);
    auto address = asio::ip::make_address(config.listen->host, ec);
    tcp::endpoint tep(address, config.listen->port);
    if (!ec) tcp_acceptor_->open(tep.protocol(), ec);
    if (!ec) tcp_acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) tcp_acceptor_->bind(tep, ec);
    if (!ec) tcp_acceptor_->listen(64, ec);
    if (ec) {
      log_event(spdlog::level::err, "cannot listen for admin connections", nullptr,
                {{"address", config.listen->host + ":" + std::to_string(config.listen->port)},
                 {"error", ec.message()}});
      return false;
    }
  }
  if (!config.audit_log.empty()) {
    audit_file_.open(config.audit_log, std::ios::app);
    if (!audit_file_) {
      log_event(spdlog::level::err, "cannot open the audit log", nullptr,
                {{"path", config.audit_log}});
      return false;
    }
  }
  log_event(spdlog::level::info, "admin socket ready", nullptr, {{"path", socket_path_}});
  return true;
}

void AdminServer::start() {
  asio::co_spawn(io_, accept_unix(), asio::detached);
  if (tcp_acceptor_) asio::co_spawn(io_, accept_tcp(), asio::detached);
  asio::co_spawn(io_, sample_qps(), asio::detached);
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

void AdminServer::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
  if (unix_acceptor_) {
    ::unlink(socket_path_.c_str());
    unix_acceptor_.reset();
  }
}

awaitable<void> AdminServer::accept_unix() {
  co_await accept_each(
      *unix_acceptor_, "admin", [this](asio::local::stream_protocol::socket socket, const auto&) {
        // The wire helpers take tcp::socket; reads and writes on a stream socket do not depend on
        // its address family, so the Unix socket's descriptor is carried in one (never asked for
        // TCP endpoints or options).
        tcp::socket carried(io_);
        error_code ec;
        carried.assign(tcp::v4(), socket.release(), ec);
        if (!ec)
          asio::co_spawn(io_, session(std::move(carried), false, next_id_++), asio::detached);
      });
}

awaitable<void> AdminServer::accept_tcp() {
  co_await accept_each(*tcp_acceptor_, "admin-tcp", [this](tcp::socket socket, const auto&) {
    asio::co_spawn(io_, session(std::move(socket), true, next_id_++), asio::detached);
  });
}

awaitable<void> AdminServer::sample_qps() {
  asio::steady_timer timer(io_);
  absl::flat_hash_map<std::string, uint64_t> last;
  auto last_time = std::chrono::steady_clock::now();
  auto next_mark = last_time;
  for (;;) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(use_nothrow);
    if (ec) co_return;
    auto now = std::chrono::steady_clock::now();
    double seconds = std::chrono::duration<double>(now - last_time).count();
    last_time = now;
    absl::flat_hash_map<std::string, uint64_t> current;
    const bool due = now >= next_mark;
    std::vector<std::pair<std::string, uint64_t>> marks;
    ctx_.qps.clear();
    for (const auto& state : ctx_.tenants.snapshot()) {
      uint64_t q = state->queries.load(std::memory_order_relaxed);
      if (due) marks.emplace_back(state->tenant, q);
      auto it = last.find(state->tenant);
      if (it != last.end() && seconds > 0 && q >= it->second)
        ctx_.qps[state->tenant] = static_cast<double>(q - it->second) / seconds;
      current[state->tenant] = q;
    }
    last = std::move(current);
    if (due) {
      ctx_.query_window.mark(marks);
      next_mark = now + std::chrono::minutes(60 / QueryWindow::kMarksPerHour);
    }
  }
}

void AdminServer::audit(const std::string& user, const std::string& command,
                        const AdminReply& reply) {
  std::string result = reply.ok() ? "ok" : "error: " + reply.sqlstate + " " + reply.message;
  log_event(reply.ok() ? spdlog::level::info : spdlog::level::warn, "admin command", nullptr,
            {{"admin_user", user}, {"command", command}, {"result", result}});
  if (!audit_file_.is_open()) return;
  std::string line = "{\"time\":\"" + utc_timestamp() + "\",\"admin_user\":\"" + json_escape(user) +
                     "\",\"command\":\"" + json_escape(command) + "\",\"result\":\"" +
                     json_escape(result) + "\"}\n";
  std::lock_guard lock(audit_mu_);
  audit_file_ << line;
  audit_file_.flush();
}

namespace {

awaitable<void> send_fatal(Stream& socket, std::string_view sqlstate, std::string message) {
  protocol::Bytes out;
  protocol::encode_error(out, "FATAL", sqlstate, message);
  co_await write_bytes(socket, out);
}

// What a driver expects after authentication: parameters, a key (never used: cancel requests
// are ignored here) and ReadyForQuery.
void encode_welcome(protocol::Bytes& out, uint64_t id) {
  for (auto [name, value] : {std::pair<const char*, const char*>{"server_version", "15.0"},
                             {"server_encoding", "UTF8"},
                             {"client_encoding", "UTF8"},
                             {"DateStyle", "ISO, MDY"},
                             {"integer_datetimes", "on"},
                             {"standard_conforming_strings", "on"},
                             {"application_name", "shardgate admin"}})
    protocol::encode_parameter_status(out, name, value);
  protocol::encode_backend_key_data(out, 0, static_cast<int32_t>(id));
  protocol::encode_ready_for_query(out, 'I');
}

}  // namespace

// Startup: over TCP, TLS as the `tls` block says (the Unix socket declines it); cancel
// requests are ignored. The admin user's name once admitted and welcomed.
awaitable<std::optional<std::string>> AdminServer::admit(Stream& socket, ReadBuffer& buf,
                                                         bool over_tcp, uint64_t id) {
  RuntimePtr rt = ctx_.runtime.get();
  auto negotiated =
      co_await tls::negotiate_startup(socket, buf, over_tcp ? rt->client_tls() : nullptr);
  if (!negotiated.packet) {
    if (!negotiated.fatal.empty()) co_await send_fatal(socket, "08P01", negotiated.fatal);
    co_return std::nullopt;
  }
  auto* startup = std::get_if<protocol::StartupMessage>(&*negotiated.packet);
  if (!startup) co_return std::nullopt;
  std::string user;
  if (auto* u = startup->get("user")) user = *u;
  if (over_tcp && !socket.tls() && rt->config->tls.mode == config::TlsMode::kRequire) {
    co_await send_fatal(socket, "28000",
                        "TLS is required: connect with sslmode=require (tls.mode: require)");
    co_return std::nullopt;
  }
  if (user != config_.user) {
    co_await send_fatal(socket, "28000",
                        "the admin socket only accepts user \"" + config_.user + "\"");
    co_return std::nullopt;
  }
  protocol::Bytes out;
  if (!config_.password.empty()) {
    const auto& users = auth_runtime_->config->users;
    auto outcome =
        co_await authenticate_client(socket, buf, &users.front(), user, user, *auth_runtime_, out);
    if (!outcome.ok()) {
      if (outcome.kind != AuthOutcome::Kind::kDisconnected)
        co_await send_fatal(socket, outcome.sqlstate, outcome.message);
      log_event(spdlog::level::warn, "admin authentication failed", nullptr,
                {{"admin_user", user}, {"tcp", over_tcp ? "true" : "false"}});
      co_return std::nullopt;
    }
  } else if (over_tcp) {
    co_await send_fatal(socket, "28000", "admin over TCP needs admin.password");
    co_return std::nullopt;
  } else {
    protocol::encode_auth_ok(out);
  }
  encode_welcome(out, id);
  auto wec = co_await write_bytes(socket, out);
  if (wec) co_return std::nullopt;
  log_event(spdlog::level::info, "admin connected", nullptr,
            {{"admin_user", user}, {"tcp", over_tcp ? "true" : "false"}});
  co_return user;
}

// Runs one command (or answers an empty query) into `out`; progress goes out as NOTICEs.
awaitable<void> AdminServer::answer(Stream& socket, const std::string& user,
                                    const std::string& text, protocol::Bytes& out) {
  if (text.find_first_not_of(" \t\r\n;") == std::string::npos) {
    protocol::encode_empty_query_response(out);
    co_return;
  }
  auto parsed = routing::parse_admin_command(text);
  AdminReply reply;
  std::string label = "UNKNOWN";
  bool changes = false;
  if (auto* err = std::get_if<routing::AdminParseError>(&parsed)) {
    reply = AdminReply::error("42601", err->message, "SHOW HELP lists the commands.");
  } else {
    const auto& cmd = std::get<routing::AdminCommand>(parsed);
    label = cmd.label();
    changes = cmd.changes_state();
    try {
      NoticeSink notice = [&socket](std::string text) -> awaitable<void> {
        protocol::Bytes note;
        protocol::encode_notice(note, "NOTICE", "00000", text);
        co_await write_bytes(socket, note);
      };
      reply = co_await run_admin_command(ctx_, cmd, notice);
    } catch (const std::exception& e) {
      reply = AdminReply::error("XX000", std::string("admin command failed: ") + e.what());
    }
  }
  ctx_.counts.record(label, reply.ok());
  if (changes) audit(user, text, reply);
  encode_reply(out, reply);
}

awaitable<void> AdminServer::session(tcp::socket raw, bool over_tcp, uint64_t id) {
  Stream socket(std::move(raw));
  ReadBuffer buf;
  auto user = co_await admit(socket, buf, over_tcp, id);
  if (!user) co_return;
  protocol::Bytes out;
  bool skip_to_sync = false;
  for (;;) {
    auto [ec, frame] = co_await read_message(socket, buf, 1 << 20);
    if (ec) co_return;
    if (frame.status != protocol::FrameStatus::kFrame) {
      co_await send_fatal(socket, "08P01", "invalid message framing");
      co_return;
    }
    char type = frame.type;
    std::optional<std::string> sql;  // a copy: the frame is consumed before it is answered
    if (type == 'Q')
      if (auto text = protocol::decode_query(frame.body)) sql = std::string(*text);
    buf.consume(frame.size);
    out.clear();
    if (type == 'X') co_return;
    if (type == 'Q' && !sql) {
      co_await send_fatal(socket, "08P01", "malformed Query message");
      co_return;
    }
    if (type == 'Q') {
      co_await answer(socket, *user, *sql, out);
    } else if (type == 'S') {
      // The admin socket speaks the simple protocol only: refuse an extended batch once.
      if (skip_to_sync)
        protocol::encode_error(out, "ERROR", "0A000",
                               "the admin socket accepts simple queries only",
                               "Use psql, or a driver's simple-query mode.");
      skip_to_sync = false;
    } else {
      skip_to_sync = true;
      continue;
    }
    protocol::encode_ready_for_query(out, 'I');
    auto w = co_await write_bytes(socket, out);
    if (w) co_return;
  }
}

}  // namespace shardgate::proxy
