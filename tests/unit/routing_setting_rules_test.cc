// routing/setting_rules, routing/search_path and the statement-scope rules: one decision per
// protected setting for every path, PostgreSQL's encoding names, search_path lists, and
// statements on objects every tenant shares.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "routing/guard/guard.h"
#include "routing/guard/search_path.h"
#include "routing/guard/session_state.h"
#include "routing/guard/setting_rules.h"
#include "routing/guard/statement.h"

namespace shardgate::routing {
namespace {

// same_setting is setting_key's comparison without the copies: it must agree with it on ASCII
// case, on bytes above 0x7f (never folded) and on lengths.
TEST(SettingRules, SameSettingAgreesWithSettingKey) {
  const std::vector<std::string> names = {"DateStyle",
                                          "datestyle",
                                          "DATESTYLE",
                                          "DateStyl",
                                          "TimeZone",
                                          "timezone ",
                                          "",
                                          "search_path",
                                          "Search_Path",
                                          "search-path",
                                          "\xc3\x89tat",
                                          "\xc3\xa9tat",
                                          "a",
                                          "A",
                                          "@",
                                          "`"};
  int same = 0;
  for (const auto& a : names) {
    for (const auto& b : names) {
      bool expected = setting_key(a) == setting_key(b);
      EXPECT_EQ(same_setting(a, b), expected) << a << " / " << b;
      same += expected;
    }
  }
  EXPECT_GT(same, static_cast<int>(names.size()));  // some distinct spellings match
}

// Every name of PostgreSQL 15's pg_encname_tbl (src/common/encnames.c) with the encoding it
// names, as pg_char_to_encoding() reads it.
const std::vector<std::pair<std::string, std::string>> kPostgresAliases = {
    {"abc", "WIN1258"},
    {"alt", "WIN866"},
    {"big5", "BIG5"},
    {"euccn", "EUC_CN"},
    {"eucjis2004", "EUC_JIS_2004"},
    {"eucjp", "EUC_JP"},
    {"euckr", "EUC_KR"},
    {"euctw", "EUC_TW"},
    {"gb18030", "GB18030"},
    {"gbk", "GBK"},
    {"iso88591", "LATIN1"},
    {"iso885910", "LATIN6"},
    {"iso885913", "LATIN7"},
    {"iso885914", "LATIN8"},
    {"iso885915", "LATIN9"},
    {"iso885916", "LATIN10"},
    {"iso88592", "LATIN2"},
    {"iso88593", "LATIN3"},
    {"iso88594", "LATIN4"},
    {"iso88595", "ISO_8859_5"},
    {"iso88596", "ISO_8859_6"},
    {"iso88597", "ISO_8859_7"},
    {"iso88598", "ISO_8859_8"},
    {"iso88599", "LATIN5"},
    {"johab", "JOHAB"},
    {"koi8", "KOI8R"},
    {"koi8r", "KOI8R"},
    {"koi8u", "KOI8U"},
    {"latin1", "LATIN1"},
    {"latin10", "LATIN10"},
    {"latin2", "LATIN2"},
    {"latin3", "LATIN3"},
    {"latin4", "LATIN4"},
    {"latin5", "LATIN5"},
    {"latin6", "LATIN6"},
    {"latin7", "LATIN7"},
    {"latin8", "LATIN8"},
    {"latin9", "LATIN9"},
    {"mskanji", "SJIS"},
    {"muleinternal", "MULE_INTERNAL"},
    {"shiftjis", "SJIS"},
    {"shiftjis2004", "SHIFT_JIS_2004"},
    {"sjis", "SJIS"},
    {"sqlascii", "SQL_ASCII"},
    {"tcvn", "WIN1258"},
    {"tcvn5712", "WIN1258"},
    {"uhc", "UHC"},
    {"unicode", "UTF8"},
    {"utf8", "UTF8"},
    {"vscii", "WIN1258"},
    {"win", "WIN1251"},
    {"win1250", "WIN1250"},
    {"win1251", "WIN1251"},
    {"win1252", "WIN1252"},
    {"win1253", "WIN1253"},
    {"win1254", "WIN1254"},
    {"win1255", "WIN1255"},
    {"win1256", "WIN1256"},
    {"win1257", "WIN1257"},
    {"win1258", "WIN1258"},
    {"win866", "WIN866"},
    {"win874", "WIN874"},
    {"win932", "SJIS"},
    {"win936", "GBK"},
    {"win949", "UHC"},
    {"win950", "BIG5"},
    {"windows1250", "WIN1250"},
    {"windows1251", "WIN1251"},
    {"windows1252", "WIN1252"},
    {"windows1253", "WIN1253"},
    {"windows1254", "WIN1254"},
    {"windows1255", "WIN1255"},
    {"windows1256", "WIN1256"},
    {"windows1257", "WIN1257"},
    {"windows1258", "WIN1258"},
    {"windows866", "WIN866"},
    {"windows874", "WIN874"},
    {"windows932", "SJIS"},
    {"windows936", "GBK"},
    {"windows949", "UHC"},
    {"windows950", "BIG5"},
};

bool client_only(const std::string& canonical) {
  return canonical == "SJIS" || canonical == "SHIFT_JIS_2004" || canonical == "BIG5" ||
         canonical == "GBK" || canonical == "UHC" || canonical == "GB18030" || canonical == "JOHAB";
}

TEST(SettingRules, KnowsEveryPostgresEncodingName) {
  ASSERT_EQ(kPostgresAliases.size(), 81u);
  for (const auto& [name, canonical] : kPostgresAliases) {
    auto e = lookup_client_encoding(name);
    ASSERT_TRUE(e.has_value()) << name;
    EXPECT_EQ(e->canonical, canonical) << name;
    EXPECT_EQ(e->server_safe, !client_only(canonical)) << name;
    // Only the server-safe ones may be set, by any spelling PostgreSQL accepts.
    EXPECT_EQ(is_protected_setting("client_encoding", SettingChange::kValue, name),
              client_only(canonical))
        << name;
  }
}

TEST(SettingRules, NormalisesNamesAsPostgresDoes) {
  // clean_encoding_name(): every non-alphanumeric ASCII character dropped, letters folded.
  for (const char* name : {"Shift_JIS", "SHIFT-JIS", "windows-932", "Windows_932", "MS Kanji",
                           "ms-kanji", "s.j.i.s", " sjis ", "SJIS\t", "S-JIS", "Win932",
                           "Shift JIS 2004", "Big-5", "big 5", "gb-18030", "u.h.c", "Jo-Hab"}) {
    auto e = lookup_client_encoding(name);
    ASSERT_TRUE(e.has_value()) << name;
    EXPECT_FALSE(e->server_safe) << name;
    EXPECT_TRUE(is_protected_setting("client_encoding", SettingChange::kValue, name)) << name;
    EXPECT_TRUE(is_protected_setting("CLIENT_ENCODING", SettingChange::kValue, name)) << name;
  }
  for (const char* name :
       {"UTF8", "utf-8", "Unicode", "LATIN1", "iso-8859-1", "ISO_8859_15", "EUC_JP", "euc-kr",
        "WIN1252", "windows-1251", "KOI8-R", "SQL_ASCII", "Mule_Internal"}) {
    auto e = lookup_client_encoding(name);
    ASSERT_TRUE(e.has_value()) << name;
    EXPECT_TRUE(e->server_safe) << name;
    EXPECT_FALSE(is_protected_setting("client_encoding", SettingChange::kValue, name)) << name;
  }
}

TEST(SettingRules, RefusesWhatPostgresMightReadDifferently) {
  // Unknown names (PostgreSQL rejects them too), names with bytes above 0x7f (PostgreSQL
  // drops or keeps them depending on the server's locale), names of 64 bytes or more.
  for (std::string name :
       {std::string("cp932"), std::string("sj\xC3\xAFis"), std::string("\xA0sjis"), std::string(""),
        std::string("---"), std::string(64, 'u') + "tf8", std::string("default")}) {
    EXPECT_FALSE(lookup_client_encoding(name).has_value()) << name;
    EXPECT_TRUE(is_protected_setting("client_encoding", SettingChange::kValue, name)) << name;
  }
  EXPECT_TRUE(is_protected_setting("client_encoding", SettingChange::kNonConstant, ""));
  EXPECT_FALSE(is_protected_setting("client_encoding", SettingChange::kReset, ""));
}

TEST(SettingRules, ManagedSettingsAnyCase) {
  for (const char* name : {"search_path", "SEARCH_PATH", "Role", "session_authorization",
                           "shardgate.tenant", "ShardGate.Anything"}) {
    EXPECT_TRUE(is_protected_setting(name, SettingChange::kValue, "x")) << name;
    EXPECT_TRUE(is_protected_setting(name, SettingChange::kReset, "")) << name;
  }
  EXPECT_TRUE(is_protected_setting("Standard_Conforming_Strings", SettingChange::kValue, "off"));
  EXPECT_FALSE(is_protected_setting("standard_conforming_strings", SettingChange::kValue, "ON"));
  EXPECT_FALSE(is_protected_setting("work_mem", SettingChange::kValue, "1GB"));
  EXPECT_FALSE(is_protected_setting("DateStyle", SettingChange::kValue, "ISO"));
}

TEST(SettingRules, EveryStatementPathUsesTheSameRule) {
  GuardPolicy p;
  p.tenant = "acme";
  p.tenant_schema = "tenant_acme";
  for (const char* sql :
       {"SET client_encoding = 'windows-932'", "SET NAMES 'MS Kanji'", "SET SESSION NAMES 's.jis'",
        "SET LOCAL client_encoding TO 'Shift JIS 2004'", "SET \"Client_Encoding\" TO 'big 5'",
        "SET client_encoding TO cp932", "SELECT set_config('CLIENT_ENCODING', 'win950', false)",
        "SELECT set_config('client_encoding', 'sj' || 'is', false)",
        "SET client_encoding TO 'sj\xC3\xAFis'"}) {
    GuardVerdict v = judge(inspect_statement(sql), p);
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_NE(v.message.find("client_encoding"), std::string::npos) << sql << ": " << v.message;
  }
  for (const char* sql : {"SET client_encoding = 'latin-1'", "SET NAMES 'Unicode'",
                          "RESET client_encoding", "SET client_encoding TO DEFAULT"}) {
    EXPECT_TRUE(judge(inspect_statement(sql), p).allowed) << sql;
  }
}

TEST(SearchPathText, SplitsAsPostgresDoes) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_search_path("tenant_acme"), V{"tenant_acme"});
  EXPECT_EQ(split_search_path(" Tenant_Acme ,  public "), (V{"tenant_acme", "public"}));
  EXPECT_EQ(split_search_path("\"Mixed\", \"a\"\"b\",x"), (V{"Mixed", "a\"b", "x"}));
  EXPECT_EQ(split_search_path("\"$user\", public"), (V{"$user", "public"}));
  EXPECT_EQ(split_search_path(""), V{});
  EXPECT_EQ(split_search_path(std::string(70, 'a')), V{std::string(63, 'a')});
  // Cut at a UTF-8 boundary; bytes that are no UTF-8 at all are cut plainly, never to nothing.
  EXPECT_EQ(split_search_path(std::string(62, 'a') + "\xC3\xA9" + "b"), V{std::string(62, 'a')});
  EXPECT_EQ(split_search_path(std::string(68, '\x81')), V{std::string(63, '\x81')});
  for (const char* bad : {"a,", ",a", "a,,b", "\"a", "a b", "\"a\"b", "\"\""}) {
    EXPECT_FALSE(split_search_path(bad).has_value()) << bad;
  }
}

TEST(SearchPathText, QuotesOnlyWhenPostgresWould) {
  EXPECT_EQ(quote_ident_if_needed("tenant_acme"), "tenant_acme");
  EXPECT_EQ(quote_ident_if_needed("_x1"), "_x1");
  EXPECT_EQ(quote_ident_if_needed("Acme"), "\"Acme\"");
  EXPECT_EQ(quote_ident_if_needed("1abc"), "\"1abc\"");
  EXPECT_EQ(quote_ident_if_needed("tenant-acme"), "\"tenant-acme\"");
  EXPECT_EQ(quote_ident_if_needed("$user"), "\"$user\"");
  EXPECT_EQ(quote_ident_if_needed("select"), "\"select\"");    // reserved
  EXPECT_EQ(quote_ident_if_needed("user"), "\"user\"");        // reserved
  EXPECT_EQ(quote_ident_if_needed("between"), "\"between\"");  // column-name keyword
  EXPECT_EQ(quote_ident_if_needed("public"), "public");
  EXPECT_EQ(quote_ident_if_needed("data"), "data");  // unreserved keyword: bare
  EXPECT_EQ(quote_ident_if_needed("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(search_path_text({"tenant_acme", "public", "Ref"}), "tenant_acme, public, \"Ref\"");
}

TEST(SearchPathText, GuardAllowsOnlyTheTenantsSchemas) {
  std::vector<std::string> shared = {"reference"};
  GuardPolicy p;
  p.tenant = "acme";
  p.tenant_schema = "tenant_acme";
  p.shared_schemas = &shared;
  EXPECT_TRUE(search_path_allowed({"tenant_acme"}, p));
  EXPECT_TRUE(search_path_allowed({"tenant_acme", "reference", "pg_catalog"}, p));
  EXPECT_TRUE(search_path_allowed({"pg_catalog", "tenant_acme", "reference"}, p));
  EXPECT_TRUE(search_path_allowed({"tenant_acme", "pg_temp"}, p));
  // pg_temp first: CREATE TABLE would make a temporary table that outlives the transaction.
  EXPECT_FALSE(search_path_allowed({"pg_temp", "tenant_acme"}, p));
  EXPECT_FALSE(search_path_allowed({"pg_catalog", "pg_temp", "tenant_acme"}, p));
  // A shared schema before the tenant's own: unqualified CREATEs would land in it.
  EXPECT_FALSE(search_path_allowed({"reference"}, p));
  EXPECT_FALSE(search_path_allowed({"reference", "tenant_acme"}, p));
  EXPECT_FALSE(search_path_allowed({"information_schema", "tenant_acme"}, p));
  GuardPolicy shared_rows = p;  // isolation shared: no schema of its own
  shared_rows.tenant_schema = "";
  EXPECT_TRUE(search_path_allowed({"reference"}, shared_rows));
  EXPECT_TRUE(search_path_allowed({"reference", "pg_temp"}, shared_rows));
  EXPECT_FALSE(search_path_allowed({"pg_temp", "reference"}, shared_rows));
  EXPECT_FALSE(search_path_allowed({"tenant_acme", "public"}, p));
  EXPECT_FALSE(search_path_allowed({"tenant_acme", "tenant_globex"}, p));
  EXPECT_FALSE(search_path_allowed({"$user", "tenant_acme"}, p));
  EXPECT_FALSE(search_path_allowed({"Tenant_Acme"}, p));
}

GuardVerdict judge_as(std::string_view sql, bool own_database = false) {
  GuardPolicy p;
  p.tenant = "acme";
  p.tenant_schema = "tenant_acme";
  p.own_database = own_database;
  return judge(inspect_statement(sql), p);
}

TEST(StatementScope, RefusesObjectsEveryTenantShares) {
  for (const char* sql : {
           "CREATE EXTENSION \"uuid-ossp\"",
           "CREATE EXTENSION IF NOT EXISTS hstore SCHEMA tenant_acme",
           "DROP EXTENSION \"uuid-ossp\"",
           "DROP EXTENSION IF EXISTS hstore CASCADE",
           "ALTER EXTENSION hstore UPDATE",
           "ALTER EXTENSION hstore SET SCHEMA tenant_acme",
           "ALTER EXTENSION hstore ADD FUNCTION tenant_acme.f()",
           "COMMENT ON EXTENSION hstore IS 'x'",
           "CREATE PUBLICATION p FOR TABLE items",
           "DROP PUBLICATION p",
           "CREATE EVENT TRIGGER t ON ddl_command_start EXECUTE FUNCTION f()",
           "DROP EVENT TRIGGER t",
           "CREATE CAST (int AS text) WITH FUNCTION f(int)",
           "DROP CAST (int AS text)",
           "CREATE SERVER s FOREIGN DATA WRAPPER w",
           "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC",
           "SELECT 1; CREATE EXTENSION pgcrypto",
       }) {
    GuardVerdict v = judge_as(sql);
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_EQ(v.sqlstate, "42501") << sql;
    EXPECT_NE(v.message.find("shared by every tenant of the database"), std::string::npos)
        << sql << ": " << v.message;
    // A tenant with a database of its own owns these.
    EXPECT_TRUE(judge_as(sql, /*own_database=*/true).allowed) << sql;
  }
  for (const char* sql : {"CREATE ROLE r", "ALTER ROLE app PASSWORD 'x'", "DROP ROLE r",
                          "GRANT tenant_globex TO app", "CREATE DATABASE d", "DROP DATABASE app",
                          "ALTER DATABASE app RENAME TO x", "CREATE TABLESPACE t LOCATION '/x'",
                          "GRANT SET ON PARAMETER work_mem TO app", "COMMENT ON ROLE app IS 'x'",
                          "ALTER ROLE app RENAME TO x", "GRANT CONNECT ON DATABASE app TO r"}) {
    GuardVerdict v = judge_as(sql, /*own_database=*/true);
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_NE(v.message.find("shared by every tenant of the server"), std::string::npos)
        << sql << ": " << v.message;
  }
  for (const char* sql : {"ALTER DEFAULT PRIVILEGES IN SCHEMA tenant_acme GRANT SELECT ON TABLES "
                          "TO PUBLIC",
                          "DROP TABLE items", "COMMENT ON TABLE items IS 'x'",
                          "GRANT SELECT ON items TO PUBLIC", "SELECT * FROM pg_extension"}) {
    EXPECT_TRUE(judge_as(sql).allowed) << sql;
  }
}

TEST(StatementScope, WithHoldCursorsOutliveTheTransaction) {
  for (const char* sql : {"DECLARE c CURSOR WITH HOLD FOR SELECT * FROM items",
                          "DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT 1",
                          "BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT 1; COMMIT"}) {
    StatementInfo info = inspect_statement(sql);
    EXPECT_EQ(info.outliving_kind, OutlivingState::kHoldCursor) << sql;
    GuardVerdict v = judge_session_state(info, "acme");
    EXPECT_FALSE(v.allowed) << sql;
    EXPECT_EQ(v.sqlstate, "0A000") << sql;
    EXPECT_NE(v.hint.find("DISABLE_SERVER_SIDE_CURSORS"), std::string::npos) << v.hint;
    EXPECT_TRUE(judge_as(sql).allowed) << sql;  // the guard itself has nothing against it
  }
  EXPECT_TRUE(judge_session_state(inspect_statement("DECLARE c CURSOR FOR SELECT 1"), "a").allowed);
  EXPECT_TRUE(
      judge_session_state(inspect_statement("DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1"), "a")
          .allowed);
}

}  // namespace
}  // namespace shardgate::routing
