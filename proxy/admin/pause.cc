// PAUSE / RESUME TENANT and SHARD: the pause is recorded first (new transactions wait at the
// gate, see pause_control.h), then PAUSE waits for the in-flight ones to finish. After its
// TIMEOUT it takes the pause back and fails: things stay as they were.
#include <cstdio>

#include "proxy/admin/commands.h"

namespace shardgate::proxy {

namespace {

using routing::AdminCommand;
using routing::AdminVerb;

constexpr config::Duration kDefaultPauseTimeout{30000};

}  // namespace

awaitable<AdminReply> pause_command(AdminContext& ctx, const AdminCommand& cmd) {
  auto rt = ctx.runtime.get();
  bool tenant = cmd.verb == AdminVerb::kPauseTenant || cmd.verb == AdminVerb::kResumeTenant;
  bool pause = cmd.verb == AdminVerb::kPauseTenant || cmd.verb == AdminVerb::kPauseShard;
  std::string what = std::string(tenant ? "tenant" : "shard") + " \"" + cmd.name + "\"";
  if (tenant ? rt->directory->find(cmd.name) == nullptr
             : rt->config->find_shard(cmd.name) == nullptr) {
    // RESUME of a name that left the directory still clears its pause.
    bool cleared =
        !pause && (tenant ? ctx.pauses.resume_tenant(cmd.name) : ctx.pauses.resume_shard(cmd.name));
    if (!cleared)
      co_return AdminReply::error(
          tenant ? "3D000" : "42704",
          what + (tenant ? " is not in the directory" : " is not configured"));
    co_return AdminReply::done("RESUME");
  }
  if (!pause) {
    bool changed = tenant ? ctx.pauses.resume_tenant(cmd.name) : ctx.pauses.resume_shard(cmd.name);
    if (!changed) co_return AdminReply::error("55000", what + " is not paused");
    co_return AdminReply::done("RESUME");
  }
  bool changed = tenant ? ctx.pauses.pause_tenant(cmd.name) : ctx.pauses.pause_shard(cmd.name);
  if (!changed) co_return AdminReply::error("55000", what + " is already paused");

  // Count what is still running: the tenant's sessions, or every session on the shard.
  std::shared_ptr<TenantState> state = tenant ? ctx.tenants.find(cmd.name) : nullptr;
  auto shard_count = tenant ? nullptr : ctx.pauses.shard_in_flight(cmd.name);
  auto in_flight = [&] {
    if (tenant) return state ? state->in_flight.load(std::memory_order_seq_cst) : 0;
    return shard_count->load(std::memory_order_seq_cst);
  };
  auto timeout = cmd.timeout ? *cmd.timeout : kDefaultPauseTimeout;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    if (tenant && !state) state = ctx.tenants.find(cmd.name);  // a first client just arrived
    int running = in_flight();
    if (running <= 0) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      if (tenant)
        ctx.pauses.resume_tenant(cmd.name);
      else
        ctx.pauses.resume_shard(cmd.name);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3gs", static_cast<double>(timeout.count()) / 1000);
      co_return AdminReply::error(
          "57014",
          "PAUSE " + what + " timed out after " + buf + ": " + std::to_string(running) +
              " transaction(s) still in flight; nothing was paused",
          "Retry with a longer TIMEOUT, or find the long transactions with SHOW CLIENTS.");
    }
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(use_nothrow);
  }
  co_return AdminReply::done("PAUSE");
}

}  // namespace shardgate::proxy
