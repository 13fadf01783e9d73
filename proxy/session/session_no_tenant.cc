// Extended-protocol messages while no tenant is set. Only session commands can run then, and
// with no server connection to answer for shardgate it answers them itself; anything else gets
// 28000 (and the rest of the batch is skipped up to Sync, as PostgreSQL does after an error).
#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/statement_policy.h"
#include "proxy/tenants/pool_spec.h"

namespace shardgate::proxy {

namespace {

void encode_empty(protocol::Bytes& out, char type) {
  protocol::Writer w(out);
  w.begin(type);
  w.end();
}

// The Parse tail (text + no parameter types) of the harmless stand-in for a session command.
protocol::Bytes noop_parse_tail() {
  protocol::Bytes tail;
  protocol::Writer w(tail);
  w.cstr(kNoopSetSql);
  w.i16(0);
  return tail;
}

}  // namespace

void ClientSession::refuse_without_tenant(protocol::Bytes& out) {
  auto e = routing::no_tenant_error(*runtime_->config, false);
  protocol::encode_error(out, "ERROR", e.sqlstate, e.message, e.hint);
  skip_to_sync_ = true;
}

void ClientSession::parse_without_tenant(protocol::ByteSpan body, protocol::Bytes& out) {
  protocol::Reader r(body);
  std::string name(r.cstr());
  std::string_view sql = r.cstr();
  if (!r.ok()) return refuse_without_tenant(out);
  StatementAction action = classify(sql);
  if (action.kind != StatementAction::Kind::kSessionCommand) return refuse_without_tenant(out);
  if (auto err = validate_session_command(action.info->session)) {
    protocol::encode_error(out, "ERROR", err->sqlstate, err->message, err->hint);
    skip_to_sync_ = true;
    return;
  }
  if (name.empty()) {
    unnamed_command_ = action.info->session;
  } else {
    ClientStatements::Entry entry{worker_->statements.intern(noop_parse_tail()),
                                  action.info->session};
    statements_.put(name, std::move(entry));
  }
  encode_empty(out, protocol::be::kParseComplete);
}

void ClientSession::bind_without_tenant(protocol::ByteSpan body, protocol::Bytes& out) {
  protocol::Reader r(body);
  r.cstr();
  std::string statement(r.cstr());
  const ClientStatements::Entry* e = statement.empty() ? nullptr : statements_.find(statement);
  if (statement.empty() && unnamed_command_)
    portal_command_ = unnamed_command_;
  else if (e && e->command)
    portal_command_ = e->command;
  else
    return refuse_without_tenant(out);
  encode_empty(out, protocol::be::kBindComplete);
}

void ClientSession::execute_without_tenant(protocol::Bytes& out) {
  if (!portal_command_) return refuse_without_tenant(out);
  routing::SessionCommand cmd = std::move(*portal_command_);
  portal_command_.reset();
  if (auto err = apply_session_command(cmd)) {
    protocol::encode_error(out, "ERROR", err->sqlstate, err->message, err->hint);
    skip_to_sync_ = true;
  } else if (cmd.kind == routing::SessionCommandKind::kShowTenant) {
    protocol::encode_data_row(out, {route_ ? route_->tenant : std::string()});
    protocol::encode_command_complete(out, "SHOW");
  } else {
    protocol::encode_command_complete(
        out, cmd.kind == routing::SessionCommandKind::kResetTenant ? "RESET" : "SET");
  }
}

awaitable<ClientSession::Local> ClientSession::answer_without_tenant(char type,
                                                                     protocol::ByteSpan body,
                                                                     size_t size) {
  protocol::Bytes out;
  protocol::Reader r(body);
  switch (type) {
    case protocol::fe::kParse:
      parse_without_tenant(body, out);
      break;
    case protocol::fe::kBind:
      bind_without_tenant(body, out);
      break;
    case protocol::fe::kDescribe: {
      char kind = static_cast<char>(r.u8());
      if (kind == 'S') {
        protocol::Writer w(out);
        w.begin(protocol::be::kParameterDescription);
        w.i16(0);
        w.end();
      }
      encode_empty(out, protocol::be::kNoData);
      break;
    }
    case protocol::fe::kExecute:
      execute_without_tenant(out);
      break;
    case protocol::fe::kClose: {
      char kind = static_cast<char>(r.u8());
      std::string name(r.cstr());
      if (kind == 'S') {
        if (name.empty())
          unnamed_command_.reset();
        else
          statements_.erase(name);
      }
      encode_empty(out, protocol::be::kCloseComplete);
      break;
    }
    default:
      refuse_without_tenant(out);
  }
  client_buf_.consume(size);
  if (!out.empty()) {
    auto ec = co_await write_bytes(client_, out);
    if (ec) co_return Local::kEnd;
  }
  if (leave_for_owner()) co_return Local::kMoved;
  co_return Local::kAnswered;
}

}  // namespace shardgate::proxy
