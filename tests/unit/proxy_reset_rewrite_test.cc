// RESET as PostgreSQL means it (proxy/session/reset_rewrite.h): RESET, SET ... TO DEFAULT and
// RESET ALL of a setting the client gave at startup are sent as a SET of the client's startup
// value; the client keeps the tag of what it sent.
#include "proxy/session/reset_rewrite.h"

#include <gtest/gtest.h>

namespace shardgate::proxy {
namespace {

struct Fixture {
  SessionSettings settings;
  ResetContext ctx;
  Fixture() {
    settings.add_startup("work_mem", "8MB");           // -c work_mem=8MB
    settings.add_startup("application_name", "it's");  // PGAPPNAME, with a quote
    settings.add_startup("DateStyle", "Postgres, MDY");
    settings.add_startup("myapp.user_id", "7");
    settings.add_startup("temp_tablespaces", "ts_a, ts_b");
    ctx.settings = &settings;
    ctx.simple_query = true;
  }
  std::optional<ResetRewrite> rewrite(std::string_view sql) {
    auto info = routing::inspect_statement(sql);
    EXPECT_TRUE(info.lone_reset.has_value()) << sql;
    if (!info.lone_reset) return std::nullopt;
    return rewrite_reset(*info.lone_reset, ctx);
  }
};

TEST(ResetRewrite, OnlyWholeTextsOfOneResetAreSeen) {
  EXPECT_FALSE(routing::inspect_statement("RESET work_mem; SHOW work_mem").lone_reset);
  EXPECT_FALSE(routing::inspect_statement("SET work_mem = '1MB'").lone_reset);
  EXPECT_FALSE(routing::inspect_statement("SHOW work_mem").lone_reset);
  auto local = routing::inspect_statement("SET LOCAL Work_Mem TO DEFAULT").lone_reset;
  ASSERT_TRUE(local);
  EXPECT_EQ(local->name, "work_mem");
  EXPECT_TRUE(local->local);
  EXPECT_FALSE(local->keyword);
  auto all = routing::inspect_statement("reset all").lone_reset;
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->all);
}

TEST(ResetRewrite, ResetOfAStartupSettingSetsTheStartupValue) {
  Fixture f;
  auto r = f.rewrite("RESET WORK_MEM");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sql, "SET \"work_mem\" TO '8MB'");
  EXPECT_EQ(r->tag, "RESET");
  EXPECT_EQ(r->hidden_completes, 0);

  r = f.rewrite("SET application_name TO DEFAULT");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sql, "SET \"application_name\" TO 'it''s'");
  EXPECT_EQ(r->tag, "") << "SET ... TO DEFAULT completes as SET: nothing to change";

  r = f.rewrite("SET LOCAL datestyle TO DEFAULT");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sql, "SET LOCAL \"datestyle\" TO 'Postgres, MDY'");

  r = f.rewrite("RESET myapp.user_id");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sql, "SET \"myapp\".\"user_id\" TO '7'");
}

TEST(ResetRewrite, WhatTheServersOwnResetAlreadyGets) {
  Fixture f;
  EXPECT_FALSE(f.rewrite("RESET geqo")) << "no startup value: the server's default is right";
  EXPECT_FALSE(f.rewrite("RESET search_path")) << "the tenant context, not a client setting";
  EXPECT_FALSE(f.rewrite("RESET role"));
  EXPECT_FALSE(f.rewrite("RESET temp_tablespaces")) << "a list SET would re-quote";
  f.ctx.simple_query = false;  // a Parse: one statement only
  auto r = f.rewrite("RESET work_mem");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sql, "SET \"work_mem\" TO '8MB'");
  EXPECT_EQ(r->tag, "RESET");
  EXPECT_FALSE(f.rewrite("RESET ALL"));
}

TEST(ResetRewrite, ResetAllSetsEveryStartupValueAndTheTenantContextAgain) {
  Fixture f;
  f.ctx.search_path = "tenant_acme";
  f.ctx.tenant = "acme";
  auto r = f.rewrite("RESET ALL");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->sql,
            "RESET ALL; SET \"application_name\" TO 'it''s'; SET \"datestyle\" TO 'Postgres, "
            "MDY'; SET \"myapp\".\"user_id\" TO '7'; SET \"work_mem\" TO '8MB'; SET search_path "
            "TO tenant_acme; SET \"shardgate\".\"tenant\" TO 'acme'");
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->hidden_completes, 6);

  SessionSettings none;
  ResetContext bare{&none, {}, {}, true};
  EXPECT_FALSE(rewrite_reset(*routing::inspect_statement("RESET ALL").lone_reset, bare))
      << "nothing to give back: the server's RESET ALL is PostgreSQL's";
}

}  // namespace
}  // namespace shardgate::proxy
