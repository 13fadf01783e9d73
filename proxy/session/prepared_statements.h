// Protocol-level prepared statements in transaction mode. A client's named statement gets a
// proxy-wide name ("sg_<n>", shared by every client that prepares the same text) and is
// prepared on demand on whichever server connection the client holds; each connection keeps
// an LRU of what it has prepared and Closes what it evicts.
//
// Rewrites never invent responses: a Parse of a statement the server already has becomes a
// Parse+Close of an empty throwaway statement (same ParseComplete, real and in order), and a
// client's Close becomes a Close of a name that does not exist (same CloseComplete). Messages
// shardgate adds itself have their responses swallowed. So the server's own response order is
// the client's, and only one coroutine ever writes to the client.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "pool/prepared_lru.h"
#include "protocol/bytes.h"
#include "routing/guard/statement.h"

namespace shardgate::proxy {

struct PreparedStatement {
  std::string name;       // proxy-wide name
  protocol::Bytes parse;  // a whole Parse message that prepares it under that name
};
using PreparedPtr = std::shared_ptr<const PreparedStatement>;

// Statements by (text, parameter types), per worker thread. Not thread-safe. Names are unique
// across all workers (sessions move between workers with their statements).
class StatementRegistry {
 public:
  // `parse_tail` is the Parse body after the statement name: query text and parameter types.
  PreparedPtr intern(protocol::ByteSpan parse_tail);
  size_t size() const { return by_key_.size(); }

 private:
  absl::flat_hash_map<std::string, std::weak_ptr<const PreparedStatement>> by_key_;
  size_t purge_at_ = 1024;
};

// One server response the client is owed (or that shardgate must swallow), in order.
struct Expectation {
  Expectation(char request_type = 0, bool swallowed = false, std::string prepares = {})
      : request(request_type), swallow(swallowed), prepared(std::move(prepares)) {}
  char request = 0;      // client request type: P B D E C S Q F
  bool swallow = false;  // shardgate's own message: drop its response
  std::string prepared;  // a Parse that prepares this proxy-wide name on the server
  // A Query whose RESET shardgate rewrote (reset_rewrite.h): the tag its first
  // CommandComplete shows (empty: the server's), and how many after it the client must not
  // see.
  std::string reset_tag;
  int hidden_completes = 0;
  int completes_seen = 0;
};

class ClientStatements {
 public:
  static constexpr size_t kMaxPerClient = 10000;
  struct Entry {
    PreparedPtr statement;
    // Set when the statement is a session command (SET shardgate.tenant ...): the server
    // gets a harmless SET in its place and every execution switches the tenant.
    std::optional<routing::SessionCommand> command;
  };
  const Entry* find(const std::string& client_name) const;
  bool put(const std::string& client_name, Entry entry);
  bool erase(const std::string& client_name) { return by_name_.erase(client_name) > 0; }
  void clear() { by_name_.clear(); }
  size_t size() const { return by_name_.size(); }

 private:
  absl::flat_hash_map<std::string, Entry> by_name_;
};

// Turns whole client messages into what the server must receive, pushing one Expectation per
// response-producing message. Pure: no I/O.
class RequestRewriter {
 public:
  RequestRewriter(StatementRegistry& registry, ClientStatements& client, pool::PreparedLru& server)
      : registry_(registry), client_(client), server_(server) {}

  // `raw` is the whole message (type, length, body). Returns false for a malformed message
  // or a client over its statement limit (`error` says which).
  // `command`: this Parse is a session command (body already carries the harmless stand-in).
  // `*bound` is set when a Bind binds such a statement.
  bool add(char type, protocol::ByteSpan body, protocol::ByteSpan raw, protocol::Bytes& out,
           std::deque<Expectation>& expect, std::string* error,
           const routing::SessionCommand* command = nullptr,
           const routing::SessionCommand** bound = nullptr);

 private:
  void ensure_prepared(const PreparedStatement& s, protocol::Bytes& out,
                       std::deque<Expectation>& expect);
  // What rewriting one message came to: done, an error, or nothing to rewrite (the message
  // goes to the server as the client sent it).
  enum class Rewrite { kDone, kError, kAsSent };
  Rewrite add_parse(protocol::ByteSpan body, protocol::Bytes& out, std::deque<Expectation>& expect,
                    std::string* error, const routing::SessionCommand* command);
  Rewrite add_bind(protocol::ByteSpan body, protocol::Bytes& out, std::deque<Expectation>& expect,
                   std::string* error, const routing::SessionCommand** bound);
  Rewrite add_describe_or_close(char type, protocol::ByteSpan body, protocol::Bytes& out,
                                std::deque<Expectation>& expect, std::string* error);
  StatementRegistry& registry_;
  ClientStatements& client_;
  pool::PreparedLru& server_;
};

// Matches one server message against the expectations: returns whether to forward it to the
// client, popping finished expectations. `whole` is false for a large message passing through
// in pieces (never a terminal one).
bool route_response(char type, bool whole, std::deque<Expectation>& expect,
                    pool::PreparedLru& server);

}  // namespace shardgate::proxy
