// REBALANCE PLAN / REBALANCE: weighs every tenant (its schema's bytes, or its queries), asks
// plan_rebalance (proxy/moves/rebalance_plan.h) for the moves, and shows them, or carries
// them out one ONLINE move at a time through the same path as MOVE TENANT.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "proxy/admin/commands.h"
#include "proxy/moves/pg_link.h"
#include "proxy/moves/rebalance_plan.h"

namespace shardgate::proxy {

namespace {

using routing::AdminCommand;
using Sizes = std::map<std::string, double>;  // schema -> bytes, on one shard

std::string whole(double v) { return std::to_string(std::llround(v)); }

// Bytes of each schema's tables on `shard`: pg_total_relation_size (heap, indexes, TOAST) over
// its tables and materialized views, read with the control credential. Blocking.
absl::StatusOr<Sizes> schema_sizes(const config::Config& config, const config::ShardConfig& shard) {
  auto link =
      moves::PgLink::open(shard, moves::PgLink::Credential::kControl, config.connect_timeout);
  if (!link.ok()) return link.status();
  auto rows = link->rows(
      "SELECT n.nspname, sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') GROUP BY 1");
  if (!rows.ok()) return rows.status();
  Sizes sizes;
  for (const auto& row : *rows)
    if (row.size() == 2 && row[0] && row[1]) sizes[*row[0]] = std::strtod(row[1]->c_str(), nullptr);
  return sizes;
}

// The plan's input: the shards that take tenants and every tenant on them with its weight.
// Blocking (BY SIZE asks each shard): control thread.
std::variant<moves::RebalanceInput, AdminReply> weigh(AdminContext& ctx, const AdminCommand& cmd) {
  auto rt = ctx.runtime.get();
  moves::RebalanceInput input;
  if (cmd.max_moves) input.max_moves = *cmd.max_moves;
  std::map<std::string, Sizes> sizes;
  for (const auto& [name, shard] : rt->config->shards) {
    if (rt->directory->draining(name)) continue;
    input.shards.push_back(name);
    if (cmd.by_load) continue;
    auto measured = schema_sizes(*rt->config, shard);
    if (!measured.ok())
      return AdminReply::error("08006",
                               "could not measure the tenants of shard \"" + name +
                                   "\": " + std::string(measured.status().message()),
                               "REBALANCE BY SIZE reads every shard with its control "
                               "credential; make the shard reachable and retry.");
    sizes[name] = std::move(*measured);
  }
  for (const auto& [tenant, p] : rt->directory->tenants()) {
    moves::TenantWeight w{tenant, p.shard, 0, p.isolation == config::Isolation::kSchema};
    if (cmd.by_load) {
      auto state = ctx.tenants.find(tenant);
      w.weight =
          state ? static_cast<double>(ctx.query_window.last_hour(tenant, state->queries.load()))
                : 0;
    } else if (auto s = sizes.find(p.shard); s != sizes.end()) {
      auto bytes = s->second.find(p.schema);
      w.weight = bytes == s->second.end() ? 0 : bytes->second;
    }
    input.tenants.push_back(std::move(w));
  }
  return input;
}

awaitable<std::variant<moves::RebalancePlan, AdminReply>> make_plan(AdminContext& ctx,
                                                                    const AdminCommand& cmd) {
  // References only, as in drain.cc: both outlive the co_await.
  auto weighed = co_await asio::co_spawn(
      ctx.control,
      [&ctx, &cmd]() -> awaitable<std::variant<moves::RebalanceInput, AdminReply>> {
        co_return weigh(ctx, cmd);
      },
      asio::use_awaitable);
  if (auto* refused = std::get_if<AdminReply>(&weighed)) co_return *refused;
  co_return moves::plan_rebalance(std::get<moves::RebalanceInput>(weighed));
}

// One NOTICE per shard: its total before and after the plan, against the mean.
awaitable<void> notice_totals(const moves::RebalancePlan& plan, const char* unit,
                              const NoticeSink& notice) {
  if (!notice) co_return;
  char line[256];
  for (const auto& [shard, before] : plan.before) {
    std::snprintf(
        line, sizeof line, "shard %s: %s %s before, %s after (mean %s, within %d%%: %s)",
        shard.c_str(), whole(before).c_str(), unit, whole(plan.after.at(shard)).c_str(),
        whole(plan.mean).c_str(), static_cast<int>(moves::kRebalanceThreshold * 100),
        std::abs(plan.after.at(shard) - plan.mean) <= moves::kRebalanceThreshold * plan.mean
            ? "yes"
            : "no");
    co_await notice(line);
  }
}

}  // namespace

awaitable<AdminReply> rebalance_plan(AdminContext& ctx, const AdminCommand& cmd,
                                     const NoticeSink& notice) {
  auto planned = co_await make_plan(ctx, cmd);
  if (auto* refused = std::get_if<AdminReply>(&planned)) co_return *refused;
  const auto& plan = std::get<moves::RebalancePlan>(planned);
  const char* unit = cmd.by_load ? "queries" : "bytes";
  co_await notice_totals(plan, unit, notice);
  AdminReply reply;
  reply.columns = {int_column("move"),       text_column("tenant"),   text_column("from"),
                   text_column("to"),        int_column(unit),        int_column("from_before"),
                   int_column("from_after"), int_column("to_before"), int_column("to_after")};
  for (size_t i = 0; i < plan.moves.size(); ++i) {
    const auto& m = plan.moves[i];
    reply.rows.push_back({std::to_string(i + 1), m.tenant, m.from, m.to, whole(m.weight),
                          whole(m.from_before), whole(m.from_after), whole(m.to_before),
                          whole(m.to_after)});
  }
  reply.tag = "REBALANCE PLAN";
  co_return reply;
}

awaitable<AdminReply> rebalance(AdminContext& ctx, const AdminCommand& cmd,
                                const NoticeSink& notice) {
  if (auto e = moves_unavailable(ctx)) co_return *e;
  auto planned = co_await make_plan(ctx, cmd);
  if (auto* refused = std::get_if<AdminReply>(&planned)) co_return *refused;
  const auto plan = std::get<moves::RebalancePlan>(std::move(planned));
  const char* unit = cmd.by_load ? "queries" : "bytes";
  co_await notice_totals(plan, unit, notice);
  AdminReply reply = move_series_reply("REBALANCE");
  for (size_t i = 0; i < plan.moves.size(); ++i) {
    const auto& m = plan.moves[i];
    std::string step = "rebalance move " + std::to_string(i + 1) + " of " +
                       std::to_string(plan.moves.size()) + ": tenant " + m.tenant;
    const routing::Placement* now = ctx.runtime.get()->directory->find(m.tenant);
    if (!now || now->shard != m.from)
      co_return AdminReply::error("55000", step + " is no longer on shard \"" + m.from + "\"",
                                  "The directory changed while REBALANCE ran; run it again.");
    if (notice)
      co_await notice(step + " from " + m.from + " to " + m.to + " (" + whole(m.weight) + " " +
                      unit + ")");
    moves::MoveRequest request;
    request.tenant = m.tenant;
    request.to = m.to;
    auto moved = co_await run_one_move(ctx, request, notice);
    if (auto* failed = std::get_if<AdminReply>(&moved)) {
      AdminReply stopped = *failed;
      stopped.message = "REBALANCE stopped at " + step + " after " +
                        std::to_string(reply.rows.size()) + " move(s): " + stopped.message;
      co_return stopped;
    }
    add_move_row(reply, std::get<moves::MoveRecord>(moved));
  }
  co_return reply;
}

}  // namespace shardgate::proxy
