// RESET of a setting the client gave at startup goes to its startup value, as PostgreSQL's
// does (reset_rewrite.h has the rule): the statement is replaced on its way to the server and
// the client sees the tag of the statement it sent.
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/reset_rewrite.h"

namespace shardgate::proxy {

std::string ClientSession::reset_text(char type, std::string_view statement,
                                      const routing::StatementInfo& info) {
  reset_reply_.reset();
  if (!info.lone_reset || !route_) return {};
  ResetContext ctx;
  ctx.settings = &settings_;
  if (route_->placement.isolation == config::Isolation::kSchema)
    ctx.search_path = default_search_path_;  // where shardgate's RESET ALL sends it too
  ctx.tenant = route_->tenant;
  ctx.simple_query = type == protocol::fe::kQuery;
  auto rewrite = rewrite_reset(*info.lone_reset, ctx);
  if (!rewrite) return {};
  std::string sql = std::move(rewrite->sql);
  if (type == protocol::fe::kParse && !rewrite->tag.empty())
    reset_statements_.insert(std::string(statement));  // its Executes complete as RESET
  else if (!rewrite->tag.empty() || rewrite->hidden_completes > 0)
    reset_reply_ = std::move(*rewrite);
  return sql;
}

void ClientSession::expect_reset_reply(char type, protocol::ByteSpan body, bool sent) {
  // Per-message path: nothing to decode unless some statement or portal runs a rewritten RESET.
  bool tracking = !reset_statements_.empty() || !reset_portals_.empty();
  protocol::Reader r(body);
  if (type == protocol::fe::kBind) {
    if (!tracking) return;
    // Which portals run a rewritten RESET (a Bind replaces the portal's statement).
    std::string portal(r.cstr());
    std::string statement(r.cstr());
    if (r.ok() && reset_statements_.contains(statement))
      reset_portals_.insert(std::move(portal));
    else
      reset_portals_.erase(portal);
    return;
  }
  bool expected = sent && !expect_.empty() && expect_.back().request == type;
  if (type == protocol::fe::kExecute) {
    if (!expected || reset_portals_.empty()) return;
    std::string portal(r.cstr());
    if (r.ok() && reset_portals_.contains(portal)) expect_.back().reset_tag = "RESET";
    return;
  }
  if (type != protocol::fe::kQuery) return;
  if (expected && reset_reply_) {
    expect_.back().reset_tag = std::move(reset_reply_->tag);
    expect_.back().hidden_completes = reset_reply_->hidden_completes;
  }
  reset_reply_.reset();
}

bool ClientSession::reset_reply(char type, protocol::ByteSpan& whole,
                                std::deque<Expectation>& expect, protocol::Bytes& scratch) {
  if (type != protocol::be::kCommandComplete || expect.empty()) return true;
  Expectation& head = expect.front();
  if (head.reset_tag.empty() && head.hidden_completes == 0) return true;
  if (head.request != protocol::fe::kQuery && head.request != protocol::fe::kExecute) return true;
  if (head.completes_seen++ > 0) return false;  // one of the SETs shardgate added
  if (head.reset_tag.empty()) return true;
  scratch.clear();
  protocol::encode_command_complete(scratch, head.reset_tag);
  whole = protocol::ByteSpan(scratch);
  return true;
}

}  // namespace shardgate::proxy
