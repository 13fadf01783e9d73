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
  auto dump = run_program(
      {"pg_dump", "--schema-only", "--no-owner", "-n", quote_ident(run.record.schema), "-h", s.host,
       "-p", std::to_string(s.port), "-U", s.control_user(), "-d", s.dbname, "--no-password"},
      {"PGPASSWORD=" + s.control_password(), "PGAPPNAME=shardgate move"}, run.cancel);
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
  if (auto f = create_markers(run)) return f;
  auto bytes = run.src->scalar(
      "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace "
      "n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = " +
      quote_literal(run.record.schema));
  if (bytes.ok() && !bytes->empty()) run.record.bytes = std::stoll(*bytes);
  run.say("schema created on " + run.target->name);
  return std::nullopt;
}

}  // namespace shardgate::moves
