#include "proxy/tenants/provisioning.h"

#include <libpq-fe.h>

#include <memory>

#include "routing/tenant_context.h"

namespace shardgate::proxy {

namespace {

using PgConn = std::unique_ptr<PGconn, decltype(&PQfinish)>;

absl::StatusOr<PgConn> connect(const config::Config& config, const config::ShardConfig& shard) {
  std::string port = std::to_string(shard.port);
  std::string timeout =
      std::to_string(std::max<int64_t>(1, (config.connect_timeout.count() + 999) / 1000));
  // libpq takes the shard's TLS settings as they are written: the keys mean the same there
  // (a null value is "not set").
  auto optional = [](const std::string& v) { return v.empty() ? nullptr : v.c_str(); };
  const char* keys[] = {"host",
                        "port",
                        "dbname",
                        "user",
                        "password",
                        "connect_timeout",
                        "application_name",
                        "sslmode",
                        "sslrootcert",
                        "sslcert",
                        "sslkey",
                        nullptr};
  const char* values[] = {
      shard.host.c_str(),       port.c_str(),           shard.dbname.c_str(),
      shard.user.c_str(),       shard.password.c_str(), timeout.c_str(),
      "shardgate provisioning", shard.sslmode.c_str(),  optional(shard.sslrootcert),
      optional(shard.sslcert),  optional(shard.sslkey), nullptr};
  PgConn conn(PQconnectdbParams(keys, values, 0), &PQfinish);
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = conn ? PQerrorMessage(conn.get()) : "out of memory";
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return absl::UnavailableError("cannot reach shard \"" + shard.name + "\": " + why);
  }
  return conn;
}

// Runs `sql` (several statements allowed) in one transaction; rolls back on any error.
absl::Status run_in_transaction(PGconn* conn, const std::string& shard, const std::string& sql) {
  std::string script = "BEGIN;\nSET LOCAL lock_timeout = '10s';\n" + sql + "\n;COMMIT;";
  std::unique_ptr<PGresult, decltype(&PQclear)> last(nullptr, &PQclear);
  if (!PQsendQuery(conn, script.c_str()))
    return absl::UnavailableError(std::string("shard \"") + shard + "\": " + PQerrorMessage(conn));
  std::string error;
  while (PGresult* r = PQgetResult(conn)) {
    if (PQresultStatus(r) == PGRES_FATAL_ERROR && error.empty()) {
      const char* msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      error = std::string(msg ? msg : "unknown error") +
              (state ? std::string(" (SQLSTATE ") + state + ")" : "");
    }
    PQclear(r);
  }
  if (error.empty() && PQstatus(conn) != CONNECTION_OK)
    error = std::string("connection lost: ") + PQerrorMessage(conn);
  if (!error.empty()) {
    // A failed statement aborts the transaction and the script's COMMIT becomes a ROLLBACK;
    // make sure nothing is left open either way.
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) PQclear(PQexec(conn, "ROLLBACK"));
    return absl::FailedPreconditionError("on shard \"" + shard + "\": " + error);
  }
  return absl::OkStatus();
}

// The tier gives each tenant a role of its own (created and dropped with the tenant); a role
// without {tenant} is shared by the tier's tenants and managed by the operator.
bool per_tenant_role(const config::TierConfig& tier) {
  return tier.login == config::Login::kTenant || tier.role.find("{tenant}") != std::string::npos;
}

}  // namespace

std::string expand_provisioning_sql(const std::string& tmpl, const std::string& tenant,
                                    const std::string& schema, const std::string& role) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    if (tmpl.compare(i, 8, "{schema}") == 0) {
      out += routing::quote_ident(schema);
      i += 8;
    } else if (tmpl.compare(i, 6, "{role}") == 0) {
      out += routing::quote_ident(role);
      i += 6;
    } else if (tmpl.compare(i, 8, "{tenant}") == 0) {
      out += routing::quote_literal(tenant);
      i += 8;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

std::string tenant_role(const config::TierConfig& tier, const std::string& tenant) {
  if (tier.login == config::Login::kTenant)
    return routing::expand_template(tier.role.empty() ? "tenant_{tenant}" : tier.role, tenant);
  return tier.role.empty() ? "" : routing::expand_template(tier.role, tenant);
}

absl::StatusOr<std::string> create_role_sql(const config::TierConfig& tier,
                                            const std::string& tenant) {
  if (!per_tenant_role(tier)) return std::string();
  // A role of the tenant's own (its name carries the tenant): created with the schema.
  std::string role = tenant_role(tier, tenant);
  std::string login = "NOLOGIN";
  if (tier.login == config::Login::kTenant) {
    auto password = config::resolve_secret(routing::expand_template(tier.login_password, tenant),
                                           "login_password");
    if (!password.ok()) return password.status();
    login = "LOGIN PASSWORD " + routing::quote_literal(*password);
  }
  return "CREATE ROLE " + routing::quote_ident(role) + " " + login + ";\nGRANT " +
         routing::quote_ident(role) + " TO CURRENT_USER;\n";
}

absl::Status provision_tenant(const config::Config& config, const config::ShardConfig& shard,
                              const config::TierConfig& tier, const std::string& tenant,
                              const routing::Placement& placement) {
  std::string role = tenant_role(tier, tenant);
  auto role_sql = create_role_sql(tier, tenant);
  if (!role_sql.ok()) return role_sql.status();
  std::string sql = *role_sql;
  sql += expand_provisioning_sql(config.provisioning.schema_sql, tenant, placement.schema, role);
  if (!role.empty()) {
    std::string r = routing::quote_ident(role), s = routing::quote_ident(placement.schema);
    sql += "\n;GRANT USAGE, CREATE ON SCHEMA " + s + " TO " + r + ";\n";
    sql += "GRANT ALL ON ALL TABLES IN SCHEMA " + s + " TO " + r + ";\n";
    sql += "GRANT ALL ON ALL SEQUENCES IN SCHEMA " + s + " TO " + r + ";\n";
  }
  auto conn = connect(config, shard);
  if (!conn.ok()) return conn.status();
  return run_in_transaction(conn->get(), shard.name, sql);
}

absl::Status drop_tenant_data(const config::Config& config, const config::ShardConfig& shard,
                              const config::TierConfig& tier, const std::string& tenant,
                              const routing::Placement& placement) {
  std::string role = tenant_role(tier, tenant);
  std::string sql =
      "DROP SCHEMA IF EXISTS " + routing::quote_ident(placement.schema) + " CASCADE;\n";
  if (per_tenant_role(tier)) {
    std::string name = routing::quote_literal(role);
    sql += "DO $sg$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = " + name +
           ") THEN EXECUTE format('DROP OWNED BY %I', " + name +
           "); EXECUTE format('DROP ROLE %I', " + name + "); END IF; END $sg$;\n";
  }
  auto conn = connect(config, shard);
  if (!conn.ok()) return conn.status();
  return run_in_transaction(conn->get(), shard.name, sql);
}

}  // namespace shardgate::proxy
