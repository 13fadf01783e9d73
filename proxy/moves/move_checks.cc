// Pre-checks of a move: everything that would make it fail later is refused now (55000,
// naming the setting or table), before anything exists on either shard.
#include <algorithm>

#include "proxy/moves/move_run.h"
#include "routing/tenant_context.h"

namespace shardgate::moves {

namespace {

using routing::quote_literal;

Step check_replication_room(MoveRun& run) {
  auto wal = run.src->scalar("SHOW wal_level");
  if (!wal.ok()) return failure(wal.status());
  if (*wal != "logical")
    return failure("55000",
                   "shard \"" + run.source->name + "\" runs wal_level=" + *wal +
                       ": an ONLINE move needs wal_level=logical",
                   "Set wal_level = logical on the source and restart it, or use MOVE ... COPY.");
  // One slot and sender for the stream, and up to two more while tables are copied.
  int64_t need = 1 + static_cast<int64_t>(std::min<size_t>(2, run.tables.size()));
  auto room = run.src->rows(
      "SELECT current_setting('max_replication_slots')::int - (SELECT count(*) FROM "
      "pg_replication_slots), current_setting('max_wal_senders')::int - (SELECT count(*) FROM "
      "pg_stat_replication)");
  if (!room.ok()) return failure(room.status());
  int64_t slots = std::stoll(room->at(0)[0].value_or("0"));
  int64_t senders = std::stoll(room->at(0)[1].value_or("0"));
  if (slots < need)
    return failure("55000",
                   "shard \"" + run.source->name + "\" has " + std::to_string(slots) +
                       " free replication slot(s), the move needs " + std::to_string(need),
                   "Raise max_replication_slots on the source, or drop unused slots.");
  if (senders < need)
    return failure("55000",
                   "shard \"" + run.source->name + "\" has " + std::to_string(senders) +
                       " free WAL sender(s), the move needs " + std::to_string(need),
                   "Raise max_wal_senders on the source.");
  return std::nullopt;
}

Step check_tables(MoveRun& run) {
  auto rows = run.src->rows(
      "SELECT c.relname, c.relpersistence, c.relreplident, "
      "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
      "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) "
      "FROM " +
      run.tables_from() + " ORDER BY 1");
  if (!rows.ok()) return failure(rows.status());
  run.tables.clear();
  for (const auto& r : *rows) {
    std::string name = r[0].value_or("");
    std::string table = run.record.schema + "." + name;
    run.tables.push_back(name);
    // COPY mode carries unlogged tables and needs no replica identity.
    if (run.record.copy_mode()) continue;
    if (r[1].value_or("") == "u")
      return failure("55000", "table " + table + " is unlogged: logical replication cannot move it",
                     "ALTER TABLE ... SET LOGGED first, or use MOVE ... COPY.");
    std::string ident = r[2].value_or("");
    bool has_pk = r[3].value_or("f") == "t", has_index = r[4].value_or("f") == "t";
    bool ok = ident == "f" || (ident == "d" && has_pk) || (ident == "i" && has_index);
    if (!ok)
      return failure("55000",
                     "table " + table +
                         " has no replica identity: its updates and deletes cannot be replicated",
                     "Give it a primary key, or ALTER TABLE " + table +
                         " REPLICA IDENTITY FULL, then MOVE again.");
  }
  return std::nullopt;
}

Step check_free_names(MoveRun& run) {
  auto on_source = run.src->rows("SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = " +
                                 quote_literal(run.record.schema) +
                                 "), (SELECT count(*) FROM pg_namespace WHERE " + "nspname IN (" +
                                 quote_literal(run.record.object_name()) + ", " +
                                 quote_literal(run.record.moved_schema()) + "))");
  if (!on_source.ok()) return failure(on_source.status());
  if (on_source->at(0)[0].value_or("0") == "0")
    return failure("55000", "schema \"" + run.record.schema + "\" does not exist on shard \"" +
                                run.source->name + "\"");
  if (on_source->at(0)[1].value_or("0") != "0")
    return failure("55000", "shard \"" + run.source->name + "\" already has a schema named " +
                                run.record.object_name() + " or " + run.record.moved_schema());
  auto on_target = run.dst->scalar("SELECT count(*) FROM pg_namespace WHERE nspname IN (" +
                                   quote_literal(run.record.schema) + ", " +
                                   quote_literal(run.record.object_name()) + ")");
  if (!on_target.ok()) return failure(on_target.status());
  if (*on_target != "0")
    return failure("55000",
                   "shard \"" + run.target->name + "\" already has a schema named \"" +
                       run.record.schema + "\"",
                   "Drop or rename it on the target first (DROP MOVED DATA for an earlier move).");
  if (!run.record.role.empty()) {
    auto lobs = run.src->scalar(
        "SELECT count(*) FROM pg_largeobject_metadata m JOIN pg_roles r ON r.oid = m.lomowner "
        "WHERE r.rolname = " +
        quote_literal(run.record.role));
    if (!lobs.ok()) return failure(lobs.status());
    if (*lobs != "0")
      return failure("55000", "role \"" + run.record.role + "\" owns " + *lobs +
                                  " large object(s), which a schema move cannot carry");
  }
  return std::nullopt;
}

}  // namespace

Step precheck(MoveRun& run) {
  if (run.record.moved_schema().size() > 63)
    return failure("55000", "schema name \"" + run.record.schema + "\" is too long to be renamed " +
                                run.record.moved_schema());
  if (auto f = run.connect()) return f;
  if (auto f = check_tables(run)) return f;
  if (!run.record.copy_mode())
    if (auto f = check_replication_room(run)) return f;
  if (auto f = check_free_names(run)) return f;
  return std::nullopt;
}

}  // namespace shardgate::moves
