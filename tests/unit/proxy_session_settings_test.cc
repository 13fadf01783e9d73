// The parameter rules of proxy/session_settings.h: names case-insensitive, startup values as
// RESET targets, the client's latest SET winning over its startup options, SET LOCAL and
// rolled-back SETs not kept, and the set_config() calls a server connection needs.
#include "proxy/session/session_settings.h"

#include <gtest/gtest.h>

#include "proxy/session/context_prefix.h"
#include "routing/guard/statement.h"

namespace shardgate::proxy {
namespace {

using Kind = SessionSettings::Kind;

// The client sends `sql` as one request and the server answers it, ending at `status`.
void run(SessionSettings& s, AppliedSettings& conn, std::string_view sql, char status = 'I',
         bool fails = false) {
  s.note_statement(routing::inspect_statement(sql));
  s.end_request();
  if (fails) s.note_failure();
  s.ready(status, conn);
}

std::string value_of(const SessionSettings& s, std::string_view name) {
  auto d = s.desired(name);
  if (d.kind == Kind::kDefault) return "<default>";
  if (d.kind == Kind::kUnknown) return "<unknown>";
  return d.value;
}

TEST(SessionSettings, NamesAreCaseInsensitive) {
  SessionSettings s;
  s.add_startup("datestyle", "Postgres, MDY");  // libpq sends PGDATESTYLE in lower case
  s.add_startup("timezone", "America/Los_Angeles");
  EXPECT_EQ(value_of(s, "DateStyle"), "Postgres, MDY");
  EXPECT_EQ(value_of(s, "TIMEZONE"), "America/Los_Angeles");
  EXPECT_TRUE(is_tracked_parameter("datestyle"));
  EXPECT_TRUE(is_tracked_parameter("TimeZone"));
  EXPECT_FALSE(is_tracked_parameter("work_mem"));

  AppliedSettings conn;
  auto calls = s.sync(conn);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], (SettingCall{"datestyle", "Postgres, MDY"}));
  EXPECT_EQ(calls[1], (SettingCall{"timezone", "America/Los_Angeles"}));
  EXPECT_TRUE(s.sync(conn).empty()) << "a connection that has them needs nothing";

  // A SET spelled in another case replaces the same setting.
  run(s, conn, "SET DATESTYLE = iso, dmy");
  EXPECT_EQ(value_of(s, "datestyle"), "iso, dmy");
}

TEST(SessionSettings, StartupParametersWinOverOptions) {
  SessionSettings s;
  s.add_startup("work_mem", "8MB");  // -c work_mem=8MB (options come first)
  s.add_startup("WORK_MEM", "9MB");  // a startup parameter
  EXPECT_EQ(value_of(s, "work_mem"), "9MB");
}

TEST(SessionSettings, ResetGoesBackToTheStartupValue) {
  SessionSettings s;
  s.add_startup("application_name", "from_startup");
  AppliedSettings conn;
  s.sync(conn);
  run(s, conn, "SET application_name = 'changed'");
  EXPECT_EQ(value_of(s, "application_name"), "changed");
  EXPECT_TRUE(s.sync(conn).empty()) << "the server connection ran the SET itself";

  run(s, conn, "RESET application_name");
  EXPECT_EQ(value_of(s, "application_name"), "from_startup");
  // The server went to its own default: the startup value must be set again.
  auto calls = s.sync(conn);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], (SettingCall{"application_name", "from_startup"}));

  run(s, conn, "SET application_name TO DEFAULT");
  EXPECT_EQ(value_of(s, "application_name"), "from_startup");

  // A setting without a startup value goes back to the server's default.
  run(s, conn, "SET work_mem = '16MB'");
  run(s, conn, "RESET work_mem");
  EXPECT_EQ(value_of(s, "work_mem"), "<default>");
}

TEST(SessionSettings, ResetAllAndDiscardAllGoBackToStartupValues) {
  SessionSettings s;
  s.add_startup("work_mem", "8MB");
  AppliedSettings conn;
  s.sync(conn);
  run(s, conn, "SET work_mem = '16MB'");
  run(s, conn, "SET geqo = off");
  run(s, conn, "RESET ALL");
  EXPECT_EQ(value_of(s, "work_mem"), "8MB");
  EXPECT_EQ(value_of(s, "geqo"), "<default>");
  auto calls = s.sync(conn);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], (SettingCall{"work_mem", "8MB"}));

  run(s, conn, "SET work_mem = '1MB'");
  run(s, conn, "DISCARD ALL");
  EXPECT_EQ(value_of(s, "work_mem"), "8MB");
}

TEST(SessionSettings, ClientSetWinsOverStartupOptions) {
  // PGOPTIONS='-c work_mem=8MB', then SET work_mem='16MB': SHOW work_mem says 16MB.
  SessionSettings s;
  s.add_startup("work_mem", "8MB");
  AppliedSettings first;
  EXPECT_EQ(s.sync(first).size(), 1u);
  run(s, first, "SET work_mem = '16MB'");
  EXPECT_EQ(value_of(s, "work_mem"), "16MB");
  EXPECT_TRUE(s.sync(first).empty()) << "the startup option must not be applied again";

  // Transaction mode: another server connection gets the client's latest value.
  AppliedSettings other;
  auto calls = s.sync(other);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], (SettingCall{"work_mem", "16MB"}));
}

TEST(SessionSettings, SetLocalAndRolledBackSetsAreNotKept) {
  SessionSettings s;
  AppliedSettings conn;
  run(s, conn, "BEGIN", 'T');
  run(s, conn, "SET LOCAL work_mem = '32MB'", 'T');
  run(s, conn, "COMMIT");
  EXPECT_EQ(value_of(s, "work_mem"), "<default>");
  EXPECT_TRUE(s.sync(conn).empty());

  run(s, conn, "BEGIN", 'T');
  run(s, conn, "SET work_mem = '32MB'", 'T');
  s.note_statement(routing::inspect_statement("ROLLBACK"));
  s.end_request();
  s.note_failure();  // the ROLLBACK tag
  s.ready('I', conn);
  EXPECT_EQ(value_of(s, "work_mem"), "<default>");
  // The server connection is re-set before its next use, whatever the rollback left.
  auto calls = s.sync(conn);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], (SettingCall{"work_mem", std::nullopt}));

  // A SET inside a transaction that commits counts.
  run(s, conn, "BEGIN", 'T');
  run(s, conn, "SET work_mem = '2MB'", 'T');
  run(s, conn, "COMMIT");
  EXPECT_EQ(value_of(s, "work_mem"), "2MB");
}

TEST(SessionSettings, AnErrorInAnEarlierRequestDoesNotUndoALaterSet) {
  SessionSettings s;
  AppliedSettings conn;
  // Two pipelined requests: the first fails, the second SETs.
  s.end_request();
  s.note_statement(routing::inspect_statement("SET work_mem = '3MB'"));
  s.end_request();
  s.note_failure();
  s.ready('I', conn);
  s.ready('I', conn);
  EXPECT_EQ(value_of(s, "work_mem"), "3MB");
}

TEST(SessionSettings, AnotherClientsSettingsAreUndone) {
  SessionSettings a, b;
  a.add_startup("work_mem", "8MB");
  AppliedSettings conn;
  a.sync(conn);
  auto calls = b.sync(conn);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], (SettingCall{"work_mem", std::nullopt}));  // set_config(..., NULL)
}

TEST(SessionSettings, ReportedChangesWithoutASetAreFollowed) {
  SessionSettings s;
  AppliedSettings conn;
  s.note_statement(routing::inspect_statement("SELECT set_config('timezone', 'UTC', false)"));
  s.end_request();
  s.note_report("TimeZone", "Etc/UTC");
  s.note_report("is_superuser", "on");  // not a setting a client can change
  s.ready('I', conn);
  EXPECT_EQ(value_of(s, "timezone"), "Etc/UTC");
  EXPECT_EQ(value_of(s, "is_superuser"), "<default>");
  EXPECT_TRUE(s.sync(conn).empty());
}

TEST(SessionSettings, UnreadableValuesAreLeftToTheServer) {
  SessionSettings s;
  AppliedSettings conn;
  run(s, conn, "SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE");
  EXPECT_EQ(s.desired("timezone").kind, Kind::kUnknown);
  EXPECT_TRUE(s.sync(conn).empty());
}

TEST(SessionSettings, TheTenantContextIsNotAClientSetting) {
  SessionSettings s;
  AppliedSettings conn;
  run(s, conn, "SET search_path TO \"Tenant_X\", public");
  run(s, conn, "SET ROLE other");
  run(s, conn, "SET shardgate.tenant = 'acme'");
  run(s, conn, "SET transaction_isolation = 'serializable'");
  EXPECT_TRUE(conn.empty());
  EXPECT_TRUE(s.sync(conn).empty());
}

// in_sync() judges without building the calls; it must say what sync() would: nothing to call.
TEST(SessionSettings, InSyncAgreesWithSync) {
  auto agrees = [](const SessionSettings& s, const AppliedSettings& conn) {
    AppliedSettings copy = conn;
    bool nothing_to_call = s.sync(copy).empty();
    EXPECT_EQ(s.in_sync(conn), nothing_to_call);
    return nothing_to_call;
  };
  SessionSettings s;
  s.add_startup("DateStyle", "ISO, MDY");
  s.add_startup("application_name", "pgbench");
  AppliedSettings conn;
  EXPECT_FALSE(agrees(s, conn)) << "a fresh connection lacks the startup values";
  s.sync(conn);
  EXPECT_TRUE(agrees(s, conn));

  run(s, conn, "SET work_mem = '5MB'");  // committed on this connection
  EXPECT_TRUE(agrees(s, conn));
  AppliedSettings other;  // another connection: only the client's values count
  s.sync(other);
  other["statement_timeout"] = "1s";  // left by another client
  EXPECT_FALSE(agrees(s, other)) << "a value no longer wanted must be reset";
  other.erase("statement_timeout");
  EXPECT_TRUE(agrees(s, other));
  other["datestyle"] = std::nullopt;  // unknown on the connection
  EXPECT_FALSE(agrees(s, other));

  // The client's RESET takes the server connection to its own default, not to the client's
  // startup value, which must be set again.
  run(s, conn, "RESET application_name");
  EXPECT_FALSE(agrees(s, conn));
  s.sync(conn);
  EXPECT_TRUE(agrees(s, conn));
  run(s, conn, "SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE");  // only the server knows
  EXPECT_TRUE(agrees(s, conn));
}

TEST(SessionSettings, StartupParametersThatAreNotSettings) {
  EXPECT_FALSE(SessionSettings::is_startup_setting("user"));
  EXPECT_FALSE(SessionSettings::is_startup_setting("Database"));
  EXPECT_FALSE(SessionSettings::is_startup_setting("options"));
  EXPECT_FALSE(SessionSettings::is_startup_setting("replication"));
  EXPECT_FALSE(SessionSettings::is_startup_setting("search_path"));
  EXPECT_FALSE(SessionSettings::is_startup_setting("shardgate.tenant"));
  EXPECT_TRUE(SessionSettings::is_startup_setting("geqo"));
  EXPECT_TRUE(SessionSettings::is_startup_setting("DateStyle"));
}

TEST(ContextPrefix, SetsInsideItsOwnTransactionBlock) {
  ContextRequest request;
  request.parameters.emplace_back("work_mem", std::nullopt);
  request.parameters.emplace_back("geqo", "off");
  EXPECT_EQ(context_sql(request),
            "SELECT pg_catalog.set_config('work_mem', NULL, false), "
            "pg_catalog.set_config('geqo', 'off', false)");
  auto prefix = build_context_prefix(request);
  EXPECT_EQ(prefix.commands, 3);  // BEGIN, SELECT, COMMIT: no COMMIT outside a block
  std::string bytes(prefix.bytes.begin(), prefix.bytes.end());
  EXPECT_LT(bytes.find("BEGIN"), bytes.find("set_config"));
  EXPECT_LT(bytes.find("set_config"), bytes.find("COMMIT"));
}

TEST(SessionSettings, SessionCharacteristicsAreTheDefaultTransactionSettings) {
  SessionSettings s;
  AppliedSettings conn;
  run(s, conn,
      "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, "
      "NOT DEFERRABLE");
  EXPECT_EQ(value_of(s, "default_transaction_isolation"), "serializable");
  EXPECT_EQ(value_of(s, "default_transaction_read_only"), "on");
  EXPECT_EQ(value_of(s, "default_transaction_deferrable"), "off");
  // Another server connection is given them; the one that ran the SET needs nothing.
  AppliedSettings other;
  EXPECT_EQ(s.sync(other).size(), 3u);
  EXPECT_TRUE(s.sync(conn).empty());
  // SET TRANSACTION lasts one transaction: nothing to keep.
  SessionSettings t;
  AppliedSettings tconn;
  run(t, tconn, "BEGIN; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; COMMIT");
  EXPECT_EQ(value_of(t, "default_transaction_isolation"), "<default>");
  EXPECT_TRUE(tconn.empty());
}

TEST(SessionSettings, ResetAllInsideAFunctionDefinitionIsNotTheSessions) {
  SessionSettings s;
  AppliedSettings conn;
  run(s, conn, "SET work_mem = '16MB'");
  for (const char* sql : {"ALTER FUNCTION f() RESET ALL", "ALTER ROLE r RESET ALL",
                          "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET work_mem = '1MB' "
                          "RETURN 1"}) {
    EXPECT_FALSE(routing::inspect_statement(sql).reset_all) << sql;
    run(s, conn, sql);
    EXPECT_EQ(value_of(s, "work_mem"), "16MB") << sql;
  }
  EXPECT_TRUE(routing::inspect_statement("RESET ALL").reset_all);
  EXPECT_TRUE(routing::inspect_statement("discard all").reset_all);
  EXPECT_TRUE(routing::inspect_statement("SELECT 1; RESET ALL").reset_all);
}

TEST(SessionSettings, SetsThatMayOrMayNotRunLeaveTheSettingUnknown) {
  // A DO block's SET and set_config() of a setting the server does not report: the server
  // connection's value is unknown, so it is reset before anyone else uses the connection.
  for (const char* sql : {"DO $$BEGIN SET work_mem = '16MB'; END$$",
                          "DO $$BEGIN PERFORM set_config('work_mem', '16MB', false); END$$",
                          "SELECT set_config('work_mem', '16MB', false)",
                          "SELECT set_config('work_mem', '16MB', $1)"}) {
    SessionSettings s;
    AppliedSettings conn;
    run(s, conn, sql);
    EXPECT_EQ(value_of(s, "work_mem"), "<unknown>") << sql;
    ASSERT_TRUE(conn.contains("work_mem")) << sql;
    EXPECT_FALSE(conn["work_mem"].has_value()) << sql;
    SessionSettings next;  // the next client of this connection
    auto calls = next.sync(conn);
    ASSERT_EQ(calls.size(), 1u) << sql;
    EXPECT_EQ(calls[0], (SettingCall{"work_mem", std::nullopt})) << sql;
  }
  // Local to the transaction, or only defined (a function runs its SET when called): nothing.
  for (const char* sql : {"SELECT set_config('work_mem', '16MB', true)",
                          "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS "
                          "$$BEGIN SET work_mem = '16MB'; END$$"}) {
    SessionSettings s;
    AppliedSettings conn;
    run(s, conn, sql);
    EXPECT_EQ(value_of(s, "work_mem"), "<default>") << sql;
    EXPECT_TRUE(conn.empty()) << sql;
  }
  // A reported setting changed by set_config() is known from the server's report.
  SessionSettings s;
  AppliedSettings conn;
  s.note_statement(routing::inspect_statement("SELECT set_config('application_name', 'x', false)"));
  s.end_request();
  s.note_report("application_name", "x");
  s.ready('I', conn);
  EXPECT_EQ(value_of(s, "application_name"), "x");
  EXPECT_EQ(conn["application_name"], std::optional<std::string>("x"));
}

// One statement per request, as ORMs send them, answered by the server with `tag` (the
// CommandComplete shardgate looks at: "ROLLBACK" for ROLLBACK and ROLLBACK TO, "COMMIT"),
// or by an error (`fails`), then a ReadyForQuery with `status`.
void step(SessionSettings& s, AppliedSettings& conn, std::string_view sql, char status,
          bool fails = false, std::string_view tag = {}) {
  s.note_statement(routing::inspect_statement(sql));
  s.end_request();
  if (fails) s.note_failure();
  if (tag.empty() && !fails && sql.starts_with("ROLLBACK")) tag = "ROLLBACK";
  if (tag.empty() && !fails && sql.starts_with("COMMIT")) tag = "COMMIT";
  if (tag == "ROLLBACK") s.note_rollback();
  if (tag == "COMMIT") s.note_commit();
  s.ready(status, conn);
}

TEST(SessionSettings, RollbackToSavepointUndoesOnlyWhatCameAfterIt) {
  SessionSettings s;
  AppliedSettings conn;
  for (const char* sql : {"BEGIN", "SET work_mem = '16MB'", "SAVEPOINT a",
                          "SET statement_timeout = '7s'", "SAVEPOINT b", "SET lock_timeout = '3s'"})
    step(s, conn, sql, 'T');
  step(s, conn, "SELECT 1/0", 'E', true);
  step(s, conn, "ROLLBACK TO SAVEPOINT b", 'T');  // recovers: lock_timeout undone
  step(s, conn, "RELEASE b", 'T');
  step(s, conn, "ROLLBACK TO a", 'T');  // statement_timeout undone too
  step(s, conn, "COMMIT", 'I');
  EXPECT_EQ(value_of(s, "work_mem"), "16MB");
  EXPECT_EQ(value_of(s, "statement_timeout"), "<default>");
  EXPECT_EQ(value_of(s, "lock_timeout"), "<default>");
  EXPECT_EQ(conn["work_mem"], std::optional<std::string>("16MB"));
}

TEST(SessionSettings, SavepointsShardgateCannotFollowUndoTheTransaction) {
  for (const char* undo : {"ROLLBACK TO never_seen", "ROLLBACK"}) {
    SessionSettings s;
    AppliedSettings conn;
    step(s, conn, "BEGIN", 'T');
    step(s, conn, "SET work_mem = '16MB'", 'T');
    step(s, conn, "SAVEPOINT a", 'T');
    step(s, conn, undo, 'T');
    step(s, conn, "COMMIT", 'I');
    EXPECT_EQ(value_of(s, "work_mem"), "<default>") << undo;
    EXPECT_FALSE(conn["work_mem"].has_value()) << undo << ": re-set before the next use";
  }
  // A SAVEPOINT that failed (the transaction was already aborted) marks nothing.
  SessionSettings s;
  AppliedSettings conn;
  step(s, conn, "BEGIN", 'T');
  step(s, conn, "SET work_mem = '16MB'", 'T');
  step(s, conn, "SELECT 1/0", 'E', true);
  step(s, conn, "SAVEPOINT a", 'E', true);
  step(s, conn, "ROLLBACK TO a", 'E', true);
  step(s, conn, "COMMIT", 'I', false, "ROLLBACK");  // of an aborted transaction: a ROLLBACK
  EXPECT_EQ(value_of(s, "work_mem"), "<default>");
}

TEST(SessionSettings, CommitAndChainKeepsWhatItCommitted) {
  SessionSettings s;
  AppliedSettings conn;
  for (const char* sql :
       {"BEGIN", "SET work_mem = '16MB'", "COMMIT AND CHAIN", "SET work_mem = '32MB'"})
    step(s, conn, sql, 'T');
  step(s, conn, "ROLLBACK", 'I');
  EXPECT_EQ(value_of(s, "work_mem"), "16MB");
}

}  // namespace
}  // namespace shardgate::proxy
