#include <gtest/gtest.h>

#include "proxy/admin/command_parser.h"

namespace shardgate::routing {
namespace {

AdminCommand parse_ok(std::string_view text) {
  auto r = parse_admin_command(text);
  if (auto* e = std::get_if<AdminParseError>(&r)) ADD_FAILURE() << text << ": " << e->message;
  auto* cmd = std::get_if<AdminCommand>(&r);
  return cmd ? *cmd : AdminCommand{};
}

bool refused(std::string_view text) {
  return std::holds_alternative<AdminParseError>(parse_admin_command(text));
}

TEST(AdminMoveCommand, MoveTenantWithModeAndBudget) {
  auto cmd = parse_ok("move tenant acme to shard s2");
  EXPECT_EQ(cmd.verb, AdminVerb::kMoveTenant);
  EXPECT_EQ(cmd.name, "acme");
  EXPECT_EQ(cmd.shard, "s2");
  EXPECT_FALSE(cmd.copy_mode);
  EXPECT_FALSE(cmd.timeout);
  cmd = parse_ok("MOVE TENANT \"a-b\" TO SHARD 'eu-2' COPY PAUSE BUDGET 500ms;");
  EXPECT_EQ(cmd.name, "a-b");
  EXPECT_EQ(cmd.shard, "eu-2");
  EXPECT_TRUE(cmd.copy_mode);
  ASSERT_TRUE(cmd.timeout);
  EXPECT_EQ(cmd.timeout->count(), 500);
  EXPECT_FALSE(parse_ok("MOVE TENANT a TO SHARD b ONLINE").copy_mode);
  EXPECT_TRUE(parse_ok("MOVE TENANT a TO SHARD b ONLINE").changes_state());
  EXPECT_EQ(parse_ok("MOVE TENANT a TO SHARD b").label(), "MOVE TENANT");
}

TEST(AdminMoveCommand, MoveTenantRefusesMalformed) {
  EXPECT_TRUE(refused("MOVE TENANT"));
  EXPECT_TRUE(refused("MOVE TENANT a"));
  EXPECT_TRUE(refused("MOVE TENANT a TO b"));
  EXPECT_TRUE(refused("MOVE TENANT a TO SHARD"));
  EXPECT_TRUE(refused("MOVE TENANT a TO SHARD b ONLINE COPY"));
  EXPECT_TRUE(refused("MOVE TENANT a TO SHARD b PAUSE BUDGET"));
  EXPECT_TRUE(refused("MOVE TENANT a TO SHARD b PAUSE BUDGET soon"));
  EXPECT_TRUE(refused("MOVE TENANT a TO SHARD b PAUSE BUDGET 1s PAUSE BUDGET 2s"));
  EXPECT_TRUE(refused("MOVE TENANT a TO SHARD b FAST"));
}

TEST(AdminMoveCommand, ShowCancelDrop) {
  EXPECT_EQ(parse_ok("show moves").verb, AdminVerb::kShowMoves);
  EXPECT_FALSE(parse_ok("SHOW MOVES").changes_state());
  auto cancel = parse_ok("CANCEL MOVE 12");
  EXPECT_EQ(cancel.verb, AdminVerb::kCancelMove);
  EXPECT_EQ(cancel.move_id, 12u);
  auto drop = parse_ok("drop moved data 3;");
  EXPECT_EQ(drop.verb, AdminVerb::kDropMovedData);
  EXPECT_EQ(drop.move_id, 3u);
  EXPECT_EQ(parse_ok("DROP TENANT x").verb, AdminVerb::kDropTenant);
  for (auto bad : {"CANCEL MOVE", "CANCEL MOVE x", "CANCEL MOVE 0", "CANCEL MOVE 1.5", "CANCEL 3",
                   "DROP MOVED 3", "DROP MOVED DATA", "DROP MOVED DATA 2 3"})
    EXPECT_TRUE(refused(bad)) << bad;
}

TEST(AdminMoveCommand, DrainAndUndrain) {
  auto drain = parse_ok("drain shard 'eu-2';");
  EXPECT_EQ(drain.verb, AdminVerb::kDrainShard);
  EXPECT_EQ(drain.name, "eu-2");
  EXPECT_TRUE(drain.changes_state());
  EXPECT_EQ(drain.label(), "DRAIN SHARD");
  auto undrain = parse_ok("UNDRAIN SHARD s1");
  EXPECT_EQ(undrain.verb, AdminVerb::kUndrainShard);
  EXPECT_EQ(undrain.name, "s1");
  EXPECT_EQ(undrain.label(), "UNDRAIN SHARD");
  for (auto bad :
       {"DRAIN", "DRAIN SHARD", "DRAIN TENANT a", "DRAIN SHARD a b", "UNDRAIN s1", "UNDRAIN SHARD"})
    EXPECT_TRUE(refused(bad)) << bad;
}

TEST(AdminMoveCommand, Rebalance) {
  auto plan = parse_ok("rebalance plan");
  EXPECT_EQ(plan.verb, AdminVerb::kRebalancePlan);
  EXPECT_FALSE(plan.by_load);
  EXPECT_FALSE(plan.max_moves);
  EXPECT_FALSE(plan.changes_state());
  plan = parse_ok("REBALANCE PLAN BY LOAD MAX MOVES 3;");
  EXPECT_TRUE(plan.by_load);
  EXPECT_EQ(plan.max_moves, 3u);
  auto run = parse_ok("REBALANCE MAX MOVES 2 BY SIZE");
  EXPECT_EQ(run.verb, AdminVerb::kRebalance);
  EXPECT_FALSE(run.by_load);
  EXPECT_EQ(run.max_moves, 2u);
  EXPECT_TRUE(run.changes_state());
  for (auto bad :
       {"REBALANCE BY", "REBALANCE BY COUNT", "REBALANCE BY SIZE BY LOAD", "REBALANCE MAX 3",
        "REBALANCE MAX MOVES", "REBALANCE MAX MOVES 0", "REBALANCE MAX MOVES 1.5",
        "REBALANCE MAX MOVES 1 MAX MOVES 2", "REBALANCE PLAN PLAN", "REBALANCE NOW"})
    EXPECT_TRUE(refused(bad)) << bad;
}

}  // namespace
}  // namespace shardgate::routing
