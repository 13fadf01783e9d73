// The client's settings and reported parameters: read from its startup packet, followed
// through its statements (session_settings.h has the rules), told to it as PostgreSQL would.
#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/context_prefix.h"
#include "routing/guard/setting_rules.h"

namespace shardgate::proxy {

void ClientSession::init_settings() {
  settings_ = SessionSettings{};
  // PostgreSQL applies the -c options first, then the other startup parameters.
  for (const auto& [name, value] : identity_.passthrough_options)
    settings_.add_startup(name, value);
  for (const auto& [name, value] : startup_.params)
    if (SessionSettings::is_startup_setting(name)) settings_.add_startup(name, value);
}

void ClientSession::send_parameters(
    protocol::Bytes& out, const std::vector<std::pair<std::string, std::string>>& server_params,
    bool client_values, protocol::Bytes* shared) {
  static_assert(std::tuple_size_v<decltype(client_seen_)> == std::size(kTrackedParameters));
  client_seen_ = {};
  // The order of ParameterStatus messages means nothing to a client: the shared ones go first.
  if (shared && shared->empty())
    for (const auto& [name, value] : server_params)
      if (tracked_parameter_index(name) < 0)
        protocol::encode_parameter_status(*shared, name, value);
  if (shared) out.insert(out.end(), shared->begin(), shared->end());
  for (const auto& [name, value] : server_params) {
    int tracked_index = tracked_parameter_index(name);
    if (tracked_index < 0) {
      if (!shared) protocol::encode_parameter_status(out, name, value);
      continue;
    }
    SessionSettings::Desired want;
    std::string_view reported = value;
    if (client_values) {
      want = settings_.desired(name);
      if (want.kind == SessionSettings::Kind::kValue) reported = want.value;
    }
    protocol::encode_parameter_status(out, name, reported);
    client_seen_[tracked_index] = reported;
  }
}

void ClientSession::track_settings(char type, protocol::ByteSpan body) {
  switch (type) {
    case protocol::be::kErrorResponse:
      settings_.note_failure();
      break;
    case protocol::be::kCommandComplete:
      if (auto tag = protocol::decode_command_complete(body); tag && *tag == "ROLLBACK")
        settings_.note_failure();
      break;
    case protocol::be::kParameterStatus:
      if (auto p = protocol::decode_parameter_status(body)) {
        settings_.note_report(p->first, p->second);
        if (int i = tracked_parameter_index(p->first); i >= 0)
          client_seen_[i] = std::string(p->second);
      }
      break;
    case protocol::be::kReadyForQuery:
      if (body.size() == 1 && server_)
        settings_.ready(static_cast<char>(body[0]), server_->settings);
      break;
    default:
      break;
  }
}

awaitable<bool> ClientSession::send_prefix_reports() {
  protocol::Bytes reports;
  reports.swap(prefix_reports_);
  auto ec = co_await write_bytes(client_, reports);
  co_return !ec;
}

}  // namespace shardgate::proxy
