// Statements shardgate answers or refuses itself: session-level tenant switching
// (SET/RESET/SHOW shardgate.tenant, and SET search_path for the search_path source) and the
// guard's verdicts.
#include <cstdio>
#include <deque>

#include "pool/wire_io.h"
#include "protocol/messages.h"
#include "proxy/session/client_session.h"
#include "proxy/session/statement_policy.h"
#include "proxy/session/statement_text.h"
#include "proxy/tenants/pool_spec.h"
#include "routing/guard/plain_statement.h"
#include "routing/guard/search_path.h"
#include "routing/tenant_context.h"

namespace shardgate::proxy {

namespace {

using routing::SessionCommandKind;

bool is_tenant_command(SessionCommandKind k) {
  return k == SessionCommandKind::kSetTenant || k == SessionCommandKind::kResetTenant ||
         k == SessionCommandKind::kShowTenant;
}

routing::RouteError refused(std::string message, std::string hint = {}) {
  return {"42501", std::move(message), std::move(hint)};
}

}  // namespace

ClientSession::StatementAction ClientSession::classify(std::string_view sql) {
  StatementAction action;
  if (routing::is_plain_statement(sql)) {
    // Nothing in it the guard could refuse or shardgate must answer: no parse, no cache entry.
    static const auto kPlain = [] {
      auto info = std::make_shared<routing::StatementInfo>();
      info->parsed = true;
      info->statement_count = 1;
      return std::shared_ptr<const routing::StatementInfo>(std::move(info));
    }();
    action.info = kPlain;
    return action;
  }
  action.info = worker_->statement_cache.get(sql);
  const config::Config& config = *runtime_->config;
  const auto& session = action.info->session;
  if (is_tenant_command(session.kind)) {
    if (source_enabled(config, config::TenantSource::kSession)) {
      action.kind = StatementAction::Kind::kSessionCommand;
    } else {
      action.kind = StatementAction::Kind::kRefuse;
      action.sqlstate = "42501";
      action.message = "session-level tenant switching is not enabled on this shardgate";
      action.hint = "Name the tenant when connecting, or add `session` to tenant.sources.";
    }
    return action;
  }
  if (session.kind == SessionCommandKind::kSetSearchPath) {
    // The tenant's own schemas: applied as written (vet_request notes it). Otherwise, with the
    // search_path tenant source, a switch to the tenant whose schema comes first.
    if (route_ && config.guard.enabled && search_path_allowed(session.schemas)) return action;
    if (source_enabled(config, config::TenantSource::kSearchPath)) {
      action.kind = StatementAction::Kind::kSessionCommand;
      return action;
    }
  }
  if (route_ && config.guard.enabled) {
    auto verdict = routing::judge(*action.info, guard_policy(*route_, config));
    if (!verdict.allowed) {
      action.kind = StatementAction::Kind::kRefuse;
      action.sqlstate = std::move(verdict.sqlstate);
      action.message = std::move(verdict.message);
      action.hint = std::move(verdict.hint);
    }
  }
  refuse_session_state(action);  // with the guard on or off: a pooling rule
  if (route_ && config.guard.enabled && action.kind == StatementAction::Kind::kForward)
    scope_channels(action);
  return action;
}

void ClientSession::log_refusal(std::string_view sql, const StatementAction& action) const {
  if (!log_enabled(spdlog::level::info)) return;
  log_event(spdlog::level::info, "statement refused", &log_,
            {{"sqlstate", action.sqlstate},
             {"reason", action.message},
             {"statement", truncate_statement(sql)}});
}

std::optional<routing::RouteError> ClientSession::apply_session_command(
    const routing::SessionCommand& cmd) {
  std::string tenant;
  switch (cmd.kind) {
    case SessionCommandKind::kShowTenant:
      return std::nullopt;
    case SessionCommandKind::kResetTenant:
      route_.reset();
      drop_tenant_state();
      pool_cache_ = nullptr;
      log_.tenant.clear();
      log_.shard.clear();
      return std::nullopt;
    case SessionCommandKind::kSetTenant:
    case SessionCommandKind::kSetSearchPath:
      if (auto err = switch_target(cmd, tenant)) return err;
      break;
    case SessionCommandKind::kNone:
      return std::nullopt;
  }
  if (!route_ || route_->tenant != tenant) {
    std::optional<routing::Route> previous = route_;
    if (auto err = route_to(tenant)) {
      route_ = std::move(previous);
      return err;
    }
    log_event(spdlog::level::debug, "tenant switched", &log_);
  }
  if (cmd.kind == SessionCommandKind::kSetSearchPath) {
    std::string text = routing::search_path_text(cmd.schemas);
    set_search_path(text == default_search_path_ ? std::string() : std::move(text));
  }
  return std::nullopt;
}

std::optional<routing::RouteError> ClientSession::switch_target(const routing::SessionCommand& cmd,
                                                                std::string& tenant) const {
  if (cmd.kind == SessionCommandKind::kSetSearchPath) return search_path_switch_target(cmd, tenant);
  if (cmd.kind != SessionCommandKind::kSetTenant) return std::nullopt;
  if (cmd.local)
    return routing::RouteError{"0A000", "SET LOCAL shardgate.tenant is not supported",
                               "Use SET shardgate.tenant outside a transaction block."};
  tenant = cmd.value;
  if (!config::valid_tenant_id(tenant))
    return routing::RouteError{"3D000", "\"" + tenant + "\" is not a valid tenant id",
                               "Tenant ids are 1-63 characters of A-Z, a-z, 0-9, _ and -."};
  return std::nullopt;
}

std::optional<routing::RouteError> ClientSession::validate_session_command(
    const routing::SessionCommand& cmd) const {
  if (cmd.kind != SessionCommandKind::kSetTenant && cmd.kind != SessionCommandKind::kSetSearchPath)
    return std::nullopt;
  std::string tenant;
  if (auto err = switch_target(cmd, tenant)) return err;
  if (auto denied = routing::check_tenant_allowed(*user_, tenant)) return denied;
  auto routed = routing::route_tenant(tenant, *runtime_->config, *runtime_->directory);
  if (auto* err = std::get_if<routing::RouteError>(&routed)) return *err;
  return std::nullopt;
}

awaitable<void> ClientSession::release_session_server() {
  if (!server_) co_return;
  bool clean = server_->is_open() && exchange_.idle();
  if (clean) clean = co_await reusable_after_session();
  if (clean) {
    auto result = co_await server_->run("DISCARD ALL", runtime_->config->connect_timeout);
    clean = result.ok();
    server_->context_tenant.clear();
    server_->last_tenant.clear();  // clean: any tenant may have it next
    server_->prepared.clear();
    server_->settings.clear();
  }
  return_server(clean);
}

awaitable<ClientSession::Local> ClientSession::answer_session_command(
    const routing::SessionCommand& cmd) {
  protocol::Bytes out;
  std::string before = route_ ? route_->tenant : "";
  bool session_mode_server = server_ != nullptr;
  auto err = apply_session_command(cmd);
  if (err) {
    protocol::encode_error(out, "ERROR", err->sqlstate, err->message, err->hint);
  } else if (cmd.kind == SessionCommandKind::kShowTenant) {
    protocol::ColumnDesc col;
    col.name = "shardgate.tenant";
    protocol::encode_row_description(out, {col});
    protocol::encode_data_row(out, {route_ ? route_->tenant : std::string()});
    protocol::encode_command_complete(out, "SHOW");
  } else {
    protocol::encode_command_complete(
        out, cmd.kind == SessionCommandKind::kResetTenant ? "RESET" : "SET");
  }
  protocol::encode_ready_for_query(out, 'I');
  std::string after = route_ ? route_->tenant : "";
  if (session_mode_server && before != after) co_await release_session_server();
  auto ec = co_await write_bytes(client_, out);
  if (ec) co_return Local::kEnd;
  if (leave_for_owner()) co_return Local::kMoved;
  co_return Local::kAnswered;
}

std::optional<routing::RouteError> ClientSession::check_startup_settings() {
  const config::Config& config = *runtime_->config;
  // One rule for every path (routing/setting_rules.h); names compared as PostgreSQL does.
  auto check = [&](const std::string& raw_name,
                   const std::string& value) -> std::optional<routing::RouteError> {
    std::string name = routing::setting_key(raw_name);
    if (name.starts_with("shardgate.")) return std::nullopt;  // read by routing, never forwarded
    if (!routing::is_protected_setting(name, routing::SettingChange::kValue, value))
      return std::nullopt;
    auto why = routing::explain_protected_setting(name, identity_.tenant.value_or(""));
    return refused("shardgate refused the startup setting " + name + ": " + why.reason, why.hint);
  };
  // search_path, from the options or a startup parameter, is read apart from the others.
  std::optional<std::string> search_path;
  if (config.guard.enabled) {
    for (const auto& [name, value] : startup_.params) {
      if (routing::setting_key(name) == "search_path") {
        search_path = value;
        continue;
      }
      if (auto e = check(name, value)) return e;
    }
  }
  bool read_search_path =
      config.guard.enabled || source_enabled(config, config::TenantSource::kSearchPath);
  auto& options = identity_.passthrough_options;
  for (auto it = options.begin(); it != options.end();) {
    if (it->first == "search_path" && read_search_path) {
      search_path = it->second;
      it = options.erase(it);
      continue;
    }
    if (config.guard.enabled) {
      if (auto e = check(it->first, it->second)) return e;
    }
    ++it;
  }
  if (search_path) return read_startup_search_path(*search_path);
  return std::nullopt;
}

}  // namespace shardgate::proxy

namespace shardgate::proxy {

bool ClientSession::vet_request(char type, protocol::ByteSpan body, protocol::ByteSpan& raw,
                                protocol::Bytes& substitute,
                                std::optional<routing::SessionCommand>& command) {
  if (refuse_fast_path(type, raw, substitute)) return true;
  if (type != protocol::fe::kQuery && type != protocol::fe::kParse) return true;
  protocol::Reader r(body);
  std::string_view name;
  if (type == protocol::fe::kParse) name = r.cstr();
  std::string_view sql = r.cstr();
  if (!r.ok()) return true;  // malformed: the server answers as PostgreSQL would
  auto tail = r.rest();      // Parse: parameter types
  if (type == protocol::fe::kQuery && forward_memo_set_) {
    // answer_locally classified this very Query just before the checkout: plainly forwarded.
    forward_memo_set_ = false;
    if (sql == forward_memo_) return true;
  }
  StatementAction action = classify(sql);
  if (type == protocol::fe::kParse) forget_statement_marks(name);
  if (forget_own_statements(*action.info))
    action.kind = StatementAction::Kind::kSessionCommand;  // answered with a stand-in
  std::string replacement;
  if (action.kind == StatementAction::Kind::kForward) {
    note_search_path(*action.info);
    if (type == protocol::fe::kParse)
      note_parsed_settings(name, action.info);
    else
      settings_.note_statement(*action.info);
    note_session_state(*action.info);
    replacement = reset_text(type, name, *action.info);
    if (replacement.empty()) return true;
  } else if (action.kind == StatementAction::Kind::kScopeChannels) {
    replacement = channel_text(sql, *action.info);  // Parse keeps its parameter types
  } else if (action.kind == StatementAction::Kind::kRefuse) {
    log_refusal(sql, action);
    replacement = raise_in_server(action.sqlstate, action.message, action.hint);
    if (type == protocol::fe::kParse) {
      // The stand-in takes no parameters: Binds of this statement are sent without theirs.
      if (name.empty())
        unnamed_refusal_ = true;
      else
        refused_statements_.insert(std::string(name));
      tail = {};
    }
  } else if (!action.info->deallocated.empty()) {
    replacement = std::string(kNoopSetSql);
  } else {
    auto stand_in = session_command_stand_in(type, name, action.info->session, command);
    if (!stand_in) return false;
    replacement = std::move(*stand_in);
  }
  protocol::Writer w(substitute);
  w.begin(type);
  if (type == protocol::fe::kParse) w.cstr(name);
  w.cstr(replacement);
  if (type == protocol::fe::kParse) {
    if (tail.empty())
      w.i16(0);
    else
      w.raw(tail);
  }
  w.end();
  raw = protocol::ByteSpan(substitute);
  return true;
}

// What the server runs in place of a shardgate session command inside a checkout (the
// answer, a refusal raised by the server, or a no-op whose Bind performs the switch); empty
// when a simple Query is answered by shardgate once this checkout is over.
std::optional<std::string> ClientSession::session_command_stand_in(
    char type, std::string_view name, const routing::SessionCommand& cmd,
    std::optional<routing::SessionCommand>& command) {
  if (type == protocol::fe::kQuery && !exchange_.in_transaction()) {
    stop_for_local_ = true;
    return std::nullopt;
  }
  if (cmd.kind == routing::SessionCommandKind::kShowTenant) {
    return "SELECT " + routing::quote_literal(route_ ? route_->tenant : "") +
           "::text AS \"shardgate.tenant\"";
  }
  if (exchange_.in_transaction()) {
    return raise_in_server("25001", "the tenant cannot change inside a transaction block",
                           "Run SET shardgate.tenant before BEGIN or after COMMIT.");
  }
  if (auto err = validate_session_command(cmd))
    return raise_in_server(err->sqlstate, err->message, err->hint);
  // A Parse: the switch happens each time a Bind executes it.
  command = cmd;
  if (name.empty()) unnamed_command_ = cmd;
  return std::string(kNoopSetSql);
}

std::string ClientSession::raise_in_server(std::string_view sqlstate, std::string_view message,
                                           std::string_view hint) {
  ++raised_in_server_;
  return raise_sql(sqlstate, message, hint);
}

std::string ClientSession::rate_limit_message() const {
  char rate[32];
  std::snprintf(rate, sizeof rate, "%g", tenant_state_->queries_per_second.load());
  return "tenant \"" + route_->tenant + "\" exceeded " + rate + " queries per second";
}

std::string ClientSession::rate_limit_hint() {
  return "Slow down and retry; the limit is the tier's rate.queries_per_second (or the tenant's "
         "own override).";
}

void ClientSession::reject_over_rate(char type, protocol::ByteSpan body, protocol::Bytes& out,
                                     std::deque<Expectation>& expect) {
  std::string sql = raise_in_server("53400", rate_limit_message(), rate_limit_hint());
  log_event(spdlog::level::debug, "rate limited", &log_);
  if (type == protocol::fe::kQuery) {
    protocol::encode_query(out, sql);
    expect.push_back({protocol::fe::kQuery, false, {}});
    return;
  }
  // An Execute: run a throwaway portal over a statement that raises instead. Its error is the
  // client's Execute's error, and PostgreSQL skips the rest of the batch up to Sync.
  (void)body;
  constexpr std::string_view kName = "sg_rate_limited";
  protocol::encode_close(out, 'S', kName);
  expect.push_back({protocol::fe::kClose, true, {}});
  protocol::encode_parse(out, kName, sql);
  expect.push_back({protocol::fe::kParse, true, {}});
  protocol::BindMessage bind;
  bind.portal = std::string(kName);
  bind.statement = std::string(kName);
  protocol::encode_bind(out, bind);
  expect.push_back({protocol::fe::kBind, true, {}});
  protocol::encode_execute(out, kName, 0);
  expect.push_back({protocol::fe::kExecute, false, {}});
}

void ClientSession::forget_statement_marks(std::string_view name) {
  reset_statements_.erase(std::string(name));
  if (name.empty()) {
    unnamed_command_.reset();
    unnamed_refusal_ = false;
  } else if (!statements_.find(std::string(name))) {
    refused_statements_.erase(std::string(name));
  }
}

bool ClientSession::strip_refused_bind(protocol::ByteSpan body, protocol::Bytes& substitute) {
  protocol::Reader r(body);
  std::string_view portal = r.cstr();
  std::string_view statement = r.cstr();
  if (!r.ok()) return false;
  bool refused =
      statement.empty() ? unnamed_refusal_ : refused_statements_.contains(std::string(statement));
  if (!refused) return false;
  protocol::Writer w(substitute);
  w.begin(protocol::fe::kBind);
  w.cstr(portal);
  w.cstr(statement);
  w.i16(0);  // parameter formats
  w.i16(0);  // parameters
  w.i16(0);  // result formats
  w.end();
  return true;
}

void ClientSession::schedule_switch(const routing::SessionCommand& cmd) {
  if (exchange_.in_transaction()) {
    // Cannot be refused at this point of the protocol: fail closed once the transaction ends.
    log_event(spdlog::level::warn, "prepared tenant switch inside a transaction: tenant cleared",
              &log_);
    pending_switch_ =
        routing::SessionCommand{routing::SessionCommandKind::kResetTenant, {}, {}, false};
    return;
  }
  pending_switch_ = cmd;
}

bool ClientSession::deallocates_alone(const routing::StatementInfo& info) {
  return !info.deallocated.empty() && info.statement_count == 1;
}

bool ClientSession::forget_own_statements(const routing::StatementInfo& info) {
  if (!deallocates_alone(info)) return false;
  for (const auto& n : info.deallocated)
    if (!statements_.find(n)) return false;
  // DEALLOCATE of protocol-level statements: the server knows them under other names.
  for (const auto& n : info.deallocated) statements_.erase(n);
  return true;
}

}  // namespace shardgate::proxy
