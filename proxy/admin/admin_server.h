// The admin socket: PostgreSQL simple-query protocol on a Unix socket
// (admin.socket_dir/.s.PGSQL.<admin.port>, mode 0600) and optionally TCP (admin.listen, needs
// admin.password, SCRAM). Runs on its own thread, never on a worker; commands are in
// admin_commands.h. Every state-changing command goes to the audit log.
#pragma once

#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/local/stream_protocol.hpp>

#include "pool/asio.h"
#include "pool/read_buffer.h"
#include "pool/stream.h"
#include "protocol/bytes.h"
#include "proxy/admin/commands.h"

namespace shardgate::proxy {

class AdminServer {
 public:
  explicit AdminServer(AdminContext& ctx) : ctx_(ctx) {}
  ~AdminServer() { stop(); }

  // Binds the socket(s); false (after logging why) when it cannot.
  bool bind(const config::AdminConfig& config);
  void start();
  void stop();
  const std::string& socket_path() const { return socket_path_; }

 private:
  awaitable<void> accept_unix();
  awaitable<void> accept_tcp();
  awaitable<void> session(tcp::socket socket, bool over_tcp, uint64_t id);
  awaitable<std::optional<std::string>> admit(Stream& socket, ReadBuffer& buf, bool over_tcp,
                                              uint64_t id);
  awaitable<void> answer(Stream& socket, const std::string& user, const std::string& text,
                         protocol::Bytes& out);
  awaitable<void> sample_qps();
  void audit(const std::string& user, const std::string& command, const AdminReply& reply);

  AdminContext& ctx_;
  config::AdminConfig config_;
  RuntimePtr auth_runtime_;  // the admin user as the only user, for SCRAM
  asio::io_context io_{1};
  std::unique_ptr<asio::local::stream_protocol::acceptor> unix_acceptor_;
  std::unique_ptr<tcp::acceptor> tcp_acceptor_;
  std::string socket_path_;
  std::thread thread_;
  std::mutex audit_mu_;
  std::ofstream audit_file_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace shardgate::proxy
