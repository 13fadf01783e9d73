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
        settings_.note_rollback();
      else if (tag && *tag == "COMMIT")
        settings_.note_commit();
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

namespace {
// More statements than this that change settings (a client preparing SETs of fresh values
// under fresh names): the oldest knowledge is dropped and a Parse's changes count at once.
constexpr size_t kMaxSettingStatements = 256;
}  // namespace

void ClientSession::note_parsed_settings(
    std::string_view statement, const std::shared_ptr<const routing::StatementInfo>& info) {
  if (!SessionSettings::reads(*info)) {
    if (setting_statements_) setting_statements_->statements.erase(std::string(statement));
    return;
  }
  if (!setting_statements_) setting_statements_ = SettingStatements{};
  auto& known = setting_statements_->statements;
  std::string key(statement);
  if (known.size() >= kMaxSettingStatements && !known.contains(key)) {
    settings_.note_statement(*info);
    return;
  }
  known[key] = info;
}

void ClientSession::note_portal_settings(char type, protocol::ByteSpan body, bool sent) {
  if (!setting_statements_ || (type != protocol::fe::kBind && type != protocol::fe::kExecute))
    return;
  auto& [statements, portals] = *setting_statements_;
  protocol::Reader r(body);
  std::string portal(r.cstr());
  if (type == protocol::fe::kBind) {
    auto it = statements.find(std::string(r.cstr()));
    if (!r.ok()) it = statements.end();
    if (it == statements.end()) {
      portals.erase(portal);
      return;
    }
    // Portals end with their transaction: past the limit, the old ones are long gone.
    if (portals.size() >= kMaxSettingStatements && !portals.contains(portal)) portals.clear();
    portals[portal] = it->second;
    return;
  }
  if (!sent || !r.ok()) return;
  if (auto it = portals.find(portal); it != portals.end()) settings_.note_statement(*it->second);
}

awaitable<bool> ClientSession::send_prefix_reports() {
  protocol::Bytes reports;
  reports.swap(prefix_reports_);
  auto ec = co_await write_bytes(client_, reports);
  co_return !ec;
}

}  // namespace shardgate::proxy
