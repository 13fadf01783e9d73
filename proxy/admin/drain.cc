// DRAIN SHARD / UNDRAIN SHARD. The draining flag lives in the directory file (written like
// every directory change, so it survives a restart); a draining shard gets no new tenants
// (routing/shard_choice.h decides where they go instead). DRAIN then moves the shard's
// tenants off one ONLINE move at a time, each through the same path as MOVE TENANT.
#include <algorithm>

#include "proxy/admin/commands.h"
#include "routing/shard_choice.h"

namespace shardgate::proxy {

namespace {

using routing::AdminCommand;

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Sets or clears the flag (control thread). Pins hash-placed tenants in the same directory
// write, so no tenant changes shard by the flag alone.
AdminReply set_draining(AdminContext& ctx, const std::string& shard, bool on) {
  auto rt = ctx.runtime.get();
  if (rt->config->directory.file.empty())
    return AdminReply::error("55000", "the directory is not kept in a file",
                             "Set directory.file in the config: the draining mark is kept there.");
  if (!rt->config->find_shard(shard))
    return AdminReply::error("3D000", "shard " + quoted(shard) + " is not configured",
                             "SHOW SHARDS lists the shards.");
  if (on && routing::least_loaded_shard(*rt->config, *rt->directory, shard).empty())
    return AdminReply::error("55000", "there is no shard to drain " + quoted(shard) + " to",
                             "Every other shard is draining or there is none: add a shard under "
                             "shards: and RELOAD, or UNDRAIN SHARD another one.");
  routing::Directory next = *rt->directory;
  if (auto failed = pin_hashed_tenants(rt, next)) return *failed;
  next.set_draining(shard, on);
  if (auto failed = commit_directory(ctx, rt, std::move(next))) return *failed;
  return AdminReply::done(on ? "DRAIN SHARD" : "UNDRAIN SHARD");
}

awaitable<AdminReply> on_control_set_draining(AdminContext& ctx, const std::string& shard,
                                              bool on) {
  // References only, like on_control in commands.cc: a by-value std::string capture of this
  // coroutine lambda was freed twice under co_spawn (GCC 12). `shard` outlives the co_await.
  auto reply = co_await asio::co_spawn(
      ctx.control,
      [&ctx, &shard, on]() -> awaitable<AdminReply> { co_return set_draining(ctx, shard, on); },
      asio::use_awaitable);
  co_return reply;
}

// The shard's tenants not tried yet, first by name.
std::optional<std::string> next_tenant(const AdminContext& ctx, const std::string& shard,
                                       const std::vector<std::string>& tried) {
  auto rt = ctx.runtime.get();
  std::optional<std::string> first;
  for (const auto& [tenant, p] : rt->directory->tenants())
    if (p.shard == shard && std::find(tried.begin(), tried.end(), tenant) == tried.end() &&
        (!first || tenant < *first))
      first = tenant;
  return first;
}

size_t tenants_on(const AdminContext& ctx, const std::string& shard) {
  auto rt = ctx.runtime.get();
  return std::count_if(rt->directory->tenants().begin(), rt->directory->tenants().end(),
                       [&](const auto& e) { return e.second.shard == shard; });
}

}  // namespace

awaitable<AdminReply> drain_shard(AdminContext& ctx, const AdminCommand& cmd,
                                  const NoticeSink& notice) {
  if (auto e = moves_unavailable(ctx)) co_return *e;
  const std::string& shard = cmd.name;
  AdminReply flagged = co_await on_control_set_draining(ctx, shard, true);
  if (!flagged.ok()) co_return flagged;
  AdminReply reply = move_series_reply("DRAIN SHARD");
  std::vector<std::string> tried;
  size_t total = tenants_on(ctx, shard);
  while (auto tenant = next_tenant(ctx, shard, tried)) {
    tried.push_back(*tenant);
    auto rt = ctx.runtime.get();
    moves::MoveRequest request;
    request.tenant = *tenant;
    request.to = routing::least_loaded_shard(*rt->config, *rt->directory, shard);
    if (notice)
      co_await notice("drain " + shard + ": moving tenant " + *tenant + " to " + request.to + " (" +
                      std::to_string(tried.size()) + " of " +
                      std::to_string(std::max(total, tried.size())) + ")");
    auto moved = co_await run_one_move(ctx, request, notice);
    if (auto* failed = std::get_if<AdminReply>(&moved)) {
      AdminReply stopped = *failed;
      stopped.message = "DRAIN SHARD " + shard + " stopped at tenant " + quoted(*tenant) +
                        " after " + std::to_string(reply.rows.size()) +
                        " move(s): " + stopped.message;
      stopped.hint = (stopped.hint.empty() ? "" : stopped.hint + " ") + "The shard stays " +
                     "draining; fix the cause and run DRAIN SHARD " + shard + " again.";
      co_return stopped;
    }
    add_move_row(reply, std::get<moves::MoveRecord>(moved));
  }
  if (notice) co_await notice("drain " + shard + ": no tenants left on the shard");
  co_return reply;
}

awaitable<AdminReply> undrain_shard(AdminContext& ctx, const AdminCommand& cmd) {
  auto reply = co_await on_control_set_draining(ctx, cmd.name, false);
  co_return reply;
}

}  // namespace shardgate::proxy
