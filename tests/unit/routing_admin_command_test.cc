#include "proxy/admin/command_parser.h"

#include <gtest/gtest.h>

namespace shardgate::routing {
namespace {

AdminCommand parse_ok(std::string_view text) {
  auto r = parse_admin_command(text);
  if (auto* e = std::get_if<AdminParseError>(&r)) ADD_FAILURE() << text << ": " << e->message;
  auto* cmd = std::get_if<AdminCommand>(&r);
  return cmd ? *cmd : AdminCommand{};
}

std::string parse_error(std::string_view text) {
  auto r = parse_admin_command(text);
  auto* e = std::get_if<AdminParseError>(&r);
  if (!e) {
    ADD_FAILURE() << text << " parsed but should not";
    return {};
  }
  return e->message;
}

TEST(AdminCommand, ShowCommandsAnyCase) {
  EXPECT_EQ(parse_ok("SHOW HELP").verb, AdminVerb::kShowHelp);
  EXPECT_EQ(parse_ok("show pools;").verb, AdminVerb::kShowPools);
  EXPECT_EQ(parse_ok("  Show Servers ;; ").verb, AdminVerb::kShowServers);
  EXPECT_EQ(parse_ok("SHOW VERSION").verb, AdminVerb::kShowVersion);
  EXPECT_EQ(parse_ok("SHOW CONFIG").verb, AdminVerb::kShowConfig);
  EXPECT_EQ(parse_ok("SHOW SHARDS").verb, AdminVerb::kShowShards);
  EXPECT_EQ(parse_ok("SHOW CLIENTS").verb, AdminVerb::kShowClients);
  EXPECT_EQ(parse_ok("SHOW STATS").verb, AdminVerb::kShowStats);
  auto all = parse_ok("SHOW TENANTS");
  EXPECT_EQ(all.verb, AdminVerb::kShowTenants);
  EXPECT_FALSE(all.pattern);
  auto like = parse_ok("SHOW TENANTS LIKE 'ac%'");
  EXPECT_EQ(*like.pattern, "ac%");
  auto one = parse_ok("show tenant Acme-1");
  EXPECT_EQ(one.verb, AdminVerb::kShowTenant);
  EXPECT_EQ(one.name, "Acme-1");  // names keep their case
}

TEST(AdminCommand, CreateTenantOptionsInAnyOrder) {
  auto c = parse_ok("CREATE TENANT acme TIER pro ON SHARD s2 SCHEMA \"Acme Data\"");
  EXPECT_EQ(c.verb, AdminVerb::kCreateTenant);
  EXPECT_EQ(c.name, "acme");
  EXPECT_EQ(*c.shard, "s2");
  EXPECT_EQ(*c.tier, "pro");
  EXPECT_EQ(*c.schema, "Acme Data");
  auto bare = parse_ok("create tenant globex");
  EXPECT_FALSE(bare.shard);
  EXPECT_FALSE(bare.tier);
  EXPECT_FALSE(bare.schema);
  EXPECT_TRUE(c.changes_state());
  EXPECT_NE(parse_error("CREATE TENANT acme TIER pro TIER free").find("twice"), std::string::npos);
  EXPECT_NE(parse_error("CREATE TENANT acme ON s1").find("ON SHARD"), std::string::npos);
  EXPECT_NE(parse_error("CREATE TENANT").find("tenant id"), std::string::npos);
}

TEST(AdminCommand, DropAlterPauseResume) {
  auto d = parse_ok("DROP TENANT acme KEEP DATA");
  EXPECT_EQ(d.verb, AdminVerb::kDropTenant);
  EXPECT_TRUE(d.keep_data);
  EXPECT_FALSE(parse_ok("DROP TENANT acme").keep_data);
  auto t = parse_ok("ALTER TENANT acme SET TIER enterprise");
  EXPECT_EQ(t.verb, AdminVerb::kAlterTenantTier);
  EXPECT_EQ(*t.tier, "enterprise");
  auto r = parse_ok("ALTER TENANT acme SET RATE 12.5");
  EXPECT_EQ(r.verb, AdminVerb::kAlterTenantRate);
  EXPECT_DOUBLE_EQ(r.number, 12.5);
  auto m = parse_ok("alter tenant acme set max_client_connections 7");
  EXPECT_EQ(m.verb, AdminVerb::kAlterTenantMaxClients);
  EXPECT_DOUBLE_EQ(m.number, 7);
  EXPECT_FALSE(parse_error("ALTER TENANT acme SET MAX_CLIENT_CONNECTIONS 2.5").empty());
  EXPECT_FALSE(parse_error("ALTER TENANT acme SET RATE -1").empty());
  EXPECT_FALSE(parse_error("ALTER TENANT acme SET COLOR blue").empty());
  auto p = parse_ok("PAUSE TENANT acme TIMEOUT 250ms");
  EXPECT_EQ(p.verb, AdminVerb::kPauseTenant);
  EXPECT_EQ(p.timeout->count(), 250);
  EXPECT_FALSE(parse_ok("PAUSE SHARD s1").timeout);
  EXPECT_EQ(parse_ok("PAUSE SHARD s1").verb, AdminVerb::kPauseShard);
  EXPECT_EQ(parse_ok("RESUME TENANT acme").verb, AdminVerb::kResumeTenant);
  EXPECT_EQ(parse_ok("RESUME SHARD s1").verb, AdminVerb::kResumeShard);
  EXPECT_FALSE(parse_error("RESUME TENANT acme TIMEOUT 5s").empty());
  EXPECT_FALSE(parse_error("PAUSE TENANT acme TIMEOUT soon").empty());
}

TEST(AdminCommand, ReloadShutdownAndRefusals) {
  EXPECT_EQ(parse_ok("RELOAD").verb, AdminVerb::kReload);
  EXPECT_FALSE(parse_ok("SHUTDOWN").wait);
  EXPECT_TRUE(parse_ok("SHUTDOWN WAIT").wait);
  EXPECT_FALSE(parse_ok("SHOW STATS").changes_state());
  EXPECT_NE(parse_error("").find("SHOW HELP"), std::string::npos);
  EXPECT_NE(parse_error("SELECT 1").find("unknown command"), std::string::npos);
  EXPECT_NE(parse_error("SHOW TENANTS; DROP TENANT acme").find("one command"), std::string::npos);
  EXPECT_NE(parse_error("SHOW TENANT 'acme").find("unterminated"), std::string::npos);
  EXPECT_FALSE(parse_error("RELOAD NOW").empty());
  EXPECT_FALSE(parse_error(std::string(70000, 'x')).empty());
}

TEST(AdminCommand, LikeMatch) {
  EXPECT_TRUE(like_match("acme", "acme"));
  EXPECT_TRUE(like_match("acme", "ac%"));
  EXPECT_TRUE(like_match("acme", "%m%"));
  EXPECT_TRUE(like_match("acme", "a_m_"));
  EXPECT_TRUE(like_match("", "%"));
  EXPECT_FALSE(like_match("acme", "ac"));
  EXPECT_FALSE(like_match("acme", "_cm"));
  EXPECT_FALSE(like_match("globex", "ac%"));
  EXPECT_TRUE(like_match("t_000123", "t%23"));
}

}  // namespace
}  // namespace shardgate::routing
