// Transaction mode: one checkout of a server connection, from the client's first message of
// a transaction to the server's ReadyForQuery 'I' with nothing else outstanding.
#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/context_prefix.h"
#include "proxy/session/prepared_statements.h"
#include "proxy/session/stream_scanner.h"
#include "routing/guard/setting_rules.h"

namespace shardgate::proxy {

namespace {

// Command tags after which the server's session state may no longer be what shardgate set.
bool resets_session_state(std::string_view tag) {
  return tag == "SET" || tag == "RESET" || tag.starts_with("DISCARD");
}

}  // namespace

void ClientSession::reset_checkout_state() {
  exchange_.reset();
  request_timing_.clear();
  state_dirty_ = false;
  discard_after_ = false;
  context_error_.clear();
  expect_.clear();
  settings_.clear_pending();
  prefix_reports_.clear();
}

awaitable<ClientSession::CheckoutEnd> ClientSession::run_checkout(const ContextPrefix& prefix) {
  reset_checkout_state();
  CheckoutEnd end = CheckoutEnd::kReleased;
  if (sequential_fits()) {
    auto done = co_await run_sequential(prefix);
    // Not finished sequentially (a slow statement, COPY from the client, an open transaction
    // block, a large row): the concurrent relay takes over where it stopped.
    if (done && *done == CheckoutEnd::kStale) co_return CheckoutEnd::kStale;  // nothing ran
    if (done)
      end = *done;
    else
      end = co_await run_relay(ContextPrefix{});
  } else {
    end = co_await run_relay(prefix);
  }
  if (finish_checkout(end)) co_await report_checkout_failure(end);
  co_return end;
}

bool ClientSession::finish_checkout(CheckoutEnd end) {
  request_timing_.clear();
  set_in_flight(false);
  if (state_dirty_) server_->context_tenant.clear();
  if (discard_after_) server_->close();  // a DEALLOCATE may have removed a shared statement
  return end == CheckoutEnd::kContextFailed || end == CheckoutEnd::kServerGone;
}

awaitable<void> ClientSession::report_checkout_failure(CheckoutEnd end) {
  protocol::Bytes out;
  if (end == CheckoutEnd::kContextFailed) {
    log_event(spdlog::level::err, "could not set tenant context", &log_,
              {{"reason", context_error_}});
    protocol::encode_error(out, "ERROR", "08006",
                           "could not set the context of tenant \"" + route_->tenant +
                               "\" on shard \"" + route_->placement.shard + "\": " + context_error_,
                           "Check the tier's role and the tenant's schema on the shard.");
    if (exchange_.awaiting_reply())
      protocol::encode_ready_for_query(out, 'I');
    else
      skip_to_sync_ = exchange_.unsynced();
  } else if (end == CheckoutEnd::kServerGone) {
    log_event(spdlog::level::warn, "shard connection lost", &log_);
    protocol::encode_error(out, session_mode() ? "FATAL" : "ERROR", "08006",
                           "lost the connection to shard \"" + route_->placement.shard +
                               "\" serving tenant \"" + route_->tenant + "\"",
                           "Retry the transaction; the shard may be restarting.", server_farewell_);
    server_farewell_.clear();
    if (exchange_.awaiting_reply())
      protocol::encode_ready_for_query(out, 'I');
    else
      skip_to_sync_ = exchange_.unsynced();
  }
  if (!out.empty()) {
    exchange_.reset();
    co_await write_bytes(client_, out);
  }
}

ClientSession::Added ClientSession::add_request(char type, protocol::ByteSpan raw,
                                                protocol::Bytes& out, RequestRewriter& rewriter,
                                                routing::TokenBucket::Clock::duration& throttle) {
  protocol::Bytes substitute;
  std::optional<routing::SessionCommand> command;
  if (!vet_request(type, raw.subspan(5), raw, substitute, command)) return Added::kStopped;
  if (type == protocol::fe::kBind && strip_refused_bind(raw.subspan(5), substitute))
    raw = protocol::ByteSpan(substitute);
  exchange_.sent(type);
  switch (type) {
    case protocol::fe::kQuery:
    case protocol::fe::kFunctionCall:
    case protocol::fe::kSync:
      begin_request(type, raw.subspan(5));
      break;
    case protocol::fe::kParse:
    case protocol::fe::kBind:
      if (slow_threshold().count() > 0) note_statement(type, raw.subspan(5));
      break;
    default:
      break;
  }
  std::string error;
  const routing::SessionCommand* bound = nullptr;
  bool rejected = false;
  bool counted = head_counted_ && type == protocol::fe::kQuery;
  head_counted_ = false;  // only the checkout's first message was counted beforehand
  // One query message, or one Execute, counts once against the tenant's rate.
  bool counts =
      (type == protocol::fe::kQuery || type == protocol::fe::kExecute) && tenant_state_ && !counted;
  if (counts && recount_skip_ > 0) {
    --recount_skip_;  // built again after a closed connection: the first attempt counted it
  } else if (counts) {
    ++queries_taken_;
    auto decision = tenant_state_->take_query();
    throttle = std::max(throttle, decision.delay);
    if (!decision.allowed) {
      ++rate_refusals_;
      reject_over_rate(type, raw.subspan(5), out, expect_);
      rejected = true;
    }
  }
  if (!rejected && !rewriter.add(type, raw.subspan(5), raw, out, expect_, &error,
                                 command ? &*command : nullptr, &bound)) {
    log_event(spdlog::level::warn, "client protocol error", &log_, {{"reason", error}});
    return Added::kProtocolError;
  }
  expect_reset_reply(type, raw.subspan(5), !rejected);
  note_portal_settings(type, raw.subspan(5), !rejected);
  if (type == protocol::fe::kBind) {
    if (!bound && unnamed_command_) {
      protocol::Reader br(raw.subspan(5));
      br.cstr();
      if (br.cstr().empty()) bound = &*unnamed_command_;
    }
    if (bound) schedule_switch(*bound);
  }
  return Added::kAdded;
}

bool ClientSession::absorb_prefix_response(char type, protocol::ByteSpan body, int& remaining) {
  if (type == protocol::be::kCommandComplete) {
    --remaining;
  } else if (type == protocol::be::kParameterStatus) {
    if (auto p = protocol::decode_parameter_status(body)) {
      server_->set_parameter(p->first, p->second);
      // A value the client was not told yet (its RESET went to the server's default and
      // the prefix set its startup value again): forwarded, as PostgreSQL would report it.
      int i = tracked_parameter_index(p->first);
      if (i >= 0 && client_seen_[i] && *client_seen_[i] != p->second) {
        client_seen_[i] = std::string(p->second);
        protocol::encode_parameter_status(prefix_reports_, p->first, p->second);
      }
    }
  } else if (type == protocol::be::kErrorResponse) {
    auto fields = protocol::decode_error_fields(body);
    context_error_ = fields ? fields->message() : "malformed error";
    return false;
  }
  return true;
}

void ClientSession::pass_reply(const ScannedFrame& f, protocol::ByteSpan data, protocol::Bytes& out,
                               bool& dropped, protocol::Bytes& scratch) {
  observe_server_message(f.type, f.body());
  protocol::ByteSpan whole = f.bytes;
  bool forward = deliverable(f.type, whole, expect_, scratch);
  bool as_is = forward && whole.data() == f.bytes.data();
  if (!as_is && !dropped) {  // from here on the client sees `out`: what came before, first
    dropped = true;
    out.assign(data.data(), f.bytes.data());
  }
  if (forward && dropped) out.insert(out.end(), whole.begin(), whole.end());
}

void ClientSession::observe_server_message(char type, protocol::ByteSpan body) {
  track_search_path(type, body);
  track_settings(type, body);
  switch (type) {
    case protocol::be::kReadyForQuery:
      if (body.size() == 1) {
        exchange_.ready(static_cast<char>(body[0]));
        finish_request();
      }
      break;
    case protocol::be::kErrorResponse:
      if (tenant_state_) {
        auto fields = protocol::decode_error_fields(body);
        tenant_state_->count_error(fields ? fields->sqlstate() : "XX");
      }
      break;
    case protocol::be::kParameterStatus:
      if (auto p = protocol::decode_parameter_status(body))
        server_->set_parameter(p->first, p->second);
      break;
    case protocol::be::kCommandComplete:
      if (auto tag = protocol::decode_command_complete(body)) {
        if (resets_session_state(*tag)) state_dirty_ = true;
        if (*tag == "DISCARD ALL" || *tag == "DEALLOCATE ALL") {
          server_->prepared.clear();
          statements_.clear();  // as in PostgreSQL: all of the client's statements are gone
          unnamed_command_.reset();
        } else if (*tag == "DEALLOCATE" && !session_mode()) {
          // A DEALLOCATE may have removed a statement other clients of the pool share. In
          // session mode the connection is this client's alone: it keeps it.
          discard_after_ = true;
        }
      }
      break;
    default:
      break;
  }
}

}  // namespace shardgate::proxy
