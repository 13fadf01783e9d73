#include "routing/guard/channel_names.h"

#include <gtest/gtest.h>

#include <string>

#include "routing/guard/plain_statement.h"
#include "routing/guard/statement.h"

namespace shardgate::routing {
namespace {

std::string scoped(const std::string& sql, const std::string& tenant = "acme") {
  StatementInfo info = inspect_statement(sql);
  EXPECT_TRUE(info.parsed) << sql;
  EXPECT_TRUE(info.channel_refusal.empty()) << sql << ": " << info.channel_refusal;
  return rewrite_channels(sql, info, tenant);
}

TEST(ChannelNames, ShortFormCarriesTheTenant) {
  EXPECT_EQ(server_channel_name("acme", "jobs"), "acme.jobs");
  EXPECT_EQ(server_channel_name("acme", "Jobs"), "acme.Jobs");
  EXPECT_EQ(server_channel_name("acme", ""), "");  // PostgreSQL refuses it, as unproxied
  EXPECT_EQ(client_channel_name("acme", "acme.jobs"), "jobs");
  EXPECT_EQ(client_channel_name("acme", "acme.a.b"), "a.b");
  EXPECT_EQ(client_channel_name("acme", "globex.jobs"), std::nullopt);
  EXPECT_EQ(client_channel_name("acme", "acme-2.jobs"), std::nullopt);
  EXPECT_EQ(client_channel_name("acme-2", "acme.jobs"), std::nullopt);
  EXPECT_EQ(client_channel_name("acme", "jobs"), std::nullopt);
  EXPECT_EQ(client_channel_name("acme", "acme."), std::nullopt);
  EXPECT_EQ(client_channel_name("", ".jobs"), std::nullopt);
}

TEST(ChannelNames, LongNamesAreHashedWithinTheIdentifierLimit) {
  std::string c58(58, 'c');  // acme. + 58 = 63 bytes: still the short form
  EXPECT_EQ(server_channel_name("acme", c58), "acme." + c58);
  EXPECT_FALSE(is_hashed_channel(server_channel_name("acme", c58)));
  std::string c60(60, 'c');
  std::string hashed = server_channel_name("acme", c60);
  EXPECT_EQ(hashed, "#83a24bd64452aab879a5a4f7bc9b69eb0abd13247232c8d5a5381874aaeb04");
  EXPECT_EQ(hashed.size(), kMaxChannelBytes);
  EXPECT_TRUE(is_hashed_channel(hashed));
  EXPECT_NE(server_channel_name("globex", c60), hashed);
  // A hashed name is never read back as a short one.
  EXPECT_EQ(client_channel_name("acme", hashed), std::nullopt);
  // Nor is a short-looking name that the short form would not produce (too long).
  EXPECT_EQ(client_channel_name("acme", "acme." + c60), std::nullopt);
}

TEST(ChannelRewrite, StatementsGetTheTenantsNames) {
  EXPECT_EQ(scoped("LISTEN Jobs"), "LISTEN \"acme.jobs\"");
  EXPECT_EQ(scoped("listen \"Jobs\";"), "LISTEN \"acme.Jobs\";");
  EXPECT_EQ(scoped("UNLISTEN jobs"), "UNLISTEN \"acme.jobs\"");
  EXPECT_EQ(scoped("UNLISTEN *"), "UNLISTEN *");
  EXPECT_EQ(scoped("NOTIFY jobs"), "NOTIFY \"acme.jobs\"");
  EXPECT_EQ(scoped("NOTIFY jobs, 'it''s \\ done'"), "NOTIFY \"acme.jobs\", E'it''s \\\\ done'");
  EXPECT_EQ(scoped("LISTEN \"a\"\"b\""), "LISTEN \"acme.a\"\"b\"");
  EXPECT_EQ(scoped("LISTEN jobs", "globex"), "LISTEN \"globex.jobs\"");
  std::string c60(60, 'c');
  EXPECT_EQ(scoped("LISTEN " + c60), "LISTEN \"" + server_channel_name("acme", c60) + "\"");
}

TEST(ChannelRewrite, PgNotifyLiteralsAreReplacedWhereTheyStand) {
  EXPECT_EQ(scoped("SELECT pg_notify('jobs', 'x')"), "SELECT pg_notify('acme.jobs', 'x')");
  EXPECT_EQ(scoped("select PG_CATALOG.PG_NOTIFY('Jobs', $1)"),
            "select PG_CATALOG.PG_NOTIFY('acme.Jobs', $1)");
  EXPECT_EQ(scoped("SELECT pg_notify(E'jo\\x62s', 'x')"), "SELECT pg_notify('acme.jobs', 'x')");
  EXPECT_EQ(scoped("SELECT pg_notify(U&'!006Aobs' UESCAPE '!', 'x')"),
            "SELECT pg_notify('acme.jobs', 'x')");
  EXPECT_EQ(scoped("SELECT pg_notify($$jobs$$, 'x')"), "SELECT pg_notify('acme.jobs', 'x')");
  EXPECT_EQ(scoped("SELECT pg_notify('jo'\n  'bs', 'x')"), "SELECT pg_notify('acme.jobs', 'x')");
  EXPECT_EQ(scoped("SELECT pg_notify('jobs'::text, 'x')"),
            "SELECT pg_notify('acme.jobs'::text, 'x')");
  EXPECT_EQ(scoped("SELECT pg_notify(text 'jobs', 'x')"),
            "SELECT pg_notify(text 'acme.jobs', 'x')");
  EXPECT_EQ(scoped("SELECT 1 FROM t WHERE pg_notify('it''s', 'x') IS NULL"),
            "SELECT 1 FROM t WHERE pg_notify('acme.it''s', 'x') IS NULL");
  // The tenant's own function named pg_notify is not pg_catalog's.
  EXPECT_EQ(scoped("SELECT tenant_acme.pg_notify('jobs', 'x')"),
            "SELECT tenant_acme.pg_notify('jobs', 'x')");
}

TEST(ChannelRewrite, EveryStatementOfAText) {
  // A statement's span starts right after the previous ';' (its leading blanks and comments
  // are replaced with it).
  EXPECT_EQ(scoped("SELECT 1; LISTEN a;SELECT pg_notify('b', 'p'), pg_notify('c', 'q');  NOTIFY d"),
            "SELECT 1;LISTEN \"acme.a\";SELECT pg_notify('acme.b', 'p'), pg_notify('acme.c', "
            "'q');NOTIFY \"acme.d\"");
  EXPECT_EQ(scoped("/* c */ LISTEN a -- trailing\n; NOTIFY b;"),
            "LISTEN \"acme.a\";NOTIFY \"acme.b\";");
}

TEST(ChannelRewrite, WhatIsRewrittenNamesOnlyTheTenantsChannels) {
  for (const char* sql : {"LISTEN jobs; NOTIFY jobs, 'x'; SELECT pg_notify('jobs', 'y')",
                          "SELECT pg_notify(E'\\'', '')", "NOTIFY \"acme.x\""}) {
    std::string out = scoped(sql, "globex");
    StatementInfo again = inspect_statement(out);
    ASSERT_TRUE(again.parsed) << out;
    EXPECT_FALSE(again.channel_sites.empty());
    for (const auto& site : again.channel_sites)
      EXPECT_TRUE(site.channel.starts_with("globex.")) << out << ": " << site.channel;
  }
}

TEST(ChannelRewrite, ChannelsComputedAtRunTimeAreRefused) {
  for (const char* sql : {
           "SELECT pg_notify($1, 'x')",
           "SELECT pg_notify(name, 'x') FROM channels",
           "SELECT pg_notify('jo' || 'bs', 'x')",
           "SELECT pg_notify('jobs'::varchar(2), 'x')",
           "SELECT pg_notify('jobs'::char(2), 'x')",
           "SELECT pg_catalog.pg_notify(NULL, 'x')",
           "SELECT pg_notify(VARIADIC ARRAY['a', 'b'])",
           "CREATE RULE r AS ON INSERT TO t DO ALSO NOTIFY jobs",
       }) {
    StatementInfo info = inspect_statement(sql);
    EXPECT_TRUE(info.parsed) << sql;
    EXPECT_FALSE(info.channel_refusal.empty()) << sql;
  }
  EXPECT_TRUE(inspect_statement("SELECT 1").channel_refusal.empty());
  EXPECT_TRUE(inspect_statement("SELECT 1").channel_sites.empty());
}

TEST(ChannelRewrite, PgNotifyIsNeverPlain) {
  EXPECT_FALSE(is_plain_statement("select pg_notify('jobs', 'x')"));
  EXPECT_FALSE(is_plain_statement("SELECT PG_NOTIFY('jobs', 'x')"));
  EXPECT_FALSE(is_plain_statement("LISTEN jobs"));
  EXPECT_FALSE(is_plain_statement("notify jobs"));
}

}  // namespace
}  // namespace shardgate::routing
