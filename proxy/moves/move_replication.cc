// Logical replication of the tenant's schema: publication on the source, subscription (with
// copy_data) on the target, the wait for the initial copy and for the lag to shrink, and the
// cleanup that leaves no slot behind on success, failure and cancel alike.
#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "proxy/moves/move_run.h"
#include "routing/tenant_context.h"

namespace shardgate::moves {

namespace {

using routing::quote_ident;
using routing::quote_literal;
using Clock = std::chrono::steady_clock;

constexpr auto kPoll = std::chrono::milliseconds(50);
constexpr auto kReport = std::chrono::seconds(1);
constexpr int64_t kLagThreshold = 16 << 20;

std::string subscription_oid_sql(const MoveRun& run) {
  return "(SELECT oid FROM pg_subscription WHERE subname = " +
         quote_literal(run.record.object_name()) + ")";
}

}  // namespace

Step start_replication(MoveRun& run) {
  if (auto f = run.connect()) return f;
  std::string name = run.record.object_name();
  auto exists =
      run.src->scalar("SELECT count(*) FROM pg_publication WHERE pubname = " + quote_literal(name));
  if (!exists.ok()) return failure(exists.status());
  if (*exists == "0") {
    auto status = run.src->exec("CREATE PUBLICATION " + run.qobject() + " FOR TABLES IN SCHEMA " +
                                run.qschema() + ", " + run.qobject());
    if (!status.ok()) return failure(status);
  }
  auto subscribed = run.dst->scalar("SELECT count(*) FROM pg_subscription WHERE subname = " +
                                    quote_literal(name));
  if (!subscribed.ok()) return failure(subscribed.status());
  if (*subscribed == "0") {
    auto status = run.dst->exec(
        "CREATE SUBSCRIPTION " + run.qobject() + " CONNECTION " +
        quote_literal(control_conninfo(*run.source)) + " PUBLICATION " + run.qobject() +
        " WITH (copy_data = true, create_slot = true, slot_name = " + quote_literal(name) + ")");
    if (!status.ok()) return failure(status);
  }
  auto oid =
      run.dst->scalar("SELECT oid FROM pg_subscription WHERE subname = " + quote_literal(name));
  if (!oid.ok()) return failure(oid.status());
  run.record.subscription_oid = *oid;
  if (auto status = run.journal->put(run.record); !status.ok()) return failure(status);
  run.say("replication started: publication, slot and subscription " + name);
  return std::nullopt;
}

Step wait_for_copy(MoveRun& run) {
  auto started = Clock::now();
  auto last_report = started;
  for (;;) {
    if (auto f = run.cancelled()) return f;
    auto state = run.dst->rows(
        "SELECT count(*) FILTER (WHERE srsubstate <> 'r'), count(*) FROM pg_subscription_rel "
        "WHERE srsubid = " +
        subscription_oid_sql(run) +
        // The move's own marker table is in the subscription too; the count is the tenant's.
        " AND srrelid <> " + quote_literal(run.record.object_name() + ".marker") + "::regclass");
    if (!state.ok()) return failure(state.status());
    if (!run.src->alive() || !run.src->exec("SELECT 1").ok())
      return failure("08006",
                     "lost the connection to the source shard \"" + run.source->name + "\"");
    int64_t pending = std::stoll(state->at(0)[0].value_or("0"));
    if (pending == 0) break;
    if (Clock::now() - last_report >= kReport) {
      last_report = Clock::now();
      run.say("copying: " + std::to_string(pending) + " of " + state->at(0)[1].value_or("?") +
              " table(s) not yet copied");
    }
    std::this_thread::sleep_for(kPoll);
  }
  run.record.copy_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  // No row count here: the verification counts every table (a count now would be a full scan
  // of the target for a progress line).
  double mb_per_s =
      static_cast<double>(run.record.bytes) / 1e6 / std::max(run.record.copy_seconds, 1e-3);
  run.say("copy done: " + std::to_string(run.tables.size()) + " table(s), " +
          std::to_string(run.record.bytes) + " bytes in " +
          std::to_string(run.record.copy_seconds).substr(0, 5) + " s (" +
          std::to_string(mb_per_s).substr(0, 6) + " MB/s)");
  return std::nullopt;
}

Step await_marker(MoveRun& run, const std::function<Step(const std::string& lsn)>& check) {
  auto marked = run.src->rows("UPDATE " + run.qobject() +
                              ".marker SET v = v + 1 WHERE id = 1 RETURNING v, "
                              "pg_current_wal_lsn()");
  if (!marked.ok()) return failure(marked.status());
  if (marked->empty()) return failure("55000", "the move's marker row is missing on the source");
  std::string expected = marked->at(0)[0].value_or("");
  std::string lsn = marked->at(0)[1].value_or("the source's last change");
  for (;;) {
    auto seen = run.dst->scalar("SELECT v FROM " + run.qobject() + ".marker WHERE id = 1");
    if (!seen.ok()) return failure(seen.status());
    if (*seen == expected) return std::nullopt;
    if (auto f = check(lsn)) return f;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Step catch_up(MoveRun& run) {
  auto last_report = Clock::now() - kReport;
  auto deadline = Clock::now() + std::chrono::seconds(60);
  for (;;) {
    if (auto f = run.cancelled()) return f;
    auto lag = run.src->scalar(
        "SELECT coalesce(pg_current_wal_lsn() - confirmed_flush_lsn, 0)::bigint FROM "
        "pg_replication_slots WHERE slot_name = " +
        quote_literal(run.record.object_name()));
    if (!lag.ok()) return failure(lag.status());
    if (lag->empty())
      return failure("55000", "the move's replication slot disappeared on the source");
    run.record.lag_bytes = std::stoll(*lag);
    if (Clock::now() - last_report >= kReport) {
      last_report = Clock::now();
      run.say("catching up: lag " + std::to_string(run.record.lag_bytes) + " bytes");
    }
    // The slot's confirmed position moves with the subscriber's feedback, which can trail
    // by a few seconds on an idle stream: after the deadline the cutover's own wait decides.
    if (run.record.lag_bytes < kLagThreshold || Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPoll);
  }
}

absl::Status drop_replication(MoveRun& run) {
  // Each side on its own: a target that is down must not keep the source's slot alive.
  std::string name = quote_literal(run.record.object_name());
  std::string oid;
  absl::Status target_status = absl::OkStatus();
  if (auto f = run.connect_target()) {
    target_status = absl::UnavailableError(f->message);
  } else {
    auto found = run.dst->scalar("SELECT oid FROM pg_subscription WHERE subname = " + name);
    if (!found.ok()) return found.status();
    oid = *found;
    // Dropping it normally also drops its slots on the source; if that fails (source down),
    // detach it from its slot so it can go; the slots are dropped below once the source is
    // back.
    if (!oid.empty() && !run.dst->exec("DROP SUBSCRIPTION " + run.qobject()).ok()) {
      target_status = run.dst->exec("ALTER SUBSCRIPTION " + run.qobject() +
                                    " DISABLE; ALTER SUBSCRIPTION " + run.qobject() +
                                    " SET (slot_name = NONE); DROP SUBSCRIPTION " + run.qobject());
    }
    if (target_status.ok())
      target_status = run.dst->exec("DROP SCHEMA IF EXISTS " + run.qobject() + " CASCADE");
  }
  if (auto f = run.connect_source()) return absl::UnavailableError(f->message);
  // The table-sync slots are named after the subscription's oid (journaled when it was
  // created, for a target that cannot tell it any more).
  if (oid.empty()) oid = run.record.subscription_oid;
  std::string slots = "(slot_name = " + name;
  if (!oid.empty()) slots += " OR slot_name LIKE " + quote_literal("pg_" + oid + "_sync_%");
  slots += ")";
  // A slot still held by a WAL sender cannot be dropped: end that sender first.
  auto status = run.src->exec(
      "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active_pid IS NOT "
      "NULL AND slot_name = " +
      name);
  if (!status.ok()) return status;
  for (int attempt = 0;; ++attempt) {
    status = run.src->exec(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE active_pid IS "
        "NULL AND " +
        slots);
    auto left =
        run.src->scalar("SELECT count(*) FROM pg_replication_slots WHERE slot_name = " + name);
    if (!left.ok()) return left.status();
    if (*left == "0") break;
    if (attempt >= 100)
      return absl::FailedPreconditionError("replication slot " + run.record.object_name() +
                                           " is still in use on the source");
    std::this_thread::sleep_for(kPoll);
  }
  status = run.src->exec("DROP PUBLICATION IF EXISTS " + run.qobject() +
                         ";\nDROP SCHEMA IF EXISTS " + run.qobject() + " CASCADE");
  if (!status.ok()) return status;
  return target_status;
}

absl::Status drop_target_copy(MoveRun& run) {
  if (auto f = run.connect_target()) return absl::UnavailableError(f->message);
  std::string sql = "DROP SCHEMA IF EXISTS " + run.qschema() + " CASCADE";
  if (run.record.role_created) {
    std::string role = quote_literal(run.record.role);
    sql += ";\nDO $sg$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = " + role +
           ") THEN EXECUTE format('DROP OWNED BY %I', " + role +
           "); EXECUTE format('DROP ROLE %I', " + role + "); END IF; END $sg$";
  }
  return run.dst->exec(sql);
}

absl::Status retire_source_schema(MoveRun& run, PgLink& link) {
  std::string schema = quote_literal(run.record.schema);
  std::string moved = quote_literal(run.record.moved_schema());
  // Idempotent: renames only while the schema still has its old name, then revokes every
  // grant on the renamed schema and its objects from everyone but the owner.
  return link.exec(
      "DO $sg$ DECLARE r record; BEGIN\n"
      "IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = " +
      schema +
      ") THEN\n"
      "  EXECUTE format('ALTER SCHEMA %I RENAME TO %I', " +
      schema + ", " + moved +
      ");\n"
      "END IF;\n"
      "IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = " +
      moved +
      ") THEN RETURN; END IF;\n"
      "FOR r IN SELECT DISTINCT a.grantee FROM pg_namespace n, aclexplode(n.nspacl) a\n"
      "  WHERE n.nspname = " +
      moved +
      " AND a.grantee <> n.nspowner LOOP\n"
      "  EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %s', " +
      moved +
      ",\n"
      "    CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END);\n"
      "END LOOP;\n"
      "FOR r IN SELECT DISTINCT a.grantee FROM pg_class c JOIN pg_namespace n ON n.oid = "
      "c.relnamespace, aclexplode(c.relacl) a\n"
      "  WHERE n.nspname = " +
      moved +
      " AND a.grantee <> c.relowner LOOP\n"
      "  EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %s; REVOKE ALL ON ALL "
      "SEQUENCES IN SCHEMA %I FROM %s', " +
      moved +
      ",\n"
      "    CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END, " +
      moved +
      ",\n"
      "    CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END);\n"
      "END LOOP;\n"
      "END $sg$");
}

}  // namespace shardgate::moves
