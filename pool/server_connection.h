// One connection from shardgate to a shard's PostgreSQL server: connect, start up,
// authenticate (SCRAM-SHA-256, md5, cleartext, trust) and run control statements.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pool/asio.h"
#include "pool/keepalive.h"
#include "pool/pipeline.h"
#include "pool/prepared_lru.h"
#include "pool/read_buffer.h"
#include "pool/stream.h"

namespace shardgate::pool {

// How shardgate talks TLS to one shard: libpq's sslmode, and the OpenSSL context that
// carries the CA to check the shard against and the client certificate to show it.
enum class SslMode { kDisable, kPrefer, kRequire, kVerifyCa, kVerifyFull };
struct ShardTls {
  SslMode mode = SslMode::kDisable;
  std::shared_ptr<SSL_CTX> context;
};

struct ConnectTarget {
  std::string shard;  // name, for messages
  std::string host;
  uint16_t port = 5432;
  std::string user;
  std::string password;
  std::string database;
  // Extra startup parameters (application_name, client_encoding, options, ...).
  std::vector<std::pair<std::string, std::string>> params;
  KeepAlive keepalive;
  // TLS to the shard; null = sslmode disable.
  std::shared_ptr<const ShardTls> tls;
  // Field by field; `tls` by context (each reload builds new ones).
  bool operator==(const ConnectTarget&) const = default;
};

// Where to send a CancelRequest for this server connection.
struct CancelTarget {
  std::string host;
  uint16_t port = 0;
  int32_t pid = 0;
  int32_t secret = 0;
};

// The outcome of a server-side operation; `ok()` when nothing went wrong.
struct ServerResult {
  enum class Kind { kOk, kUnreachable, kRefused, kStatementFailed } kind = Kind::kOk;
  std::string sqlstate;  // the server's SQLSTATE where it sent one
  std::string message;
  bool ok() const { return kind == Kind::kOk; }
};

class ServerConnection {
 public:
  explicit ServerConnection(asio::any_io_executor executor) : stream_(executor) {}

  // Connects and authenticates; completes when the server is ReadyForQuery, or fails after
  // `timeout`.
  awaitable<ServerResult> connect(const ConnectTarget& target, std::chrono::milliseconds timeout);

  // Runs a simple query and reads up to ReadyForQuery. The first ErrorResponse is returned.
  awaitable<ServerResult> run(std::string_view sql, std::chrono::milliseconds timeout);

  Stream& stream() { return stream_; }
  ReadBuffer& buffer() { return buffer_; }
  const std::vector<std::pair<std::string, std::string>>& parameters() const { return params_; }
  CancelTarget cancel_target() const { return cancel_; }
  // The same, shared: handed to the cancel registry at every checkout without copying.
  std::shared_ptr<const CancelTarget> shared_cancel_target() {
    if (!shared_cancel_) shared_cancel_ = std::make_shared<const CancelTarget>(cancel_);
    return shared_cancel_;
  }
  char transaction_status() const { return status_; }
  void set_transaction_status(char s) { status_ = s; }
  bool is_open() const { return stream_.is_open(); }

  // False when the server closed the connection or sent something while idle (e.g. a FATAL
  // after an administrator terminated it): such a connection must not be reused.
  bool looks_alive();
  // Records a ParameterStatus the server reported.
  void set_parameter(std::string_view name, std::string_view value);
  const std::string* parameter(std::string_view name) const;

  // Pool bookkeeping: the tenant whose context this connection carries ("" = none or
  // unknown), and when it was created and last returned to its pool.
  std::string context_tenant;
  // The tenant of the last checkout: a different tenant gets the connection only after a
  // DISCARD ALL, so nothing of one tenant's session (temp tables, cursors, prepared
  // statements, settings) reaches another.
  std::string last_tenant;
  std::chrono::steady_clock::time_point created_at = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_used = created_at;
  uint64_t pool_generation = 0;
  // Names this connection's current stay in its pool's idle list (the idle watch's key); 0 while
  // no idle watch is armed.
  uint64_t idle_ticket = 0;
  char idle_probe = 0;  // the idle watch peeks one byte into here
  // Settings shardgate or its clients changed on this connection, by lower-case name: the
  // value, or nullopt when unknown; absent names are at the connection's defaults
  // (proxy/session_settings.h).
  std::map<std::string, std::optional<std::string>, std::less<>> settings;
  // Proxy-wide statement names prepared on this connection (transaction mode).
  PreparedLru prepared;
  // Other clients' requests queued behind the owner's (pipeline.h).
  Pipeline pipeline;

  // Sends Terminate (best effort) and closes the socket.
  awaitable<void> terminate();
  void close();

 private:
  // SSLRequest and the TLS handshake as the target's sslmode asks (server_tls_connect.cc).
  awaitable<ServerResult> negotiate_tls(const ConnectTarget& target);
  awaitable<ServerResult> startup(const ConnectTarget& target);
  awaitable<ServerResult> authenticate(const ConnectTarget& target);
  awaitable<ServerResult> read_until_ready();

  Stream stream_;
  ReadBuffer buffer_;
  std::vector<std::pair<std::string, std::string>> params_;
  CancelTarget cancel_;
  std::shared_ptr<const CancelTarget> shared_cancel_;
  char status_ = 'I';
};

// Opens a fresh connection to the target and sends a CancelRequest (fire and forget).
awaitable<void> send_cancel(const CancelTarget& target);

}  // namespace shardgate::pool
