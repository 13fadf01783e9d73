// Ending a session from outside: SIGTERM drains, the shutdown timeout closes.
#include "proxy/client_session.h"

namespace shardgate::proxy {

void ClientSession::request_shutdown() {
  shutdown_requested_ = true;
  error_code ignored;
  if (!shutdown_signal_) {
    client_.cancel(ignored);  // between transactions: wake the read and say goodbye
  } else if (pending_ == 0 && status_ == 'I' && !unsynced_) {
    shutdown_signal_->cancel();  // inside a checkout but idle: end it now
  }
}

void ClientSession::force_close() {
  error_code ignored;
  client_.cancel(ignored);
  client_.close(ignored);
  if (server_) server_->close();
}

}  // namespace shardgate::proxy
