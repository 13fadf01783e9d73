// Authenticates a client against the configured user: SCRAM-SHA-256, md5, plain or trust.
#pragma once

#include <string>

#include "config/config.h"
#include "pool/asio.h"
#include "pool/read_buffer.h"
#include "pool/stream.h"
#include "proxy/runtime/runtime.h"

namespace shardgate::proxy {

struct AuthOutcome {
  enum class Kind { kOk, kFailed, kProtocolError, kDisconnected } kind = Kind::kOk;
  std::string sqlstate;
  std::string message;
  bool ok() const { return kind == Kind::kOk; }
};

// `user` is null for an unknown user name: the exchange still runs (so user names cannot be
// probed) and then fails with 28P01. `startup_user` is the name the client sent (with any
// tenant suffix): md5 hashes use it.
// On success the messages that end the exchange (SCRAM's final message, AuthenticationOk) are
// appended to `reply`, not sent: the caller sends them in one write with what follows (the
// welcome, or the error that ends the login), as PgBouncer does. That is a system call and,
// over TLS, a record fewer per login. On failure nothing is sent and `reply` is unchanged.
awaitable<AuthOutcome> authenticate_client(Stream& socket, ReadBuffer& buffer,
                                           const config::UserConfig* user,
                                           const std::string& user_name,
                                           const std::string& startup_user, const Runtime& runtime,
                                           protocol::Bytes& reply);

}  // namespace shardgate::proxy
