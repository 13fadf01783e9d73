// LISTEN/NOTIFY channels are database-wide in PostgreSQL. shardgate keeps each tenant to its
// own: the channel names in a tenant's statements are renamed for the server
// (routing/channel_names.h), and notifications coming back are shown under the client's name
// or, when they are not the tenant's, never delivered.
#include "pool/server_liveness.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/prepared_statements.h"
#include "proxy/session/statement_policy.h"
#include "routing/guard/channel_names.h"

namespace shardgate::proxy {

void ClientSession::scope_channels(StatementAction& action) const {
  const routing::StatementInfo& info = *action.info;
  if (!info.channel_refusal.empty()) {
    action.kind = StatementAction::Kind::kRefuse;
    action.sqlstate = "42501";
    action.message = "shardgate refused " + info.channel_refusal +
                     ": LISTEN/NOTIFY channels are kept to each tenant (tenant \"" +
                     (route_ ? route_->tenant : std::string()) +
                     "\"), so shardgate must read the channel name in the statement";
    action.hint =
        "Write the channel name as a string literal in a statement the application sends, "
        "e.g. SELECT pg_notify('jobs', payload), not inside a function body.";
    return;
  }
  // LISTEN in transaction mode is the tier's session_state rule (refuse_session_state).
  if (info.channel_sites.empty()) return;
  action.kind = StatementAction::Kind::kScopeChannels;
}

std::string ClientSession::channel_text(std::string_view sql, const routing::StatementInfo& info) {
  const std::string& tenant = route_->tenant;
  for (const auto& site : info.channel_sites) {
    if (site.kind != routing::ChannelSite::Kind::kListen) continue;
    std::string server = routing::server_channel_name(tenant, site.channel);
    if (routing::is_hashed_channel(server)) hashed_channels_.insert_or_assign(server, site.channel);
  }
  return routing::rewrite_channels(sql, info, tenant);
}

bool ClientSession::deliverable(char type, protocol::ByteSpan& whole,
                                std::deque<Expectation>& expect, protocol::Bytes& scratch) {
  if (!reset_reply(type, whole, expect, scratch)) return false;
  if (!route_response(type, true, expect, server_->prepared)) return false;
  if (!session_mode() && pool::ends_connection(type, whole.subspan(5))) {
    // The server ends its connection (a shutdown, pg_terminate_backend): in transaction mode
    // the client's own connection goes on, so it is told 08006 with the server's words.
    auto fields = protocol::decode_error_fields(whole.subspan(5));
    server_farewell_ = fields ? fields->sqlstate() + ": " + fields->message() : "malformed FATAL";
    return false;
  }
  if (type == protocol::be::kErrorResponse && raised_in_server_ > 0) {
    scratch.clear();
    if (protocol::strip_error_context(whole.subspan(5), kRaiseContext, scratch)) {
      --raised_in_server_;
      whole = protocol::ByteSpan(scratch);
    }
    return true;
  }
  if (type != protocol::be::kNotification || !route_ || !runtime_->config->guard.enabled)
    return true;
  auto n = protocol::decode_notification(whole.subspan(5));
  if (!n) return false;  // what cannot be read cannot be shown to be the tenant's
  const std::string& tenant = route_->tenant;
  std::optional<std::string> client;
  if (routing::is_hashed_channel(n->channel)) {
    auto it = hashed_channels_.find(n->channel);
    // The name is checked again: the map may hold another tenant's names from before a switch.
    if (it != hashed_channels_.end() &&
        routing::server_channel_name(tenant, it->second) == n->channel)
      client = it->second;
  } else {
    client = routing::client_channel_name(tenant, n->channel);
  }
  if (!client) return false;
  scratch.clear();
  protocol::encode_notification(scratch, n->pid, *client, n->payload);
  whole = protocol::ByteSpan(scratch);
  return true;
}

}  // namespace shardgate::proxy
