#include "routing/guard/plain_statement.h"

#include <gtest/gtest.h>

#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "routing/guard/statement.h"

namespace shardgate::routing {
namespace {

TEST(PlainStatement, RecognisesOrdinaryStatements) {
  for (const char* sql : {
           "SELECT abalance FROM pgbench_accounts WHERE aid = 42;",
           "select 1",
           "UPDATE pgbench_accounts SET abalance = abalance + -17 WHERE aid = 9;",
           "INSERT INTO items (body) VALUES ('it''s a.b'), ('x')",
           "DELETE FROM items WHERE id IN (1, 2, 3)",
           "SELECT 1.5 * 2, now(), count(*) FROM items WHERE body LIKE 'a%' ;  ",
           "VALUES (1), (2)",
       }) {
    EXPECT_TRUE(is_plain_statement(sql)) << sql;
    // The full inspector agrees there is nothing to refuse.
    auto info = inspect_statement(sql);
    EXPECT_TRUE(info.qualified_schemas.empty() && info.protected_settings.empty() &&
                !info.dynamic_sql)
        << sql;
  }
}

TEST(PlainStatement, SendsEverythingElseToTheFullInspector) {
  for (const char* sql : {
           "",
           "SET search_path TO x",
           "select * from tenant_b.items",
           "select * from tenant_b . items",
           "select * from \"tenant_b\".items",
           "select set_config('search_path', 'b', false)",
           "select nextval('b.seq')",
           "select 'b.items'::regclass",
           "select query_to_xml('x', true, true, '')",
           "select table_to_xml('b.items', true, true, '')",
           "select dblink('x', 'y')",
           "select 1; select 2",
           "select 1 -- comment",
           "select /* c */ 1",
           "select E'\\x'",
           "select $$x$$",
           "select U&'d'",
           "select 'a\\'",
           "DO $$begin end$$",
           "WITH x AS (select 1) select 1",
           "copy items to stdout",
           "update pg_settings set setting = 'x'",
           "select t1.2",
           "select 'é'",
           "select ts_stat('select 1')",
           "select cast('x.y' as regclass)",
           "SELECT 1.e5",
           "SELECT most_common_vals FROM pg_stats",
           "select query from pg_stat_activity",
       }) {
    EXPECT_FALSE(is_plain_statement(sql)) << sql;
  }
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  return {std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
}

TEST(DeniedWord, EveryRuleStillMatchesAndNearMissesDoNot) {
  // Whole words, then prefixes, then suffixes (each alphabetical): the first-letter and
  // length filter in front of the list must not hide any of them.
  for (const auto& w :
       words("current_setting currval cursor_to_xml lastval nextval pg_notify "
             "pg_sequence_last_value pg_settings query_to_xml regclass regcollation regconfig "
             "regdictionary regnamespace regoper regoperator regproc regprocedure regrole regtype "
             "set_config setval temp temporary ts_rewrite ts_stat xmlparse "
             "dblink dblink_exec lo_import pg_advisory_lock pg_advisory_lock_shared pg_file_write "
             "pg_ls_dir pg_read_file pg_stat_activity pg_stats pg_try_advisory_lock "
             "database_to_xml_and_xmlschema schema_to_xmlschema table_to_xml"))
    EXPECT_TRUE(is_denied_word(w)) << w;
  for (const char* w : {"", "select", "set", "setvalue", "regclas", "pg_setting", "template",
                        "pg_advisory_xact_lock", "pg_try_advisory_xact_lock", "lo", "xml", "to_xml",
                        "pgbench_accounts", "abalance", "t", "p", "nextva"}) {
    EXPECT_FALSE(is_denied_word(w)) << w;
  }
}

TEST(PlainStatement, WordsLongerThanANameGoToTheFullInspector) {
  std::string name(63, 'a');
  EXPECT_TRUE(is_plain_statement("select " + name + " from t"));
  EXPECT_FALSE(is_plain_statement("select " + name + "a from t"));
  // A denied word still counts at the end of a statement and next to punctuation.
  EXPECT_FALSE(is_plain_statement("select 1 from t where x = nextval"));
  EXPECT_FALSE(is_plain_statement("select(nextval)"));
  EXPECT_FALSE(is_plain_statement("SELECT NEXTVAL('s')"));
}

TEST(StartsAsDml, OnlyStatementsThatEndWhereTheyStarted) {
  for (const char* sql :
       {"SELECT abalance FROM pgbench_accounts WHERE aid = $1;", "select 1",
        "\n\t  Insert into t values ($1)", "UPDATE t SET a = 1", "delete from t", "VALUES (1)",
        "WITH x AS (SELECT 1) SELECT * FROM x", "TABLE t", "select(1)"}) {
    EXPECT_TRUE(starts_as_dml(sql)) << sql;
  }
  for (const char* sql : {"",
                          "   ",
                          "BEGIN",
                          "begin; select 1",
                          "COPY t FROM STDIN",
                          "SET search_path TO x",
                          "/* c */ SELECT 1",
                          "-- c\nSELECT 1",
                          "(SELECT 1)",
                          "selectx 1",
                          "PREPARE p AS SELECT 1",
                          "EXECUTE p",
                          "LISTEN x",
                          "START TRANSACTION",
                          "CALL p()",
                          "DO $$ begin end $$",
                          "select\xc3\xa9 1",
                          "DISCARD ALL",
                          "DEALLOCATE p",
                          "show x",
                          "explain select 1"}) {
    EXPECT_FALSE(starts_as_dml(sql)) << sql;
  }
}

}  // namespace
}  // namespace shardgate::routing
