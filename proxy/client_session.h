// One client connection, from its startup packet to its last byte: negotiation, tenant
// resolution, authentication, routing, the server connection and the relay between them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pool/asio.h"
#include "pool/read_buffer.h"
#include "pool/server_connection.h"
#include "protocol/startup.h"
#include "proxy/cancel_registry.h"
#include "proxy/log.h"
#include "proxy/runtime.h"
#include "routing/route.h"

namespace shardgate::proxy {

// What every session needs from the process; owned by the Proxy.
struct SessionServices {
  RuntimeHolder& runtime;
  CancelRegistry& cancels;
};

class ClientSession {
 public:
  ClientSession(tcp::socket socket, SessionServices& services, uint64_t id);
  ~ClientSession();

  awaitable<void> run();

  // Asks the session to end once its current transaction is over (SIGTERM). Must be called on
  // the session's executor.
  void request_shutdown();
  // Closes both sockets now (shutdown timeout passed).
  void force_close();

 private:
  // Reads the startup packet, answering SSL/GSSENC requests and serving cancel requests.
  awaitable<std::optional<protocol::StartupMessage>> read_startup();
  awaitable<bool> connect_server(const routing::Route& route,
                                 const protocol::StartupMessage& startup,
                                 const routing::Identity& identity);
  awaitable<void> send_welcome(const protocol::StartupMessage& startup);
  awaitable<void> relay();
  awaitable<void> serve_without_tenant();
  awaitable<void> send_error(std::string_view severity, std::string_view sqlstate,
                             std::string_view message, std::string_view hint = {});
  awaitable<void> send_fatal(const routing::RouteError& e) {
    return send_error("FATAL", e.sqlstate, e.message, e.hint);
  }

  tcp::socket client_;
  ReadBuffer client_buf_;
  SessionServices& services_;
  RuntimePtr runtime_;
  LogContext log_;
  std::optional<ClientKey> key_;
  std::unique_ptr<pool::ServerConnection> server_;
  std::optional<asio::steady_timer> shutdown_signal_;
  bool shutdown_requested_ = false;
  // Requests sent to the server whose ReadyForQuery has not come back yet.
  int pending_ = 0;
  char status_ = 'I';
};

}  // namespace shardgate::proxy
