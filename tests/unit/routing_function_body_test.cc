// routing/function_body: CREATE FUNCTION/PROCEDURE and DO bodies in sql and plpgsql are read
// and judged by the same rules as any statement. Tenant "acme" (schema tenant_acme) attacks
// tenant "globex" (schema tenant_globex).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "routing/guard/guard.h"
#include "routing/guard/plpgsql_json.h"
#include "routing/guard/statement.h"

namespace shardgate::routing {
namespace {

const std::vector<std::string> kShared = {"reference"};

GuardVerdict check(std::string_view sql, bool allow_dynamic_sql = false) {
  GuardPolicy p;
  p.tenant = "acme";
  p.tenant_schema = "tenant_acme";
  p.shared_schemas = &kShared;
  p.allow_dynamic_sql = allow_dynamic_sql;
  return judge(inspect_statement(sql), p);
}

void expect_allowed(const std::string& sql) {
  GuardVerdict v = check(sql);
  EXPECT_TRUE(v.allowed) << sql << "\n  message: " << v.message;
}

void expect_refused(const std::string& sql, const std::string& says, bool allow_dynamic = false) {
  GuardVerdict v = check(sql, allow_dynamic);
  EXPECT_FALSE(v.allowed) << sql;
  EXPECT_EQ(v.sqlstate, "42501") << sql;
  EXPECT_NE(v.message.find(says), std::string::npos) << sql << "\n  message: " << v.message;
  EXPECT_NE(v.message.find("\"acme\""), std::string::npos) << sql << ": " << v.message;
  EXPECT_FALSE(v.hint.empty()) << sql;
}

const std::string kOther = "names schema \"tenant_globex\"";
const std::string kExecute = "EXECUTE of a computed string in PL/pgSQL";

std::string plpgsql(const std::string& declare, const std::string& body) {
  return "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ " + declare + " BEGIN " +
         body + " END $body$";
}

TEST(RoutingFunctionBody, HarmlessFunctionsAndDoBlocksAreAllowed) {
  expect_allowed("CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS $$ SELECT a + 1 $$");
  expect_allowed("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS 'INSERT INTO items VALUES (1)'");
  expect_allowed("CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1");
  expect_allowed(
      "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM items; "
      "END");
  // Django/knex-style trigger function and its trigger, in the tenant's schema.
  expect_allowed(
      "CREATE OR REPLACE FUNCTION tenant_acme.touch_updated_at() RETURNS trigger AS $$\n"
      "DECLARE\n  n integer := 0;\n  tag text DEFAULT 'x';\nBEGIN\n"
      "  IF TG_OP = 'UPDATE' AND NEW.body IS DISTINCT FROM OLD.body THEN\n"
      "    NEW.updated_at := now();\n    n = n + 1;\n"
      "  ELSIF TG_OP = 'INSERT' THEN\n    NEW.created_at = coalesce(NEW.created_at, now());\n"
      "  END IF;\n  RAISE NOTICE 'touched % rows', n;\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql");
  expect_allowed(
      "CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE "
      "FUNCTION tenant_acme.touch_updated_at()");
  // Sequelize's findOrCreate, all in one simple-query string.
  expect_allowed(
      "CREATE OR REPLACE FUNCTION pg_temp.testfunc(OUT response \"tenant_acme\".\"users\", OUT "
      "sequelize_caught_exception text) RETURNS RECORD AS $func_1$ BEGIN INSERT INTO "
      "\"tenant_acme\".\"users\" (\"id\",\"name\") VALUES (1,'a') RETURNING * INTO response; "
      "EXCEPTION WHEN unique_violation THEN GET STACKED DIAGNOSTICS sequelize_caught_exception "
      "= PG_EXCEPTION_DETAIL; END $func_1$ LANGUAGE plpgsql; SELECT (testfunc.response).*, "
      "testfunc.sequelize_caught_exception FROM pg_temp.testfunc(); DROP FUNCTION IF EXISTS "
      "pg_temp.testfunc();");
  // Sequelize's ENUM creation.
  expect_allowed(
      "DO 'BEGIN CREATE TYPE \"tenant_acme\".\"enum_users_status\" AS ENUM(''a'', ''b''); "
      "EXCEPTION WHEN duplicate_object THEN null; END';");
  expect_allowed(
      "DO $$\nDECLARE r record;\nBEGIN\n"
      "  FOR r IN SELECT id FROM items WHERE id > 0 LOOP\n"
      "    UPDATE items SET body = upper(body) WHERE id = r.id;\n  END LOOP;\n"
      "  FOR i IN 1..3 LOOP PERFORM pg_sleep(0); END LOOP;\n"
      "  CREATE TABLE IF NOT EXISTS audit (id int);\n"
      "  WHILE false LOOP EXIT; END LOOP;\n"
      "  ASSERT (SELECT count(*) FROM items) >= 0, 'count';\n"
      "END $$");
  // Every PL/pgSQL statement kind that holds SQL, harmless.
  expect_allowed(
      "CREATE PROCEDURE p(INOUT n int, OUT s text) LANGUAGE plpgsql AS $$\n"
      "DECLARE\n  r record;\n  arr int[] := '{1,2}';\n  k CONSTANT int NOT NULL := 1;\n"
      "  t timestamp(3) with time zone;\n  v varchar(10) := 'a:=b'; m int;\n"
      "BEGIN\n"
      "  n := n + 1;\n  s := body FROM items WHERE id = n;\n  arr[1:2] := arr;\n"
      "  SELECT count(*) INTO n FROM items;\n  UPDATE items SET body = 'x' WHERE id = k;\n"
      "  GET DIAGNOSTICS n = ROW_COUNT;\n"
      "  CASE n WHEN 1, 2 THEN NULL; ELSE n := 0; END CASE;\n"
      "  CASE WHEN n > 1 THEN NULL; END CASE;\n"
      "  FOREACH m SLICE 0 IN ARRAY arr LOOP CONTINUE WHEN m = 1; END LOOP;\n"
      "  FOR i IN REVERSE 10..1 BY 2 LOOP EXIT WHEN i < 3; END LOOP;\n"
      "  <<blk>> DECLARE z int := length(s); BEGIN NULL; END blk;\n"
      "  BEGIN PERFORM 1 / 0; EXCEPTION WHEN division_by_zero OR SQLSTATE '22012' THEN\n"
      "    RAISE WARNING 'err %', SQLERRM USING HINT = 'h' || n, ERRCODE = 'P0001'; END;\n"
      "  CALL other(1);\n  COMMIT;\n  ROLLBACK;\n  RETURN;\nEND $$");
  expect_allowed(
      "CREATE FUNCTION f() RETURNS SETOF items LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY SELECT "
      "* FROM items; RETURN NEXT (SELECT i FROM items i LIMIT 1); RETURN; END $$");
  expect_allowed(plpgsql("DECLARE a int[] := ARRAY[1, 2]; v items.id%TYPE; w items%ROWTYPE;",
                         "a[1] := 3; RETURN a[1] + coalesce(v, 0);"));
}

TEST(RoutingFunctionBody, OtherSchemasInBodiesAreRefused) {
  expect_refused(
      "CREATE FUNCTION f() RETURNS SETOF text LANGUAGE sql AS "
      "'SELECT body FROM tenant_globex.items'",
      kOther);
  expect_refused(
      "CREATE PROCEDURE p() LANGUAGE sql AS $$ INSERT INTO items SELECT * FROM "
      "\"tenant_globex\".items $$",
      kOther);
  // plpgsql: in a statement, an expression, an assignment (its FROM), a cursor, a variable
  // default, a type, a RETURN, an IF condition, RAISE arguments, FOR loops, nested CREATE VIEW.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "INSERT INTO items SELECT * FROM tenant_globex.items;"},
      {"", "PERFORM * FROM tenant_globex.items;"},
      {"DECLARE x text;", "x := body FROM tenant_globex.items LIMIT 1;"},
      {"DECLARE x text;", "x = (SELECT body FROM tenant_globex.items LIMIT 1);"},
      {"DECLARE a int[] := '{1}';", "a[(SELECT 1 FROM tenant_globex.items LIMIT 1)] := 2;"},
      {"DECLARE c CURSOR FOR SELECT body FROM tenant_globex.items;", "NULL;"},
      {"DECLARE x text := (SELECT body FROM tenant_globex.items LIMIT 1);", "NULL;"},
      {"DECLARE r tenant_globex.items%ROWTYPE;", "NULL;"},
      {"DECLARE r tenant_globex.items.body%TYPE;", "NULL;"},
      {"", "RETURN (SELECT count(*) FROM tenant_globex.items);"},
      {"", "IF EXISTS (SELECT 1 FROM tenant_globex.items) THEN RETURN 1; END IF;"},
      {"", "RAISE NOTICE '%', (SELECT string_agg(body, ',') FROM tenant_globex.items);"},
      {"DECLARE r record;", "FOR r IN SELECT * FROM tenant_globex.items LOOP END LOOP;"},
      {"", "FOR i IN 1..(SELECT count(*) FROM tenant_globex.items) LOOP END LOOP;"},
      {"", "CREATE VIEW peek AS SELECT body FROM tenant_globex.items;"},
      {"", "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM tenant_globex.t';"},
  };
  for (const auto& [declare, body] : cases) {
    expect_refused(plpgsql(declare, body), kOther);
    // With dynamic SQL allowed, other schemas are refused all the same.
    expect_refused(plpgsql(declare, body), kOther, /*allow_dynamic=*/true);
  }
  expect_refused(plpgsql("", "EXECUTE 'SELECT 1' USING (SELECT 1 FROM tenant_globex.items);"),
                 kOther, true);
  expect_refused("DO $$ BEGIN INSERT INTO items SELECT * FROM tenant_globex.items; END $$", kOther);
  expect_refused("DO $$ BEGIN DELETE FROM tenant_globex.items; END $$", kOther, true);
  // Escapes in the JSON between libpg_query and the guard are decoded, not skipped.
  expect_refused("DO $$ BEGIN PERFORM 1 FROM \"tenant_globex\".items WHERE '\t\"\\' = ''; END $$",
                 kOther);
}

TEST(RoutingFunctionBody, SettingsAndResetsInBodiesAreRefused) {
  expect_refused(
      "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS "
      "$$ SELECT set_config('search_path', 'tenant_globex', false) $$",
      "changes search_path");
  expect_refused("DO $$ BEGIN PERFORM set_config('search_path', 'tenant_globex', true); END $$",
                 "changes search_path", true);
  expect_refused("DO $$ BEGIN SET search_path TO tenant_globex; END $$", "changes search_path");
  expect_refused("DO $$ BEGIN SET ROLE tenant_globex; END $$", "changes role");
  expect_refused("CREATE PROCEDURE p() LANGUAGE sql AS 'RESET ALL'", "changes search_path");
  expect_refused("DO $$ BEGIN RESET ALL; END $$", "changes search_path", true);
  expect_refused("DO $$ BEGIN PERFORM set_config(current_user, 'x', false); END $$",
                 "whose name is not a constant");
  expect_refused("DO $$ BEGIN ALTER ROLE current_user SET work_mem = '1GB'; END $$",
                 "ALTER ROLE ... SET");
  expect_refused("DO $$ BEGIN PERFORM * FROM pg_stat_activity; END $$", "pg_stat_activity");
  expect_refused("DO $$ BEGIN DEALLOCATE ALL; END $$", "DEALLOCATE", true);
}

TEST(RoutingFunctionBody, DynamicSqlIsRefusedUnlessTheTierAllowsIt) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {plpgsql("", "EXECUTE 'SELECT 1';"), kExecute},
      {plpgsql("", "EXECUTE format('SELECT count(*) FROM %I.items', 'tenant_' || 'globex');"),
       kExecute},
      {"CREATE FUNCTION f() RETURNS SETOF text LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE "
       "'SELECT 1'; END $$",
       kExecute},
      {plpgsql("DECLARE r record;", "FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP;"), kExecute},
      {"DO $$ BEGIN EXECUTE 'SELECT 1'; END $$", kExecute},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
       "SECURITY DEFINER function"},
      {"ALTER FUNCTION f() SECURITY DEFINER", "SECURITY DEFINER function"},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE sql SET work_mem = '64MB' AS 'SELECT 1'",
       "SET clause on a function"},
      {"ALTER PROCEDURE p() SET work_mem = '64MB'", "SET clause on a function"},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE plperl AS 'return 1'",
       "function in language plperl"},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS 'return 1'",
       "function in language plpython3u"},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE c AS 'lib', 'sym'", "function in language c"},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE internal AS 'int4in'",
       "function in language internal"},
      {"DO LANGUAGE plperl 'print 1'", "DO block in language plperl"},
  };
  for (const auto& [sql, says] : cases) {
    expect_refused(sql, says);
    GuardVerdict v = check(sql, /*allow_dynamic_sql=*/true);
    EXPECT_TRUE(v.allowed) << sql << "\n  message: " << v.message;
  }
  // The SET clause that changes a setting shardgate manages is refused in every tier.
  expect_refused(
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = tenant_globex "
      "AS 'SELECT 1'",
      "changes search_path", true);
  expect_refused("ALTER FUNCTION f() SET search_path = tenant_globex", "changes search_path", true);
  EXPECT_TRUE(check("ALTER FUNCTION f() SECURITY INVOKER").allowed);
}

TEST(RoutingFunctionBody, UnreadableBodiesAreRefusedInEveryTier) {
  const std::string says = "refused whatever the tier allows";
  for (bool allow : {false, true}) {
    expect_refused("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELEC 1'", "cannot parse",
                   allow);
    expect_refused(plpgsql("", "SELEC 1;"), "cannot parse the PL/pgSQL function body", allow);
    expect_refused("DO $$ BEGIN IF THEN END $$", "cannot parse the PL/pgSQL DO block", allow);
    expect_refused("DO $$ BEGIN RETURN 1 +; END $$", says, allow);
    // libpg_query's PL/pgSQL parser does not know cursor types: refused, not guessed.
    expect_refused(plpgsql("DECLARE c refcursor;",
                           "OPEN c FOR SELECT body FROM tenant_globex.items; RETURN 1;"),
                   says, allow);
  }
  // Nesting: DO inside a DO inside ... is read up to four levels deep.
  std::string inner = "PERFORM 1;";
  std::vector<std::string> levels;
  for (int i = 1; i <= 5; ++i) {
    std::string tag = "$l" + std::to_string(i) + "$";
    inner = "DO " + tag + " BEGIN " + inner + " END " + tag + ";";
    levels.push_back(inner);
  }
  expect_allowed(levels[3]);  // four levels
  expect_refused(levels[4], "nest more than 4 levels deep");
}

TEST(RoutingFunctionBody, QualifiedNamesInTheCreateItselfStillCount) {
  expect_refused("CREATE FUNCTION tenant_globex.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", kOther,
                 true);
  expect_refused("CREATE FUNCTION f(x tenant_globex.items) RETURNS int LANGUAGE sql AS 'SELECT 1'",
                 kOther, true);
  expect_refused(
      "CREATE FUNCTION f() RETURNS SETOF tenant_globex.items LANGUAGE plpgsql AS "
      "$$ BEGIN END $$",
      kOther, true);
  expect_refused(
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM "
      "tenant_globex.items; END",
      kOther, true);
  expect_refused("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC RESET ALL; END",
                 "changes search_path", true);
}

TEST(RoutingFunctionBody, CodeGoesOnlyIntoTheTenantsSchema) {
  // "reference" is a shared schema: readable, but code there would run for other tenants
  // with their own search_path.
  const std::string says = "puts a function or trigger in schema \"reference\"";
  expect_refused("CREATE FUNCTION reference.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", says,
                 true);
  expect_refused(
      "CREATE OR REPLACE PROCEDURE reference.p() LANGUAGE plpgsql AS $$ BEGIN "
      "INSERT INTO reference.loot SELECT body FROM items; END $$",
      says, true);
  expect_refused(
      "CREATE TRIGGER t AFTER INSERT ON reference.lookup FOR EACH ROW EXECUTE "
      "FUNCTION tenant_acme.f()",
      says, true);
  expect_refused(
      "DO $$ BEGIN CREATE FUNCTION reference.f() RETURNS int LANGUAGE sql AS "
      "'SELECT 1'; END $$",
      says, true);
  expect_allowed("CREATE FUNCTION tenant_acme.f() RETURNS int LANGUAGE sql AS 'SELECT 1'");
  expect_allowed("CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'");
  expect_allowed(
      "CREATE TRIGGER t AFTER INSERT ON tenant_acme.items FOR EACH ROW EXECUTE "
      "FUNCTION f()");
  expect_allowed("SELECT * FROM reference.lookup");
}

TEST(RoutingFunctionBody, PlpgsqlJsonReader) {
  using internal::PlpgsqlBody;
  using internal::PlpgsqlPiece;
  PlpgsqlBody body;
  std::string error;
  ASSERT_TRUE(internal::read_plpgsql_json(
      R"([{"PLpgSQL_function":{"datums":[{"PLpgSQL_var":{"refname":"x","datatype":)"
      R"({"PLpgSQL_type":{"typname":"int"}}}}],"action":{"PLpgSQL_stmt_block":{"body":[)"
      R"({"PLpgSQL_stmt_assign":{"varno":1,"expr":{"PLpgSQL_expr":{"query":"x := 1"}}}},)"
      R"({"PLpgSQL_stmt_raise":{"params":[{"PLpgSQL_expr":{"query":"'\u00e9\ud83d\ude00\"\\\n'"}}]}},)"
      R"({"PLpgSQL_stmt_dynexecute":{"query":{"PLpgSQL_expr":{"query":"q"}}, "into": true}},)"
      R"({"PLpgSQL_stmt_execsql":{"sqlstmt":{"PLpgSQL_expr":{"query":"SELECT 1"}}}}]}}}}])",
      body, error))
      << error;
  EXPECT_EQ(body.functions, 1);
  EXPECT_EQ(body.actions, 1);
  EXPECT_EQ(body.dynamic_what, kExecute);
  ASSERT_EQ(body.pieces.size(), 5u);
  EXPECT_EQ(body.pieces[0].kind, PlpgsqlPiece::Kind::kTypeName);
  EXPECT_EQ(body.pieces[1].kind, PlpgsqlPiece::Kind::kAssignment);
  EXPECT_EQ(body.pieces[2].kind, PlpgsqlPiece::Kind::kExpression);
  EXPECT_EQ(body.pieces[2].text, "'\xc3\xa9\xf0\x9f\x98\x80\"\\\n'");
  EXPECT_EQ(body.pieces[3].kind, PlpgsqlPiece::Kind::kExpression);
  EXPECT_EQ(body.pieces[4].kind, PlpgsqlPiece::Kind::kStatement);
  // A record variable other than a trigger's NEW and OLD: libpg_query omits its default.
  PlpgsqlBody rec;
  EXPECT_FALSE(internal::read_plpgsql_json(
      R"([{"PLpgSQL_function":{"datums":[{"PLpgSQL_rec":{"refname":"r"}}],"action":{}}}])", rec,
      error));
  EXPECT_NE(error.find("record variable"), std::string::npos) << error;
  for (const char* bad :
       {R"([{"a":"\u0000"}])", R"([{"a":"\ud800"}])", R"([{"a":"\x"}])", R"([{"a":1})",
        R"([{"a" 1}])", R"([{"a":"b"}]])", R"([{"a":"b)", "[\"a\nb\"]"}) {
    PlpgsqlBody b;
    EXPECT_FALSE(internal::read_plpgsql_json(bad, b, error)) << bad;
  }
}

}  // namespace
}  // namespace shardgate::routing

namespace shardgate::routing {
namespace {

// Channels are kept per tenant by rewriting the client's text; a body runs later, unread by
// the rewrite: channels named inside bodies are refused, shared objects and WITH HOLD
// cursors inside bodies count as in the statement.
TEST(RoutingFunctionBody, ChannelsSharedObjectsAndHoldCursorsInBodies) {
  for (const char* sql : {
           "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM "
           "pg_notify('jobs', NEW.id::text); RETURN NEW; END $$",
           "DO $$ BEGIN NOTIFY jobs, 'x'; END $$",
           "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ SELECT pg_notify('jobs', 'x') $$",
           "DO $$ BEGIN LISTEN jobs; END $$",
       }) {
    StatementInfo info = inspect_statement(sql);
    EXPECT_FALSE(info.channel_refusal.empty()) << sql;
    EXPECT_TRUE(info.channel_sites.empty()) << sql;  // never rewritten at body offsets
  }
  StatementInfo ext = inspect_statement("DO $$ BEGIN CREATE EXTENSION hstore; END $$");
  EXPECT_EQ(ext.database_wide, "CREATE EXTENSION");
  StatementInfo role = inspect_statement("DO $$ BEGIN CREATE ROLE r; END $$");
  EXPECT_EQ(role.server_wide, "CREATE ROLE");
  StatementInfo hold = inspect_statement(
      "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ DECLARE c CURSOR WITH HOLD FOR "
      "SELECT 1 $$");
  EXPECT_EQ(hold.outlives_transaction, "DECLARE ... WITH HOLD");
}

}  // namespace
}  // namespace shardgate::routing
