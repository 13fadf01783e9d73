#include "proxy/admin/commands.h"

#include <utility>

namespace shardgate::proxy {

namespace {

using routing::AdminCommand;
using routing::AdminVerb;
using Handler = awaitable<AdminReply> (*)(AdminContext&, const AdminCommand&);

// Runs a blocking handler on the control-plane thread and waits for it without blocking the
// admin thread. Changes to config and directory are serialized there.
awaitable<AdminReply> on_control(AdminContext& ctx, const AdminCommand& cmd,
                                 AdminReply (*fn)(AdminContext&, const AdminCommand&)) {
  auto reply = co_await asio::co_spawn(
      ctx.control, [&ctx, &cmd, fn]() -> awaitable<AdminReply> { co_return fn(ctx, cmd); },
      asio::use_awaitable);
  co_return reply;
}

awaitable<AdminReply> reload(AdminContext& ctx, const AdminCommand& cmd) {
  auto reply = co_await on_control(ctx, cmd, [](AdminContext& c, const AdminCommand&) {
    if (auto refused = c.reload())
      return AdminReply::error("F0000", "RELOAD refused, configuration unchanged: " + *refused,
                               "Fix the file and run RELOAD again.");
    return AdminReply::done("RELOAD");
  });
  co_return reply;
}

awaitable<AdminReply> shutdown(AdminContext& ctx, const AdminCommand& cmd) {
  ctx.shutdown(cmd.wait);
  co_return AdminReply::done("SHUTDOWN");
}

#define SG_SYNC(expr)                                                       \
  [](AdminContext& ctx, const AdminCommand& cmd) -> awaitable<AdminReply> { \
    (void)ctx;                                                              \
    (void)cmd;                                                              \
    co_return expr;                                                         \
  }
#define SG_CONTROL(fn)                                                      \
  [](AdminContext& ctx, const AdminCommand& cmd) -> awaitable<AdminReply> { \
    auto reply = co_await on_control(ctx, cmd, fn);                         \
    co_return reply;                                                        \
  }

struct Entry {
  AdminVerb verb;
  Handler handler;
};

const Entry kTable[] = {
    {AdminVerb::kShowHelp, SG_SYNC(show_help())},
    {AdminVerb::kShowVersion, SG_SYNC(show_version())},
    {AdminVerb::kShowConfig, SG_SYNC(show_config(ctx))},
    {AdminVerb::kShowShards, SG_SYNC(show_shards(ctx))},
    {AdminVerb::kShowPools, SG_SYNC(show_pools(ctx))},
    {AdminVerb::kShowClients, SG_SYNC(show_clients(ctx))},
    {AdminVerb::kShowServers, SG_SYNC(show_servers(ctx))},
    {AdminVerb::kShowStats, SG_SYNC(show_stats(ctx))},
    {AdminVerb::kShowTenants, SG_SYNC(show_tenants(ctx, cmd.pattern, nullptr))},
    {AdminVerb::kShowTenant, SG_SYNC(show_tenants(ctx, std::nullopt, &cmd.name))},
    {AdminVerb::kCreateTenant, SG_CONTROL(create_tenant)},
    {AdminVerb::kDropTenant, SG_CONTROL(drop_tenant)},
    {AdminVerb::kAlterTenantTier, SG_CONTROL(alter_tenant)},
    {AdminVerb::kAlterTenantRate, SG_CONTROL(alter_tenant)},
    {AdminVerb::kAlterTenantMaxClients, SG_CONTROL(alter_tenant)},
    {AdminVerb::kPauseTenant, pause_command},
    {AdminVerb::kResumeTenant, pause_command},
    {AdminVerb::kPauseShard, pause_command},
    {AdminVerb::kResumeShard, pause_command},
    {AdminVerb::kShowMoves, SG_SYNC(show_moves(ctx))},
    {AdminVerb::kDropMovedData, SG_CONTROL(drop_moved_data)},
    {AdminVerb::kUndrainShard, undrain_shard},
    {AdminVerb::kReload, reload},
    {AdminVerb::kShutdown, shutdown},
};

#undef SG_SYNC
#undef SG_CONTROL

protocol::ColumnDesc column(std::string name, int32_t oid, int16_t size) {
  protocol::ColumnDesc c;
  c.name = std::move(name);
  c.type_oid = oid;
  c.type_size = size;
  return c;
}

}  // namespace

protocol::ColumnDesc text_column(std::string name) { return column(std::move(name), 25, -1); }
protocol::ColumnDesc int_column(std::string name) { return column(std::move(name), 20, 8); }
protocol::ColumnDesc float_column(std::string name) { return column(std::move(name), 701, 8); }
protocol::ColumnDesc bool_column(std::string name) { return column(std::move(name), 16, 1); }

awaitable<AdminReply> run_admin_command(AdminContext& ctx, const AdminCommand& cmd,
                                        const NoticeSink& notice) {
  // Long-running, with progress: the commands that talk to their client while they run.
  using WithProgress =
      awaitable<AdminReply> (*)(AdminContext&, const AdminCommand&, const NoticeSink&);
  static constexpr std::pair<AdminVerb, WithProgress> kWithProgress[] = {
      {AdminVerb::kMoveTenant, move_tenant}, {AdminVerb::kCancelMove, cancel_move},
      {AdminVerb::kDrainShard, drain_shard}, {AdminVerb::kRebalancePlan, rebalance_plan},
      {AdminVerb::kRebalance, rebalance},
  };
  for (const auto& [verb, handler] : kWithProgress) {
    if (verb == cmd.verb) {
      auto reply = co_await handler(ctx, cmd, notice);
      co_return reply;
    }
  }
  for (const auto& entry : kTable) {
    if (entry.verb == cmd.verb) {
      auto reply = co_await entry.handler(ctx, cmd);
      co_return reply;
    }
  }
  co_return AdminReply::error("0A000", "command not supported: " + cmd.label());
}

}  // namespace shardgate::proxy
