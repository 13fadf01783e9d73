// The schema step: the tenant's role, then the schema itself (pg_dump --schema-only of the
// source restored as the target's pool user, so ownership matches CREATE TENANT), then the
// move's marker table on both sides (the cutover's "applied up to here" signal).
#include <sstream>

#include "proxy/moves/move_run.h"
#include "proxy/moves/run_program.h"
#include "routing/tenant_context.h"

namespace shardgate::moves {

namespace {

using routing::quote_ident;
using routing::quote_literal;

Step ensure_role(MoveRun& run) {
  if (run.record.role.empty()) return std::nullopt;
  auto exists = run.dst->scalar("SELECT count(*) FROM pg_roles WHERE rolname = " +
                                quote_literal(run.record.role));
  if (!exists.ok()) return failure(exists.status());
  if (*exists != "0") return std::nullopt;
  auto role = run.hooks->tenant_role(*run.tier, run.record.tenant);
  if (!role.ok()) return failure(role.status());
  const std::string* sql = &role->create_sql;
  if (sql->empty())
    return failure(
        "55000",
        "role \"" + run.record.role + "\" does not exist on shard \"" + run.target->name + "\"",
        "The tier's role is shared by its tenants: create it on the target first.");
  // Journaled first: a crash between here and the journal write must still drop it.
  run.record.role_created = true;
  if (auto status = run.journal->put(run.record); !status.ok()) return failure(status);
  std::string grant;
  if (run.target->user != run.target->control_user())
    grant = ";\nGRANT " + quote_ident(run.record.role) + " TO " + quote_ident(run.target->user);
  if (auto status = run.dst->exec("BEGIN;\n" + *sql + grant + ";\nCOMMIT"); !status.ok())
    return failure(status);
  return std::nullopt;
}

// pg_dump's output without psql meta-commands (\restrict and kin), runnable over libpq.
std::string without_meta_commands(const std::string& dump) {
  std::istringstream in(dump);
  std::string line, out;
  while (std::getline(in, line))
    if (line.empty() || line[0] != '\\') out += line + "\n";
  return out;
}

Step restore_schema(MoveRun& run) {
  const config::ShardConfig& s = *run.source;
  // TLS as every other connection of the move (libpq's default would be sslmode=prefer, which
  // checks no certificate).
  std::vector<std::string> env = libpq_tls_env(s);
  env.push_back("PGPASSWORD=" + s.control_password());
  env.push_back("PGAPPNAME=shardgate move");
  auto dump = run_program(
      {"pg_dump", "--schema-only", "--no-owner", "-n", quote_ident(run.record.schema), "-h", s.host,
       "-p", std::to_string(s.port), "-U", s.control_user(), "-d", s.dbname, "--no-password"},
      env, run.cancel);
  if (!dump.ok()) {
    if (auto f = run.cancelled()) return f;
    return failure("55000", std::string(dump.status().message()));
  }
  auto pool = PgLink::open(*run.target, PgLink::Credential::kPool, run.config->connect_timeout);
  if (!pool.ok()) return failure(pool.status());
  // One implicit transaction: the schema is there whole or not at all.
  if (auto status = pool->exec(without_meta_commands(*dump)); !status.ok()) return failure(status);
  return std::nullopt;
}

// pg_dump --no-owner restores everything owned by the target's pool user. Objects the
// tenant's own role owns on the source (tables its clients created through a `role` or
// `login: tenant` tier) must stay its own, or it loses the owner's rights to them: one query
// on the source writes the ALTER ... OWNER TO statements. Indexes and the sequences of serial
// and identity columns follow their table.
Step adopt_owners(MoveRun& run) {
  if (run.record.role.empty()) return std::nullopt;
  std::string ns = quote_literal(run.record.schema), role = quote_literal(run.record.role);
  auto statements = run.src->rows(
      "SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, r.rolname) "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = "
      "c.relowner WHERE n.nspname = " +
      ns + " AND r.rolname = " + role +
      " AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND NOT EXISTS (SELECT 1 FROM pg_depend "
      "d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = "
      "'pg_class'::regclass AND d.deptype IN ('a', 'i')) "
      "UNION ALL SELECT format('ALTER ROUTINE %I.%I(%s) OWNER TO %I', n.nspname, p.proname, "
      "pg_get_function_identity_arguments(p.oid), r.rolname) FROM pg_proc p JOIN pg_namespace n "
      "ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner WHERE n.nspname = " +
      ns + " AND r.rolname = " + role +
      " UNION ALL SELECT format('ALTER %s %I.%I OWNER TO %I', CASE t.typtype WHEN 'd' THEN "
      "'DOMAIN' ELSE 'TYPE' END, n.nspname, t.typname, r.rolname) FROM pg_type t JOIN "
      "pg_namespace n ON n.oid = t.typnamespace JOIN pg_roles r ON r.oid = t.typowner WHERE "
      "n.nspname = " +
      ns + " AND r.rolname = " + role +
      " AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class "
      "WHERE oid = t.typrelid) = 'c')) "
      "UNION ALL SELECT format('ALTER SCHEMA %I OWNER TO %I', n.nspname, r.rolname) FROM "
      "pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = " +
      ns + " AND r.rolname = " + role);
  if (!statements.ok()) return failure(statements.status());
  if (statements->empty()) return std::nullopt;
  std::string sql = "BEGIN";
  for (const auto& row : *statements) sql += ";\n" + row[0].value_or("");
  if (auto status = run.dst->exec(sql + ";\nCOMMIT"); !status.ok()) return failure(status);
  return std::nullopt;
}

Step create_markers(MoveRun& run) {
  std::string schema = run.qobject();
  std::string table = "CREATE SCHEMA IF NOT EXISTS " + schema + ";\nCREATE TABLE IF NOT EXISTS " +
                      schema + ".marker (id int PRIMARY KEY, v bigint NOT NULL)";
  if (auto status = run.src->exec(table + ";\nINSERT INTO " + schema +
                                  ".marker VALUES (1, 0) ON CONFLICT DO NOTHING");
      !status.ok())
    return failure(status);
  if (auto status = run.dst->exec(table); !status.ok()) return failure(status);
  return std::nullopt;
}

}  // namespace

Step copy_schema(MoveRun& run) {
  if (auto f = run.connect()) return f;
  if (auto f = ensure_role(run)) return f;
  if (auto f = restore_schema(run)) return f;
  if (auto f = adopt_owners(run)) return f;
  // The marker tells the cutover replication has caught up; COPY mode has no replication.
  if (!run.record.copy_mode())
    if (auto f = create_markers(run)) return f;
  auto bytes = run.src->scalar("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM " +
                               run.tables_from(true));
  if (bytes.ok() && !bytes->empty()) run.record.bytes = std::stoll(*bytes);
  run.say("schema created on " + run.target->name);
  return std::nullopt;
}

}  // namespace shardgate::moves
