#include "proxy/admin/command_parser.h"

#include <cctype>
#include <charconv>
#include <vector>

namespace shardgate::routing {

namespace {

struct Token {
  enum class Kind { kWord, kString, kIdent } kind = Kind::kWord;
  std::string text;  // words upper-cased for keyword matching; original kept in `raw`
  std::string raw;
};

std::optional<std::string> tokenize(std::string_view s, std::vector<Token>& out) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    if (c == ';') {
      // Only trailing semicolons (and whitespace) may follow.
      for (size_t j = i; j < s.size(); ++j)
        if (s[j] != ';' && !std::isspace(static_cast<unsigned char>(s[j])))
          return "one command at a time: nothing may follow ';'";
      return std::nullopt;
    }
    if (c == '\'' || c == '"') {
      char quote = static_cast<char>(c);
      std::string value;
      size_t j = i + 1;
      bool closed = false;
      while (j < s.size()) {
        if (s[j] == quote) {
          if (j + 1 < s.size() && s[j + 1] == quote) {
            value.push_back(quote);
            j += 2;
            continue;
          }
          closed = true;
          ++j;
          break;
        }
        value.push_back(s[j++]);
      }
      if (!closed) return "unterminated quoted name";
      out.push_back({quote == '\'' ? Token::Kind::kString : Token::Kind::kIdent, value, value});
      i = j;
      continue;
    }
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '%') {
      size_t j = i;
      while (j < s.size()) {
        unsigned char d = static_cast<unsigned char>(s[j]);
        if (!(std::isalnum(d) || d == '_' || d == '-' || d == '.' || d == '%')) break;
        ++j;
      }
      std::string raw(s.substr(i, j - i));
      std::string upper = raw;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      out.push_back({Token::Kind::kWord, upper, raw});
      i = j;
      continue;
    }
    return std::string("unexpected character '") + static_cast<char>(c) + "'";
  }
  return std::nullopt;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  bool at_end() const { return i_ >= t_.size(); }
  bool accept(std::string_view keyword) {
    if (!at_end() && t_[i_].kind == Token::Kind::kWord && t_[i_].text == keyword) {
      ++i_;
      return true;
    }
    return false;
  }
  // A name: a bare word (as written), or a quoted name.
  std::optional<std::string> name() {
    if (at_end()) return std::nullopt;
    return t_[i_++].raw;
  }
  std::optional<double> number() {
    if (at_end() || t_[i_].kind != Token::Kind::kWord) return std::nullopt;
    const std::string& s = t_[i_].raw;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
    ++i_;
    return v;
  }
  std::optional<config::Duration> duration() {
    if (at_end()) return std::nullopt;
    auto d = config::parse_duration(t_[i_].raw);
    if (d) ++i_;
    return d;
  }
  std::string rest() const { return at_end() ? "end of command" : "'" + t_[i_].raw + "'"; }

 private:
  std::vector<Token> t_;
  size_t i_ = 0;
};

using Result = std::variant<AdminCommand, AdminParseError>;

Result error(std::string message) { return AdminParseError{std::move(message)}; }

Result finish(Parser& p, AdminCommand cmd) {
  if (!p.at_end()) return error("unexpected " + p.rest() + " after " + cmd.label());
  return cmd;
}

Result parse_show(Parser& p) {
  static const std::pair<std::string_view, AdminVerb> kSimple[] = {
      {"HELP", AdminVerb::kShowHelp},       {"VERSION", AdminVerb::kShowVersion},
      {"CONFIG", AdminVerb::kShowConfig},   {"SHARDS", AdminVerb::kShowShards},
      {"POOLS", AdminVerb::kShowPools},     {"CLIENTS", AdminVerb::kShowClients},
      {"SERVERS", AdminVerb::kShowServers}, {"STATS", AdminVerb::kShowStats},
  };
  AdminCommand cmd;
  for (const auto& [word, verb] : kSimple) {
    if (p.accept(word)) {
      cmd.verb = verb;
      return finish(p, cmd);
    }
  }
  if (p.accept("TENANTS")) {
    cmd.verb = AdminVerb::kShowTenants;
    if (p.accept("LIKE")) {
      cmd.pattern = p.name();
      if (!cmd.pattern) return error("SHOW TENANTS LIKE needs a pattern, e.g. LIKE 'acme%'");
    }
    return finish(p, cmd);
  }
  if (p.accept("MOVES")) {
    cmd.verb = AdminVerb::kShowMoves;
    return finish(p, cmd);
  }
  if (p.accept("TENANT")) {
    cmd.verb = AdminVerb::kShowTenant;
    auto n = p.name();
    if (!n) return error("SHOW TENANT needs a tenant id");
    cmd.name = *n;
    return finish(p, cmd);
  }
  return error("unknown SHOW command " + p.rest() + "; try SHOW HELP");
}

Result parse_create(Parser& p) {
  if (!p.accept("TENANT")) return error("expected CREATE TENANT");
  AdminCommand cmd;
  cmd.verb = AdminVerb::kCreateTenant;
  auto n = p.name();
  if (!n) return error("CREATE TENANT needs a tenant id");
  cmd.name = *n;
  while (!p.at_end()) {
    if (p.accept("ON")) {
      if (!p.accept("SHARD")) return error("expected ON SHARD name");
      if (cmd.shard) return error("ON SHARD given twice");
      cmd.shard = p.name();
      if (!cmd.shard) return error("ON SHARD needs a shard name");
    } else if (p.accept("TIER")) {
      if (cmd.tier) return error("TIER given twice");
      cmd.tier = p.name();
      if (!cmd.tier) return error("TIER needs a tier name");
    } else if (p.accept("SCHEMA")) {
      if (cmd.schema) return error("SCHEMA given twice");
      cmd.schema = p.name();
      if (!cmd.schema) return error("SCHEMA needs a schema name");
    } else {
      return error("unexpected " + p.rest() + " in CREATE TENANT (ON SHARD s, TIER t, SCHEMA n)");
    }
  }
  return cmd;
}

Result parse_alter(Parser& p) {
  if (!p.accept("TENANT")) return error("expected ALTER TENANT");
  AdminCommand cmd;
  auto n = p.name();
  if (!n) return error("ALTER TENANT needs a tenant id");
  cmd.name = *n;
  if (!p.accept("SET")) return error("expected SET TIER | SET RATE | SET MAX_CLIENT_CONNECTIONS");
  if (p.accept("TIER")) {
    cmd.verb = AdminVerb::kAlterTenantTier;
    cmd.tier = p.name();
    if (!cmd.tier) return error("SET TIER needs a tier name");
    return finish(p, cmd);
  }
  bool rate = p.accept("RATE");
  if (rate || p.accept("MAX_CLIENT_CONNECTIONS")) {
    cmd.verb = rate ? AdminVerb::kAlterTenantRate : AdminVerb::kAlterTenantMaxClients;
    auto v = p.number();
    if (!v || *v > 1e9)
      return error(std::string(rate ? "SET RATE" : "SET MAX_CLIENT_CONNECTIONS") +
                   " needs a number from 0 (no limit) to 1000000000");
    if (!rate && *v != static_cast<double>(static_cast<int64_t>(*v)))
      return error("SET MAX_CLIENT_CONNECTIONS needs a whole number");
    cmd.number = *v;
    return finish(p, cmd);
  }
  return error("expected SET TIER | SET RATE | SET MAX_CLIENT_CONNECTIONS, got " + p.rest());
}

Result parse_pause(Parser& p, bool pause) {
  AdminCommand cmd;
  bool tenant = p.accept("TENANT");
  if (!tenant && !p.accept("SHARD"))
    return error(std::string(pause ? "PAUSE" : "RESUME") + " needs TENANT id or SHARD name");
  cmd.verb = tenant ? (pause ? AdminVerb::kPauseTenant : AdminVerb::kResumeTenant)
                    : (pause ? AdminVerb::kPauseShard : AdminVerb::kResumeShard);
  auto n = p.name();
  if (!n) return error(cmd.label() + " needs a name");
  cmd.name = *n;
  if (pause && p.accept("TIMEOUT")) {
    cmd.timeout = p.duration();
    if (!cmd.timeout) return error("TIMEOUT needs a duration such as 5s or 500ms");
  }
  return finish(p, cmd);
}

// MOVE TENANT id TO SHARD s [ONLINE | COPY] [PAUSE BUDGET d]
Result parse_move(Parser& p) {
  if (!p.accept("TENANT")) return error("expected MOVE TENANT id TO SHARD s");
  AdminCommand cmd;
  cmd.verb = AdminVerb::kMoveTenant;
  auto n = p.name();
  if (!n) return error("MOVE TENANT needs a tenant id");
  cmd.name = *n;
  if (!p.accept("TO") || !p.accept("SHARD"))
    return error("expected TO SHARD s after MOVE TENANT id");
  cmd.shard = p.name();
  if (!cmd.shard) return error("TO SHARD needs a shard name");
  bool mode_given = false;
  while (!p.at_end()) {
    bool online = p.accept("ONLINE");
    if (online || p.accept("COPY")) {
      if (mode_given) return error("ONLINE or COPY given twice");
      mode_given = true;
      cmd.copy_mode = !online;
    } else if (p.accept("PAUSE")) {
      if (!p.accept("BUDGET")) return error("expected PAUSE BUDGET duration");
      if (cmd.timeout) return error("PAUSE BUDGET given twice");
      cmd.timeout = p.duration();
      if (!cmd.timeout || cmd.timeout->count() <= 0)
        return error("PAUSE BUDGET needs a duration such as 500ms or 2s");
    } else {
      return error("unexpected " + p.rest() + " in MOVE TENANT (ONLINE | COPY, PAUSE BUDGET d)");
    }
  }
  return cmd;
}

Result parse_move_id(Parser& p, AdminCommand cmd) {
  auto v = p.number();
  if (!v || *v < 1 || *v > 1e15 || *v != static_cast<double>(static_cast<uint64_t>(*v)))
    return error(cmd.label() + " needs a move id (a whole number; SHOW MOVES lists them)");
  cmd.move_id = static_cast<uint64_t>(*v);
  return finish(p, cmd);
}

// DRAIN SHARD s / UNDRAIN SHARD s
Result parse_drain(Parser& p, bool drain) {
  AdminCommand cmd;
  cmd.verb = drain ? AdminVerb::kDrainShard : AdminVerb::kUndrainShard;
  if (!p.accept("SHARD")) return error("expected " + cmd.label() + " name");
  auto n = p.name();
  if (!n) return error(cmd.label() + " needs a shard name");
  cmd.name = *n;
  return finish(p, cmd);
}

// REBALANCE [PLAN] [BY SIZE | BY LOAD] [MAX MOVES n]
Result parse_rebalance(Parser& p) {
  AdminCommand cmd;
  cmd.verb = p.accept("PLAN") ? AdminVerb::kRebalancePlan : AdminVerb::kRebalance;
  bool by_given = false;
  while (!p.at_end()) {
    if (p.accept("BY")) {
      if (by_given) return error("BY given twice");
      by_given = true;
      cmd.by_load = p.accept("LOAD");
      if (!cmd.by_load && !p.accept("SIZE")) return error("expected BY SIZE or BY LOAD");
    } else if (p.accept("MAX")) {
      if (!p.accept("MOVES")) return error("expected MAX MOVES n");
      if (cmd.max_moves) return error("MAX MOVES given twice");
      auto v = p.number();
      if (!v || *v < 1 || *v > 10000 || *v != static_cast<double>(static_cast<uint64_t>(*v)))
        return error("MAX MOVES needs a whole number from 1 to 10000");
      cmd.max_moves = static_cast<uint64_t>(*v);
    } else {
      return error("unexpected " + p.rest() + " in " + cmd.label() +
                   " (BY SIZE | BY LOAD, MAX MOVES n)");
    }
  }
  return cmd;
}

}  // namespace

std::string AdminCommand::label() const {
  switch (verb) {
    case AdminVerb::kShowHelp:
      return "SHOW HELP";
    case AdminVerb::kShowVersion:
      return "SHOW VERSION";
    case AdminVerb::kShowConfig:
      return "SHOW CONFIG";
    case AdminVerb::kShowShards:
      return "SHOW SHARDS";
    case AdminVerb::kShowPools:
      return "SHOW POOLS";
    case AdminVerb::kShowClients:
      return "SHOW CLIENTS";
    case AdminVerb::kShowServers:
      return "SHOW SERVERS";
    case AdminVerb::kShowStats:
      return "SHOW STATS";
    case AdminVerb::kShowTenants:
      return "SHOW TENANTS";
    case AdminVerb::kShowTenant:
      return "SHOW TENANT";
    case AdminVerb::kCreateTenant:
      return "CREATE TENANT";
    case AdminVerb::kDropTenant:
      return "DROP TENANT";
    case AdminVerb::kAlterTenantTier:
    case AdminVerb::kAlterTenantRate:
    case AdminVerb::kAlterTenantMaxClients:
      return "ALTER TENANT";
    case AdminVerb::kPauseTenant:
      return "PAUSE TENANT";
    case AdminVerb::kResumeTenant:
      return "RESUME TENANT";
    case AdminVerb::kPauseShard:
      return "PAUSE SHARD";
    case AdminVerb::kResumeShard:
      return "RESUME SHARD";
    case AdminVerb::kMoveTenant:
      return "MOVE TENANT";
    case AdminVerb::kShowMoves:
      return "SHOW MOVES";
    case AdminVerb::kCancelMove:
      return "CANCEL MOVE";
    case AdminVerb::kDropMovedData:
      return "DROP MOVED DATA";
    case AdminVerb::kDrainShard:
      return "DRAIN SHARD";
    case AdminVerb::kUndrainShard:
      return "UNDRAIN SHARD";
    case AdminVerb::kRebalancePlan:
      return "REBALANCE PLAN";
    case AdminVerb::kRebalance:
      return "REBALANCE";
    case AdminVerb::kReload:
      return "RELOAD";
    case AdminVerb::kShutdown:
      return "SHUTDOWN";
  }
  return "UNKNOWN";
}

bool AdminCommand::changes_state() const {
  switch (verb) {
    case AdminVerb::kShowHelp:
    case AdminVerb::kShowVersion:
    case AdminVerb::kShowConfig:
    case AdminVerb::kShowShards:
    case AdminVerb::kShowPools:
    case AdminVerb::kShowClients:
    case AdminVerb::kShowServers:
    case AdminVerb::kShowStats:
    case AdminVerb::kShowTenants:
    case AdminVerb::kShowTenant:
    case AdminVerb::kShowMoves:
    case AdminVerb::kRebalancePlan:
      return false;
    default:
      return true;
  }
}

std::variant<AdminCommand, AdminParseError> parse_admin_command(std::string_view text) {
  if (text.size() > 64 * 1024) return error("command too long");
  std::vector<Token> tokens;
  if (auto problem = tokenize(text, tokens)) return error(*problem);
  if (tokens.size() > 64) return error("command too long");
  Parser p(std::move(tokens));
  if (p.at_end()) return error("empty command; try SHOW HELP");
  if (p.accept("SHOW")) return parse_show(p);
  if (p.accept("CREATE")) return parse_create(p);
  if (p.accept("ALTER")) return parse_alter(p);
  if (p.accept("PAUSE")) return parse_pause(p, true);
  if (p.accept("RESUME")) return parse_pause(p, false);
  if (p.accept("MOVE")) return parse_move(p);
  AdminCommand cmd;
  if (p.accept("CANCEL")) {
    if (!p.accept("MOVE")) return error("expected CANCEL MOVE id");
    cmd.verb = AdminVerb::kCancelMove;
    return parse_move_id(p, cmd);
  }
  if (p.accept("DROP")) {
    if (p.accept("MOVED")) {
      if (!p.accept("DATA")) return error("expected DROP MOVED DATA id");
      cmd.verb = AdminVerb::kDropMovedData;
      return parse_move_id(p, cmd);
    }
    if (!p.accept("TENANT")) return error("expected DROP TENANT or DROP MOVED DATA");
    cmd.verb = AdminVerb::kDropTenant;
    auto n = p.name();
    if (!n) return error("DROP TENANT needs a tenant id");
    cmd.name = *n;
    if (p.accept("KEEP")) {
      if (!p.accept("DATA")) return error("expected KEEP DATA");
      cmd.keep_data = true;
    }
    return finish(p, cmd);
  }
  bool drain = p.accept("DRAIN");
  if (drain || p.accept("UNDRAIN")) return parse_drain(p, drain);
  if (p.accept("REBALANCE")) return parse_rebalance(p);
  if (p.accept("RELOAD")) {
    cmd.verb = AdminVerb::kReload;
    return finish(p, cmd);
  }
  if (p.accept("SHUTDOWN")) {
    cmd.verb = AdminVerb::kShutdown;
    cmd.wait = p.accept("WAIT");
    return finish(p, cmd);
  }
  return error("unknown command " + p.rest() + "; try SHOW HELP");
}

bool like_match(std::string_view text, std::string_view pattern) {
  // Iterative matcher with backtracking to the last %: linear in practice, bounded input.
  size_t t = 0, p = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '_' || pattern[p] == text[t])) {
      ++t;
      ++p;
    } else if (p < pattern.size() && pattern[p] == '%') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

}  // namespace shardgate::routing
