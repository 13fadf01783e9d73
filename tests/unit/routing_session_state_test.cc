// Session state that outlives a transaction (routing/session_state.h,
// routing/statement_session_state.cc): what transaction-mode tiers refuse with 0A000, what
// they let through, and what the guard's fast path must leave to the full inspector.
#include <gtest/gtest.h>

#include <string>

#include "routing/guard/plain_statement.h"
#include "routing/guard/session_state.h"
#include "routing/guard/statement.h"

namespace shardgate::routing {
namespace {

struct Case {
  const char* sql;
  OutlivingState kind;
};

TEST(SessionState, StatementsWhoseStateOutlivesTheTransaction) {
  const Case cases[] = {
      {"CREATE TEMP TABLE foo (id int)", OutlivingState::kTempObject},
      {"CREATE TEMPORARY TABLE IF NOT EXISTS foo (id int)", OutlivingState::kTempObject},
      {"create local temp table foo (like items)", OutlivingState::kTempObject},
      {"CREATE TEMP TABLE foo (id int) ON COMMIT DELETE ROWS", OutlivingState::kTempObject},
      {"CREATE TEMP TABLE foo (id int) ON COMMIT PRESERVE ROWS", OutlivingState::kTempObject},
      {"CREATE TABLE pg_temp.foo (id int)", OutlivingState::kTempObject},
      {"CREATE TEMP TABLE foo AS SELECT * FROM items", OutlivingState::kTempObject},
      {"CREATE TEMP TABLE foo AS SELECT 1 WITH NO DATA", OutlivingState::kTempObject},
      {"SELECT * INTO TEMP foo FROM items", OutlivingState::kTempObject},
      {"SELECT id INTO TEMPORARY TABLE foo FROM items", OutlivingState::kTempObject},
      {"CREATE TEMP VIEW v AS SELECT 1", OutlivingState::kTempObject},
      {"CREATE OR REPLACE TEMP VIEW v AS SELECT 1", OutlivingState::kTempObject},
      {"CREATE VIEW pg_temp.v AS SELECT 1", OutlivingState::kTempObject},
      {"CREATE TEMP SEQUENCE s", OutlivingState::kTempObject},
      {"BEGIN; CREATE TEMP TABLE foo (id int); DROP TABLE foo; COMMIT",
       OutlivingState::kTempObject},
      {"PREPARE q(int) AS SELECT $1", OutlivingState::kPrepare},
      {"BEGIN; PREPARE q AS SELECT 1; EXECUTE q; COMMIT", OutlivingState::kPrepare},
      {"SELECT pg_advisory_lock(1)", OutlivingState::kAdvisoryLock},
      {"SELECT pg_catalog.pg_advisory_lock(1, 2)", OutlivingState::kAdvisoryLock},
      {"SELECT pg_advisory_lock_shared(7)", OutlivingState::kAdvisoryLock},
      {"SELECT pg_try_advisory_lock(7)", OutlivingState::kAdvisoryLock},
      {"SELECT PG_TRY_ADVISORY_LOCK_SHARED(7)", OutlivingState::kAdvisoryLock},
      {"SELECT 1 FROM items WHERE pg_try_advisory_lock(id)", OutlivingState::kAdvisoryLock},
      // Each use of the operator or aggregate takes the lock: refused where it is defined.
      {"CREATE OPERATOR tenant_acme.@@@ (RIGHTARG = bigint, FUNCTION = pg_advisory_lock)",
       OutlivingState::kAdvisoryLock},
      {"CREATE OPERATOR @@@ (LEFTARG = int, RIGHTARG = int, PROCEDURE = "
       "pg_catalog.pg_try_advisory_lock_shared)",
       OutlivingState::kAdvisoryLock},
      {"CREATE AGGREGATE lk(bigint) (SFUNC = pg_advisory_lock, STYPE = void)",
       OutlivingState::kAdvisoryLock},
      {"DECLARE c CURSOR WITH HOLD FOR SELECT 1", OutlivingState::kHoldCursor},
      {"LOAD 'auto_explain'", OutlivingState::kLoad},
      // Types in pg_temp: found by unqualified name before the tenant's own.
      {"CREATE TYPE pg_temp.mood AS ENUM ('sad', 'ok')", OutlivingState::kTempObject},
      {"CREATE TYPE pg_temp.pair AS (a int, b int)", OutlivingState::kTempObject},
      {"CREATE TYPE pg_temp.floatrange AS RANGE (subtype = float8)", OutlivingState::kTempObject},
      {"CREATE TYPE pg_temp.shell", OutlivingState::kTempObject},
      {"CREATE DOMAIN pg_temp.posint AS int CHECK (VALUE > 0)", OutlivingState::kTempObject},
      {"CREATE DOMAIN pg_temp_3.posint AS int", OutlivingState::kTempObject},
      {"CREATE COLLATION pg_temp.c2 FROM \"C\"", OutlivingState::kTempObject},
      {"DO $$BEGIN CREATE DOMAIN pg_temp.d AS int; END$$", OutlivingState::kTempObject},
      // LISTEN: the server connection, not the client, would listen.
      {"LISTEN jobs", OutlivingState::kListen},
      {"BEGIN; LISTEN jobs; COMMIT", OutlivingState::kListen},
      // Function bodies and DO blocks: their findings are the statement's.
      {"DO $$BEGIN CREATE TEMP TABLE foo (id int); END$$", OutlivingState::kTempObject},
      {"DO $$BEGIN PERFORM pg_advisory_lock(1); END$$", OutlivingState::kAdvisoryLock},
      {"CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ CREATE TEMP TABLE t (i int) $$",
       OutlivingState::kTempObject},
      {"CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$BEGIN CREATE TEMP TABLE t (i "
       "int); END$$",
       OutlivingState::kTempObject},
  };
  for (const auto& c : cases) {
    StatementInfo info = inspect_statement(c.sql);
    ASSERT_TRUE(info.parsed) << c.sql << ": " << info.parse_error;
    EXPECT_EQ(info.outliving_kind, c.kind) << c.sql;
    EXPECT_FALSE(info.outlives_transaction.empty()) << c.sql;
    GuardVerdict v = judge_session_state(info, "acme");
    EXPECT_FALSE(v.allowed) << c.sql;
    EXPECT_EQ(v.sqlstate, "0A000") << c.sql;
    EXPECT_NE(v.message.find(info.outlives_transaction), std::string::npos) << v.message;
    EXPECT_NE(v.message.find("\"acme\""), std::string::npos) << v.message;
    EXPECT_FALSE(v.hint.empty()) << c.sql;
    EXPECT_FALSE(is_plain_statement(c.sql)) << c.sql;  // never skips the inspector
  }
}

TEST(SessionState, StateThatEndsWithTheTransactionIsAllowed) {
  for (const char* sql : {
           "CREATE TEMP TABLE foo (id int) ON COMMIT DROP",
           "CREATE TEMPORARY TABLE foo ON COMMIT DROP AS SELECT * FROM items",
           "CREATE TABLE foo (id int)",
           "CREATE UNLOGGED TABLE foo (id int)",
           "CREATE TABLE foo AS SELECT 1",
           "SELECT * INTO foo FROM items",
           "CREATE VIEW v AS SELECT 1",
           "CREATE SEQUENCE s",
           "EXECUTE q(1)",
           "DEALLOCATE q",
           "SELECT pg_advisory_xact_lock(1)",
           "SELECT pg_try_advisory_xact_lock_shared(1)",
           "SELECT pg_advisory_unlock(1)",
           "SELECT pg_advisory_unlock_all()",
           "DECLARE c CURSOR FOR SELECT 1",
           "DISCARD TEMP",
           "DISCARD ALL",
           "SELECT temp FROM weather",
           "DROP TABLE pg_temp.foo",
           "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
           "INSERT INTO pg_temp.foo VALUES (1)",
           "CREATE TYPE mood AS ENUM ('sad', 'ok')",
           "CREATE TYPE acme.pair AS (a int, b int)",
           "CREATE DOMAIN posint AS int CHECK (VALUE > 0)",
           "CREATE AGGREGATE pg_temp.s(int) (sfunc = int4pl, stype = int)",
           "CREATE OPERATOR pg_temp.=== (function = int4eq, leftarg = int, rightarg = int)",
           "UNLISTEN *",
           "UNLISTEN jobs",
           "NOTIFY jobs, 'x'",
           "SELECT pg_notify('jobs', 'x')",
           "DO $$BEGIN PERFORM pg_advisory_xact_lock(1); END$$",
       }) {
    StatementInfo info = inspect_statement(sql);
    EXPECT_TRUE(info.outlives_transaction.empty()) << sql << ": " << info.outlives_transaction;
    EXPECT_EQ(info.outliving_kind, OutlivingState::kNone) << sql;
    EXPECT_TRUE(judge_session_state(info, "acme").allowed) << sql;
  }
}

TEST(SessionState, HintsNameTheFixForEachKind) {
  auto hint = [](const char* sql) { return judge_session_state(inspect_statement(sql), "a").hint; };
  EXPECT_NE(hint("CREATE TEMP TABLE t (i int)").find("ON COMMIT DROP"), std::string::npos);
  EXPECT_NE(hint("PREPARE q AS SELECT 1").find("protocol-level prepared statements"),
            std::string::npos);
  EXPECT_NE(hint("SELECT pg_advisory_lock(1)").find("pg_advisory_xact_lock"), std::string::npos);
  EXPECT_NE(hint("CREATE DOMAIN pg_temp.d AS int").find("tenant's own schema"), std::string::npos);
  EXPECT_NE(hint("LISTEN jobs").find("NOTIFY and pg_notify work"), std::string::npos);
  for (const char* sql : {"CREATE TEMP TABLE t (i int)", "PREPARE q AS SELECT 1",
                          "SELECT pg_advisory_lock(1)", "LOAD 'x'", "LISTEN jobs"})
    EXPECT_NE(hint(sql).find("pool_mode: session"), std::string::npos) << sql;
}

TEST(SessionState, OnlyLoadSurvivesDiscardAll) {
  EXPECT_EQ(inspect_statement("LOAD 'auto_explain'").survives_discard, "LOAD");
  EXPECT_EQ(inspect_statement("DO $$BEGIN LOAD 'auto_explain'; END$$").survives_discard, "LOAD");
  for (const char* sql : {"CREATE TEMP TABLE t (i int)", "PREPARE q AS SELECT 1",
                          "SELECT pg_advisory_lock(1)", "DECLARE c CURSOR WITH HOLD FOR SELECT 1"})
    EXPECT_TRUE(inspect_statement(sql).survives_discard.empty()) << sql;
}

TEST(SessionState, TheFirstFindingNamesTheRefusal) {
  StatementInfo info = inspect_statement(
      "PREPARE q AS SELECT 1; CREATE TEMP TABLE t (i int); SELECT pg_advisory_lock(1)");
  EXPECT_EQ(info.outliving_kind, OutlivingState::kPrepare);
  EXPECT_EQ(info.outlives_transaction, "PREPARE");
}

}  // namespace
}  // namespace shardgate::routing
