#include "routing/route.h"

#include <algorithm>

#include "routing/guard/sql_chars.h"
#include "routing/shard_choice.h"

namespace shardgate::routing {

namespace {

// Bounds for network input: the options string, how many settings, how long a name.
constexpr size_t kMaxOptionsBytes = 64 * 1024;
constexpr size_t kMaxSettings = 64;
constexpr size_t kMaxNameBytes = 255;

constexpr std::string_view kTenantSetting = "shardgate.tenant";
constexpr std::string_view kShardgatePrefix = "shardgate.";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Client-supplied text made safe to echo: at most 64 characters, controls and quotes as '?'.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= 64) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') ? '?' : c;
  }
  return out;
}

// PostgreSQL's pg_split_opts: whitespace separates, a backslash makes the next character
// literal (a trailing lone backslash is dropped).
bool split_args(std::string_view s, std::vector<std::string>& args) {
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) break;
    if (args.size() >= 2 * kMaxSettings) return false;
    std::string arg;
    bool escaped = false;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (is_space(c) && !escaped) break;
      if (!escaped && c == '\\') {
        escaped = true;
      } else {
        escaped = false;
        arg += c;
      }
    }
    args.push_back(std::move(arg));
  }
  return true;
}

// PostgreSQL's ParseLongOption: "name=value", '-' in the name read as '_'. Names are
// case-insensitive in PostgreSQL; we lower-case them so shardgate.* cannot be dodged.
bool parse_long_option(std::string_view text,
                       std::vector<std::pair<std::string, std::string>>& out) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq > kMaxNameBytes) return false;
  std::string name;
  for (char c : text.substr(0, eq)) {
    if (c == '-') c = '_';
    c = ascii_lower(static_cast<unsigned char>(c));
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '$';
    if (!ok) return false;
    name += c;
  }
  if (out.size() >= kMaxSettings) return false;
  out.emplace_back(std::move(name), std::string(text.substr(eq + 1)));
  return true;
}

bool enabled(const config::Config& config, config::TenantSource s) {
  const auto& v = config.tenant.sources;
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string ways_to_pass_tenant(const config::Config& config) {
  std::vector<std::string> ways;
  const auto& sep = config.tenant.user_separator;
  for (config::TenantSource s : config.tenant.sources) {
    switch (s) {
      case config::TenantSource::kOptions:
        ways.push_back(
            "the startup option -c shardgate.tenant=<id> (libpq: options='-c "
            "shardgate.tenant=<id>' or PGOPTIONS)");
        break;
      case config::TenantSource::kUserSuffix:
        ways.push_back("the user name <user>" + sep + "<id> (e.g. app" + sep + "acme)");
        break;
      case config::TenantSource::kDatabase:
        if (config.tenant.database_is_tenant) ways.push_back("the database name <id>");
        break;
      case config::TenantSource::kSession:
        ways.push_back("SET shardgate.tenant = '<id>' after connecting");
        break;
      case config::TenantSource::kSearchPath:
        ways.push_back("SET search_path TO " +
                       expand_template(config.tenant.schema_template, "<id>"));
        break;
    }
  }
  if (ways.empty()) return "no tenant source is enabled (tenant.sources in the config)";
  std::string out = "pass a tenant with ";
  for (size_t i = 0; i < ways.size(); ++i) {
    if (i > 0) out += (i + 1 == ways.size()) ? ", or " : ", ";
    out += ways[i];
  }
  return out;
}

RouteError invalid_tenant(std::string_view tenant, std::string_view where) {
  return RouteError{
      "3D000",
      "\"" + printable(tenant) + "\" (from " + std::string(where) + ") is not a valid tenant ID",
      "tenant IDs are 1-63 characters of A-Z, a-z, 0-9, _ and -"};
}

const char* source_description(std::string_view source) {
  if (source == "options") return "the startup option shardgate.tenant";
  if (source == "user_suffix") return "the user name";
  return "the database name";
}

}  // namespace

ParsedOptions parse_options(std::string_view options) {
  ParsedOptions out;
  std::vector<std::string> args;
  if (options.size() > kMaxOptionsBytes || !split_args(options, args)) {
    out.ok = false;
    return out;
  }
  for (size_t i = 0; i < args.size() && out.ok; ++i) {
    std::string_view a = args[i];
    if (a == "-c") {
      if (i + 1 >= args.size()) {
        out.ok = false;
        break;
      }
      out.ok = parse_long_option(args[++i], out.settings);
    } else if (a.size() > 2 && a.substr(0, 2) == "-c") {
      out.ok = parse_long_option(a.substr(2), out.settings);
    } else if (a.size() > 2 && a.substr(0, 2) == "--") {
      out.ok = parse_long_option(a.substr(2), out.settings);
    } else {
      out.ok = false;  // other postgres switches (-B, -d, ...) are not accepted by shardgate
    }
  }
  if (!out.ok) out.settings.clear();
  return out;
}

std::string format_options(const std::vector<std::pair<std::string, std::string>>& settings) {
  std::string out;
  auto escape = [&out](std::string_view s) {
    for (char c : s) {
      if (c == '\\' || is_space(c)) out += '\\';
      out += c;
    }
  };
  for (const auto& [name, value] : settings) {
    if (!out.empty()) out += ' ';
    out += "-c ";
    escape(name);
    out += '=';
    escape(value);
  }
  return out;
}

namespace {

// 1. options: shardgate.tenant (other shardgate.* settings are typos: refuse them); the rest
//    pass through to the server.
std::optional<RouteError> tenant_from_options(ParsedOptions& opts, const config::Config& config,
                                              Identity& id,
                                              std::optional<std::string>& from_options) {
  for (auto& [name, value] : opts.settings) {
    if (name.compare(0, kShardgatePrefix.size(), kShardgatePrefix) != 0) {
      id.passthrough_options.emplace_back(std::move(name), std::move(value));
      continue;
    }
    if (name != kTenantSetting) {
      return RouteError{"42704", "unrecognized configuration parameter \"" + printable(name) + "\"",
                        "shardgate understands shardgate.tenant"};
    }
    if (from_options && *from_options != value) {
      return RouteError{"28000",
                        "conflicting tenants: the startup options name \"" +
                            printable(*from_options) + "\" and \"" + printable(value) + "\"",
                        "set shardgate.tenant once"};
    }
    from_options = value;
  }
  if (from_options && !enabled(config, config::TenantSource::kOptions)) {
    return RouteError{"28000",
                      "naming the tenant in the startup options is disabled (tenant \"" +
                          printable(*from_options) + "\")",
                      ways_to_pass_tenant(config)};
  }
  return std::nullopt;
}

// 2. user_suffix: split at the last separator when the whole name is not a configured user
//    but the part before the separator is.
std::optional<std::string> tenant_from_user(const StartupIdentity& startup,
                                            const config::Config& config, Identity& id) {
  if (!enabled(config, config::TenantSource::kUserSuffix) || config.find_user(startup.user))
    return std::nullopt;
  const std::string& sep = config.tenant.user_separator;
  size_t pos = sep.empty() ? std::string::npos : startup.user.rfind(sep);
  if (pos == std::string::npos || pos == 0 || pos + sep.size() >= startup.user.size())
    return std::nullopt;
  std::string prefix = startup.user.substr(0, pos);
  if (!config.find_user(prefix)) return std::nullopt;
  id.login_user = std::move(prefix);
  return startup.user.substr(pos + sep.size());
}

// The tenant the enabled sources name, in the configured order; they must agree.
std::optional<RouteError> pick_tenant(const config::Config& config,
                                      const std::optional<std::string>& from_options,
                                      const std::optional<std::string>& from_user,
                                      const std::optional<std::string>& from_database,
                                      Identity& id) {
  struct Candidate {
    const char* source;
    const std::optional<std::string>* tenant;
  };
  std::vector<Candidate> named;
  for (config::TenantSource s : config.tenant.sources) {
    if (s == config::TenantSource::kOptions && from_options)
      named.push_back({"options", &from_options});
    if (s == config::TenantSource::kUserSuffix && from_user)
      named.push_back({"user_suffix", &from_user});
    if (s == config::TenantSource::kDatabase && from_database)
      named.push_back({"database", &from_database});
  }
  for (const auto& c : named) {
    if (!config::valid_tenant_id(**c.tenant))
      return invalid_tenant(**c.tenant, source_description(c.source));
  }
  if (named.empty()) return std::nullopt;
  const std::string& winner = **named.front().tenant;
  for (const auto& c : named) {
    if (**c.tenant != winner) {
      return RouteError{
          "28000",
          "conflicting tenants: " + std::string(source_description(named.front().source)) +
              " names \"" + winner + "\" but " + source_description(c.source) + " names \"" +
              **c.tenant + "\"",
          "name the tenant one way only, or make both agree"};
    }
  }
  id.tenant = winner;
  id.source = named.front().source;
  return std::nullopt;
}

}  // namespace

std::variant<Identity, RouteError> resolve_identity(const StartupIdentity& startup,
                                                    const config::Config& config) {
  ParsedOptions opts = parse_options(startup.options);
  if (!opts.ok) {
    return RouteError{"42601", "invalid startup parameter \"options\"",
                      "use -c name=value or --name=value settings separated by spaces (at most " +
                          std::to_string(kMaxSettings) +
                          "), e.g. options='-c shardgate.tenant=acme'"};
  }
  Identity id;
  id.login_user = startup.user;
  std::optional<std::string> from_options;
  if (auto err = tenant_from_options(opts, config, id, from_options)) return *err;
  std::optional<std::string> from_user = tenant_from_user(startup, config, id);
  // 3. database: only with database_is_tenant; a dbname equal to the user name is what libpq
  //    sends when none was given, so it names no tenant.
  std::optional<std::string> from_database;
  if (enabled(config, config::TenantSource::kDatabase) && config.tenant.database_is_tenant &&
      !startup.database.empty() && startup.database != startup.user) {
    from_database = startup.database;
  }
  if (auto err = pick_tenant(config, from_options, from_user, from_database, id)) return *err;
  return id;
}

std::optional<RouteError> check_tenant_allowed(const config::UserConfig& user,
                                               std::string_view tenant) {
  if (user.all_tenants) return std::nullopt;
  for (const auto& t : user.tenants) {
    if (t == tenant) return std::nullopt;
  }
  return RouteError{
      "42501",
      "user \"" + printable(user.name) + "\" may not act for tenant \"" + printable(tenant) + "\"",
      "connect as a user whose tenants list includes \"" + printable(tenant) +
          "\", or add the tenant to the tenants list of user \"" + printable(user.name) +
          "\" in the config"};
}

std::variant<Route, RouteError> route_tenant(std::string_view tenant, const config::Config& config,
                                             const Directory& directory) {
  if (!config::valid_tenant_id(tenant)) return invalid_tenant(tenant, "the request");
  Route route;
  route.tenant = std::string(tenant);
  if (const Placement* p = directory.find(tenant)) {
    route.placement = *p;
  } else if (config.directory.default_placement.reject ||
             config.directory.default_placement.hash_shards.empty()) {
    std::string example_shard = config.shards.empty() ? "s1" : config.shards.begin()->first;
    std::string hint = "create it on the admin socket (CREATE TENANT " + route.tenant +
                       " ON SHARD " + example_shard + ")";
    if (!config.directory.file.empty()) {
      hint += " or add it to the directory file " + config.directory.file + " and reload";
    }
    return RouteError{"3D000", "tenant \"" + route.tenant + "\" is not in the shard directory",
                      hint};
  } else {
    const auto& dp = config.directory.default_placement;
    Placement& p = route.placement;
    p.shard = hashed_shard(tenant, dp.hash_shards, directory);
    p.tier = dp.tier.empty() && config.tiers.size() == 1 ? config.tiers.begin()->first : dp.tier;
    p.schema = expand_template(config.tenant.schema_template, tenant);
    if (const config::TierConfig* t = config.find_tier(p.tier)) p.isolation = t->isolation;
    if (p.isolation == config::Isolation::kDatabase) p.database = route.tenant;
    if (p.schema.size() > 63) {
      return RouteError{"3D000",
                        "tenant \"" + route.tenant + "\" would get schema \"" + p.schema +
                            "\", longer than PostgreSQL's 63-byte limit",
                        "create the tenant with a shorter SCHEMA on the admin socket"};
    }
  }
  route.shard = config.find_shard(route.placement.shard);
  if (!route.shard) {
    return RouteError{"3D000",
                      "tenant \"" + route.tenant + "\" is placed on shard \"" +
                          route.placement.shard + "\", which the config does not define",
                      "add shard \"" + route.placement.shard +
                          "\" to the config or move the tenant to another shard"};
  }
  route.tier = config.find_tier(route.placement.tier);
  if (!route.tier) {
    return RouteError{"3D000",
                      "tenant \"" + route.tenant + "\" (shard \"" + route.placement.shard +
                          "\") has tier \"" + route.placement.tier +
                          "\", which the config does not define",
                      "add tier \"" + route.placement.tier + "\" to the config or ALTER TENANT " +
                          route.tenant + " SET TIER ..."};
  }
  return route;
}

RouteError no_tenant_error(const config::Config& config, bool at_startup) {
  if (at_startup) {
    return RouteError{"28000",
                      "no tenant given: shardgate cannot tell which tenant this "
                      "connection is for",
                      ways_to_pass_tenant(config)};
  }
  return RouteError{"28000",
                    "no tenant set for this session: the statement was not run (the connection "
                    "is still usable)",
                    ways_to_pass_tenant(config)};
}

uint64_t stable_hash(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace shardgate::routing
