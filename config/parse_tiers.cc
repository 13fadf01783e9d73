// tiers: { <name>: { pool, pool_size, pool_mode, isolation, weight, rate, ... } }.
#include <string>

#include "config/parse_sections.h"

namespace shardgate::config {
namespace {

using yaml::Reader;

// Nodes kept for error positions of rules that span several keys of one tier.
struct TierNodes {
  bool pool_given = false;
  bool wait_given = false;
  YAML::Node pool, min_pool_size, login;
};

// The keys whose value is a word from a fixed list.
bool set_tier_choice(const Reader& r, const std::string& k, const YAML::Node& f,
                     const std::string& fkey, TierConfig& t) {
  if (k == "pool") {
    t.pool = r.choice<PoolKind>(
        f, fkey, {{"shared", PoolKind::kShared}, {"dedicated", PoolKind::kDedicated}});
  } else if (k == "pool_mode") {
    t.pool_mode = r.choice<PoolMode>(
        f, fkey, {{"session", PoolMode::kSession}, {"transaction", PoolMode::kTransaction}});
  } else if (k == "isolation") {
    t.isolation = parse_isolation(r, f, fkey);
  } else if (k == "session_state") {
    t.session_state = r.choice<SessionState>(
        f, fkey, {{"refuse", SessionState::kRefuse}, {"allow", SessionState::kAllow}});
  } else if (k == "login") {
    t.login = r.choice<Login>(f, fkey, {{"proxy", Login::kProxy}, {"tenant", Login::kTenant}});
  } else if (k == "tenant_series") {
    t.tenant_series = r.choice<TenantSeries>(f, fkey,
                                             {{"auto", TenantSeries::kAuto},
                                              {"always", TenantSeries::kAlways},
                                              {"never", TenantSeries::kNever}});
  } else {
    return false;
  }
  return true;
}

// The keys whose value is a duration.
bool set_tier_duration(const Reader& r, const std::string& k, const YAML::Node& f,
                       const std::string& fkey, TierConfig& t, TierNodes& nodes) {
  if (k == "pool_timeout" || k == "query_wait_timeout") {
    // One setting, two names: PgBouncer users know it as query_wait_timeout.
    if (nodes.wait_given)
      r.fail(f, fkey, "pool_timeout and query_wait_timeout are the same setting: give one");
    nodes.wait_given = true;
    t.pool_timeout = r.duration(f, fkey);
  } else if (k == "pause_timeout") {
    t.pause_timeout = r.duration(f, fkey);
  } else if (k == "server_idle_timeout") {
    t.server_idle_timeout = r.duration(f, fkey);
  } else if (k == "server_lifetime") {
    t.server_lifetime = r.duration(f, fkey);
  } else if (k == "slow_query_threshold") {
    t.slow_query_threshold = r.duration(f, fkey);
  } else {
    return false;
  }
  return true;
}

void set_tier_key(const Reader& r, const std::string& k, const YAML::Node& f,
                  const std::string& fkey, TierConfig& t, TierNodes& nodes) {
  if (k == "pool") nodes.pool_given = true, nodes.pool = f;
  if (k == "login") nodes.login = f;
  if (set_tier_choice(r, k, f, fkey, t) || set_tier_duration(r, k, f, fkey, t, nodes)) return;
  if (k == "pool_size") {
    t.pool_size = count(r, f, fkey, 1);
  } else if (k == "min_pool_size") {
    t.min_pool_size = count(r, f, fkey, 0);
    nodes.min_pool_size = f;
  } else if (k == "weight") {
    t.weight = static_cast<int>(r.integer(f, fkey, 1, 1000));
  } else if (k == "pipeline_depth") {
    t.pipeline_depth = static_cast<int>(r.integer(f, fkey, 1, 16));
  } else if (k == "max_server_connections_per_tenant") {
    t.max_server_connections_per_tenant = count(r, f, fkey, 1);
  } else if (k == "max_client_connections") {
    t.max_client_connections = count(r, f, fkey, 1);
  } else if (k == "role") {
    t.role = r.str(f, fkey);
  } else if (k == "login_password") {
    t.login_password = r.str(f, fkey);
  } else if (k == "guard") {
    r.for_each(f, fkey, {"allow_dynamic_sql"},
               [&](const std::string&, const YAML::Node& g, const std::string& gkey) {
                 t.allow_dynamic_sql = r.boolean(g, gkey);
               });
  } else if (k == "rate") {
    t.rate = r.rate(f, fkey, t.rate);
  }
}

// Rules between keys of one tier, checked once all of them are read.
void check_tier(const Reader& r, const std::string& key, TierConfig& t, const TierNodes& nodes) {
  if (t.min_pool_size > t.pool_size) {
    r.fail(nodes.min_pool_size, yaml::join(key, "min_pool_size"),
           "must not exceed pool_size (" + std::to_string(t.pool_size) + ")");
  }
  if (t.login == Login::kTenant) {
    // Server connections log in as the tenant's role: pools are necessarily per tenant.
    if (nodes.pool_given && t.pool == PoolKind::kShared) {
      r.fail(nodes.pool, yaml::join(key, "pool"),
             "login: tenant needs pool: dedicated (server connections belong to one tenant's "
             "role)");
    }
    t.pool = PoolKind::kDedicated;
    if (t.role.empty()) t.role = "tenant_{tenant}";
    if (t.role.find("{tenant}") == std::string::npos) {
      r.fail(nodes.login, yaml::join(key, "role"),
             "login: tenant needs a role template containing {tenant}");
    }
  }
}

TierConfig parse_tier(const Reader& r, const std::string& name, const YAML::Node& v,
                      const std::string& key) {
  if (!valid_tenant_id(name)) {
    r.fail(v, key, "tier names are 1-63 characters of A-Z, a-z, 0-9, _ and -");
  }
  TierConfig t;
  t.name = name;
  TierNodes nodes;
  r.for_each(v, key,
             {"pool",
              "pool_size",
              "min_pool_size",
              "pool_mode",
              "isolation",
              "weight",
              "pipeline_depth",
              "session_state",
              "max_server_connections_per_tenant",
              "max_client_connections",
              "role",
              "login",
              "login_password",
              "pool_timeout",
              "query_wait_timeout",
              "pause_timeout",
              "server_idle_timeout",
              "server_lifetime",
              "slow_query_threshold",
              "tenant_series",
              "guard",
              "rate"},
             [&](const std::string& k, const YAML::Node& f, const std::string& fkey) {
               set_tier_key(r, k, f, fkey, t, nodes);
             });
  check_tier(r, key, t, nodes);
  return t;
}

}  // namespace

Isolation parse_isolation(const Reader& r, const YAML::Node& n, std::string_view key) {
  return r.choice<Isolation>(n, key,
                             {{"schema", Isolation::kSchema},
                              {"shared", Isolation::kShared},
                              {"database", Isolation::kDatabase}});
}

std::map<std::string, TierConfig> parse_tiers(const Reader& r, const YAML::Node& n) {
  std::map<std::string, TierConfig> tiers;
  r.for_each(n, "tiers", {},
             [&](const std::string& name, const YAML::Node& v, const std::string& key) {
               tiers.emplace(name, parse_tier(r, name, v, key));
             });
  if (tiers.empty()) {
    TierConfig t;
    t.name = "default";
    tiers.emplace(t.name, std::move(t));
  }
  return tiers;
}

}  // namespace shardgate::config
