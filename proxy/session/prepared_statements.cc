#include "proxy/session/prepared_statements.h"

#include <atomic>

#include "protocol/messages.h"

namespace shardgate::proxy {

namespace {

constexpr std::string_view kThrowaway = "sg_noop";
constexpr std::string_view kAbsent = "sg_absent";
constexpr std::string_view kDuplicate = "sg_duplicate";

void append_raw(protocol::Bytes& out, protocol::ByteSpan raw) {
  out.insert(out.end(), raw.begin(), raw.end());
}

void forget_prepared(const Expectation& e, pool::PreparedLru& server) {
  if (!e.prepared.empty()) server.erase(e.prepared);
}

}  // namespace

PreparedPtr StatementRegistry::intern(protocol::ByteSpan parse_tail) {
  std::string key(reinterpret_cast<const char*>(parse_tail.data()), parse_tail.size());
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    if (auto live = it->second.lock()) return live;
  }
  auto stmt = std::make_shared<PreparedStatement>();
  static std::atomic<uint64_t> next_id{1};
  stmt->name = "sg_" + std::to_string(next_id.fetch_add(1, std::memory_order_relaxed));
  protocol::Writer w(stmt->parse);
  w.begin(protocol::fe::kParse);
  w.cstr(stmt->name);
  w.raw(parse_tail);
  w.end();
  by_key_.insert_or_assign(std::move(key), stmt);
  if (by_key_.size() >= purge_at_) {
    absl::erase_if(by_key_, [](const auto& kv) { return kv.second.expired(); });
    purge_at_ = std::max<size_t>(1024, by_key_.size() * 2);
  }
  return stmt;
}

const ClientStatements::Entry* ClientStatements::find(const std::string& client_name) const {
  auto it = by_name_.find(client_name);
  return it == by_name_.end() ? nullptr : &it->second;
}

bool ClientStatements::put(const std::string& client_name, Entry entry) {
  if (by_name_.size() >= kMaxPerClient && !by_name_.contains(client_name)) return false;
  by_name_.insert_or_assign(client_name, std::move(entry));
  return true;
}

void RequestRewriter::ensure_prepared(const PreparedStatement& s, protocol::Bytes& out,
                                      std::deque<Expectation>& expect) {
  if (server_.contains(s.name)) return;
  if (auto evicted = server_.add(s.name)) {
    protocol::encode_close(out, 'S', *evicted);
    expect.push_back({protocol::fe::kClose, true, {}});
  }
  append_raw(out, s.parse);
  expect.push_back({protocol::fe::kParse, true, s.name});
}

RequestRewriter::Rewrite RequestRewriter::add_parse(protocol::ByteSpan body, protocol::Bytes& out,
                                                    std::deque<Expectation>& expect,
                                                    std::string* error,
                                                    const routing::SessionCommand* command) {
  protocol::Reader r(body);
  std::string name(r.cstr());
  if (!r.ok()) {
    *error = "malformed Parse message";
    return Rewrite::kError;
  }
  if (name.empty()) return Rewrite::kAsSent;
  if (client_.find(name)) {
    // PostgreSQL refuses to redefine a name (42P05). Let the server say so, with a
    // throwaway name that is closed first so it never lingers.
    protocol::encode_close(out, 'S', kDuplicate);
    expect.push_back({protocol::fe::kClose, true, {}});
    protocol::encode_parse(out, kDuplicate, "");
    expect.push_back({protocol::fe::kParse, true, {}});
    protocol::encode_parse(out, kDuplicate, "");
    expect.push_back({protocol::fe::kParse, false, {}});
    return Rewrite::kDone;
  }
  PreparedPtr stmt = registry_.intern(r.rest());
  const PreparedStatement& s = *stmt;
  ClientStatements::Entry entry{std::move(stmt), std::nullopt};
  if (command) entry.command = *command;
  if (!client_.put(name, std::move(entry))) {
    *error = "too many prepared statements on one connection (limit " +
             std::to_string(ClientStatements::kMaxPerClient) + ")";
    return Rewrite::kError;
  }
  if (server_.contains(s.name)) {
    // Already prepared here: a throwaway Parse gives the client its ParseComplete.
    protocol::encode_parse(out, kThrowaway, "");
    expect.push_back({protocol::fe::kParse, false, {}});
    protocol::encode_close(out, 'S', kThrowaway);
    expect.push_back({protocol::fe::kClose, true, {}});
    return Rewrite::kDone;
  }
  if (auto evicted = server_.add(s.name)) {
    protocol::encode_close(out, 'S', *evicted);
    expect.push_back({protocol::fe::kClose, true, {}});
  }
  append_raw(out, s.parse);
  expect.push_back({protocol::fe::kParse, false, s.name});
  return Rewrite::kDone;
}

RequestRewriter::Rewrite RequestRewriter::add_bind(protocol::ByteSpan body, protocol::Bytes& out,
                                                   std::deque<Expectation>& expect,
                                                   std::string* error,
                                                   const routing::SessionCommand** bound) {
  protocol::Reader r(body);
  std::string_view portal = r.cstr();
  std::string statement(r.cstr());
  if (!r.ok()) {
    *error = "malformed Bind message";
    return Rewrite::kError;
  }
  const ClientStatements::Entry* e = statement.empty() ? nullptr : client_.find(statement);
  if (!e) return Rewrite::kAsSent;  // unnamed, or unknown: the server answers as PostgreSQL would
  if (e->command && bound) *bound = &*e->command;
  const PreparedStatement* s = e->statement.get();
  ensure_prepared(*s, out, expect);
  protocol::Writer w(out);
  w.begin(protocol::fe::kBind);
  w.cstr(portal);
  w.cstr(s->name);
  w.raw(r.rest());
  w.end();
  expect.push_back({protocol::fe::kBind, false, {}});
  return Rewrite::kDone;
}

RequestRewriter::Rewrite RequestRewriter::add_describe_or_close(char type, protocol::ByteSpan body,
                                                                protocol::Bytes& out,
                                                                std::deque<Expectation>& expect,
                                                                std::string* error) {
  protocol::Reader r(body);
  char kind = static_cast<char>(r.u8());
  std::string name(r.cstr());
  if (!r.ok()) {
    *error = "malformed Describe/Close message";
    return Rewrite::kError;
  }
  if (kind != 'S' || name.empty()) return Rewrite::kAsSent;
  if (type == protocol::fe::kClose) {
    // The proxy-wide statement stays prepared for others; the client gets CloseComplete.
    client_.erase(name);
    protocol::encode_close(out, 'S', kAbsent);
    expect.push_back({protocol::fe::kClose, false, {}});
    return Rewrite::kDone;
  }
  const ClientStatements::Entry* e = client_.find(name);
  if (!e) return Rewrite::kAsSent;
  const PreparedStatement* s = e->statement.get();
  ensure_prepared(*s, out, expect);
  protocol::encode_describe(out, 'S', s->name);
  expect.push_back({protocol::fe::kDescribe, false, {}});
  return Rewrite::kDone;
}

bool RequestRewriter::add(char type, protocol::ByteSpan body, protocol::ByteSpan raw,
                          protocol::Bytes& out, std::deque<Expectation>& expect, std::string* error,
                          const routing::SessionCommand* command,
                          const routing::SessionCommand** bound) {
  Rewrite done = Rewrite::kAsSent;
  if (type == protocol::fe::kParse)
    done = add_parse(body, out, expect, error, command);
  else if (type == protocol::fe::kBind)
    done = add_bind(body, out, expect, error, bound);
  else if (type == protocol::fe::kDescribe || type == protocol::fe::kClose)
    done = add_describe_or_close(type, body, out, expect, error);
  if (done != Rewrite::kAsSent) return done == Rewrite::kDone;
  append_raw(out, raw);
  switch (type) {
    case protocol::fe::kParse:
    case protocol::fe::kBind:
    case protocol::fe::kDescribe:
    case protocol::fe::kClose:
    case protocol::fe::kExecute:
    case protocol::fe::kSync:
    case protocol::fe::kQuery:
    case protocol::fe::kFunctionCall:
      expect.push_back({type, false, {}});
      break;
    default:
      break;  // Flush, CopyData/Done/Fail: no response of their own
  }
  return true;
}

bool route_response(char type, bool whole, std::deque<Expectation>& expect,
                    pool::PreparedLru& server) {
  using namespace protocol;
  if (type == be::kNoticeResponse || type == be::kNotification || type == be::kParameterStatus)
    return true;
  if (expect.empty()) return true;
  Expectation& head = expect.front();
  if (type == be::kErrorResponse) {
    if (head.request == fe::kQuery || head.request == fe::kFunctionCall) return true;
    // An extended-protocol error: PostgreSQL skips everything up to the next Sync. Errors are
    // always the client's to see, even for a statement shardgate prepared on its behalf.
    forget_prepared(head, server);
    expect.pop_front();
    while (!expect.empty() && expect.front().request != fe::kSync) {
      forget_prepared(expect.front(), server);
      expect.pop_front();
    }
    return true;
  }
  bool forward = !head.swallow;
  if (!whole) return forward;
  if (type == be::kReadyForQuery) {
    // Ends the oldest Sync/Query; anything still queued before it got no response (skipped).
    while (!expect.empty()) {
      char req = expect.front().request;
      if (req != fe::kSync && req != fe::kQuery && req != fe::kFunctionCall)
        forget_prepared(expect.front(), server);
      expect.pop_front();
      if (req == fe::kSync || req == fe::kQuery || req == fe::kFunctionCall) break;
    }
    return true;
  }
  bool terminal = false;
  switch (head.request) {
    case fe::kParse:
      terminal = type == be::kParseComplete;
      break;
    case fe::kBind:
      terminal = type == be::kBindComplete;
      break;
    case fe::kClose:
      terminal = type == be::kCloseComplete;
      break;
    case fe::kDescribe:
      terminal = type == be::kRowDescription || type == be::kNoData;
      break;
    case fe::kExecute:
      terminal = type == be::kCommandComplete || type == be::kEmptyQueryResponse ||
                 type == be::kPortalSuspended;
      break;
    default:
      break;
  }
  if (terminal) expect.pop_front();
  return forward;
}

}  // namespace shardgate::proxy
