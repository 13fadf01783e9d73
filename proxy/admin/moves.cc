// MOVE TENANT, SHOW MOVES, CANCEL MOVE, DROP MOVED DATA: thin handlers over the MoveManager
// (proxy/moves/). MOVE waits for its move on the admin thread without blocking it, relaying
// the move's progress as NOTICEs.
#include <cstdio>

#include <future>
#include "proxy/admin/commands.h"

#include "proxy/admin/directory_store.h"
#include "proxy/moves/move_manager.h"
#include "proxy/runtime/log.h"
#include "proxy/session/worker_pools.h"
#include "proxy/tenants/provisioning.h"

namespace shardgate::proxy {

namespace {

using routing::AdminCommand;

AdminReply from_failure(const moves::MoveFailure& f) {
  return AdminReply::error(f.sqlstate, f.message, f.hint);
}

std::string fixed(double v, const char* format) {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

std::optional<AdminReply> moves_unavailable(const AdminContext& ctx) {
  if (ctx.moves) return std::nullopt;
  return AdminReply::error("55000", "tenant moves need a directory file",
                           "Set directory.file in the config: a move's flip must be durable.");
}

awaitable<std::variant<moves::MoveRecord, AdminReply>> run_one_move(
    AdminContext& ctx, const moves::MoveRequest& request, const NoticeSink& notice) {
  if (auto e = moves_unavailable(ctx)) co_return *e;
  if (ctx.runtime.get()->directory->draining(request.to))
    co_return AdminReply::error(
        "55000", "shard \"" + request.to + "\" is draining: it takes no tenants",
        "UNDRAIN SHARD " + request.to + " first, or move the tenant to another shard.");
  auto started = ctx.moves->start(request);
  if (auto* f = std::get_if<moves::MoveFailure>(&started)) co_return from_failure(*f);
  uint64_t id = std::get<uint64_t>(started);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  moves::MoveProgress progress;
  for (;;) {
    progress = ctx.moves->progress(id);
    if (notice)
      for (auto& text : progress.notices) co_await notice(std::move(text));
    if (progress.finished) break;
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(use_nothrow);
  }
  if (progress.failure) co_return from_failure(*progress.failure);
  co_return progress.record;
}

awaitable<AdminReply> move_tenant(AdminContext& ctx, const AdminCommand& cmd,
                                  const NoticeSink& notice) {
  moves::MoveRequest request;
  request.tenant = cmd.name;
  request.to = cmd.shard.value_or("");
  request.copy_mode = cmd.copy_mode;
  request.pause_budget = cmd.timeout;
  auto moved = co_await run_one_move(ctx, request, notice);
  if (auto* refused = std::get_if<AdminReply>(&moved)) co_return *refused;
  const auto& r = std::get<moves::MoveRecord>(moved);
  AdminReply reply;
  reply.columns = {int_column("move"),           text_column("tenant"),
                   text_column("from"),          text_column("to"),
                   int_column("rows"),           int_column("bytes"),
                   float_column("copy_seconds"), float_column("pause_ms")};
  reply.rows.push_back({std::to_string(r.id), r.tenant, r.from, r.to, std::to_string(r.rows),
                        std::to_string(r.bytes), fixed(r.copy_seconds, "%.3f"),
                        fixed(r.pause_ms, "%.1f")});
  reply.tag = "MOVE";
  co_return reply;
}

AdminReply move_series_reply(std::string tag) {
  AdminReply reply;
  reply.columns = {int_column("move"), text_column("tenant"), text_column("from"),
                   text_column("to"), float_column("pause_ms")};
  reply.tag = std::move(tag);
  return reply;
}

void add_move_row(AdminReply& reply, const moves::MoveRecord& r) {
  reply.rows.push_back({std::to_string(r.id), r.tenant, r.from, r.to, fixed(r.pause_ms, "%.1f")});
}

AdminReply show_moves(const AdminContext& ctx) {
  AdminReply reply;
  reply.columns = {int_column("id"),         text_column("tenant"),  text_column("from"),
                   text_column("to"),        text_column("mode"),    text_column("phase"),
                   int_column("rows"),       int_column("bytes"),    int_column("lag_bytes"),
                   float_column("pause_ms"), text_column("started"), text_column("updated"),
                   text_column("error")};
  reply.tag = "SHOW";
  if (!ctx.moves) return reply;
  for (const auto& r : ctx.moves->list())
    reply.rows.push_back({std::to_string(r.id), r.tenant, r.from, r.to, r.mode,
                          std::string(moves::phase_name(r.phase)), std::to_string(r.rows),
                          std::to_string(r.bytes), std::to_string(r.lag_bytes),
                          fixed(r.pause_ms, "%.1f"), r.started, r.updated,
                          r.error.empty() ? std::nullopt : std::optional<std::string>(r.error)});
  return reply;
}

awaitable<AdminReply> cancel_move(AdminContext& ctx, const AdminCommand& cmd,
                                  const NoticeSink& notice) {
  if (auto e = moves_unavailable(ctx)) co_return *e;
  if (auto f = ctx.moves->cancel(cmd.move_id)) co_return from_failure(*f);
  // Returns once the rollback has run: then nothing of the move is left on either shard.
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (ctx.moves->running(cmd.move_id)) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(use_nothrow);
  }
  auto record = ctx.moves->find(cmd.move_id);
  if (record && record->phase == moves::MovePhase::kFailed)
    co_return AdminReply::error(
        "55000",
        "move " + std::to_string(cmd.move_id) + " could not be cleaned up: " + record->error,
        "CANCEL MOVE again once both shards are reachable.");
  // Past the flip (the commit point) a move is finished, never undone.
  if (record && record->phase == moves::MovePhase::kDone && notice)
    co_await notice("move " + std::to_string(cmd.move_id) +
                    " had already flipped the directory: it was completed, not rolled back; "
                    "tenant \"" +
                    record->tenant + "\" is on shard \"" + record->to + "\"");
  co_return AdminReply::done("CANCEL");
}

AdminReply drop_moved_data(AdminContext& ctx, const AdminCommand& cmd) {
  if (auto e = moves_unavailable(ctx)) return *e;
  if (auto f = ctx.moves->drop_moved_data(cmd.move_id)) return from_failure(*f);
  return AdminReply::done("DROP");
}

namespace {

// Parameters by value: they live in the coroutine's frame, whatever happens to the caller.
awaitable<void> open_and_report(Worker& worker, PoolSpec spec, std::string tenant, int weight,
                                pool::Millis timeout, int warm,
                                std::shared_ptr<std::promise<pool::ServerResult>> done) {
  done->set_value(co_await open_pool(worker, spec, tenant, weight, timeout, warm));
}

// Opens the tenant's pool on `shard` on the worker that will own it, with one live
// connection, so a pool login the target refuses fails the move before the flip; then, in the
// background, one connection per client the tenant has (up to the pool's size): every client
// waiting at the cutover runs at once on resume, and opening them all then would add their
// logins to the pause. Blocks the move's thread, bounded: a worker that stopped (shutdown)
// never runs the open.
absl::Status open_tenant_pool(AdminContext& ctx, const std::string& tenant,
                              const std::string& shard) {
  auto rt = ctx.runtime.get();
  auto routed = routing::route_tenant(tenant, *rt->config, *rt->directory);
  if (auto* error = std::get_if<routing::RouteError>(&routed))
    return absl::FailedPreconditionError(error->message);
  auto& route = std::get<routing::Route>(routed);
  route.placement.shard = shard;
  route.shard = rt->config->find_shard(shard);
  if (!route.shard) return absl::NotFoundError("shard \"" + shard + "\" left the config");
  PoolSpec spec = pool_spec(route, *rt->config);
  spec.target.tls = rt->tls->shard(shard);
  Worker& worker = *ctx.workers[pool_owner(spec.key, static_cast<int>(ctx.workers.size()))];
  auto done = std::make_shared<std::promise<pool::ServerResult>>();
  auto result = done->get_future();
  pool::Millis timeout = route.tier->pool_timeout;
  auto state = ctx.tenants.find(tenant);
  int clients = state ? state->clients.load() : 0;
  asio::co_spawn(worker.io,
                 open_and_report(worker, spec, tenant, route.tier->weight, timeout, clients, done),
                 asio::detached);
  auto bound = spec.settings.connect_timeout + timeout + std::chrono::seconds(5);
  if (result.wait_for(bound) != std::future_status::ready)
    return absl::DeadlineExceededError("opening the tenant's pool on shard \"" + shard +
                                       "\" did not finish");
  pool::ServerResult opened = result.get();
  // 53300: the pool is full of busy connections, so it exists and logs in.
  if (opened.ok() || opened.sqlstate == "53300") return absl::OkStatus();
  return absl::UnavailableError("the tenant's pool could not log in to shard \"" + shard +
                                "\": " + opened.message);
}

}  // namespace

std::unique_ptr<moves::MoveManager> make_move_manager(AdminContext& ctx) {
  auto rt = ctx.runtime.get();
  const std::string& file = rt->config->directory.file;
  if (file.empty()) return nullptr;
  moves::MoveHooks hooks;
  hooks.config = [&ctx] { return ctx.runtime.get()->config; };
  hooks.placement = [&ctx](const std::string& tenant) -> std::optional<routing::Placement> {
    auto rt = ctx.runtime.get();
    const routing::Placement* p = rt->directory->find(tenant);
    if (!p) return std::nullopt;
    return *p;
  };
  hooks.pause = [&ctx](const std::string& tenant) { return ctx.pauses.pause_tenant(tenant); };
  hooks.resume = [&ctx](const std::string& tenant) { ctx.pauses.resume_tenant(tenant); };
  hooks.in_flight = [&ctx](const std::string& tenant) {
    auto state = ctx.tenants.find(tenant);
    return state ? state->in_flight.load(std::memory_order_seq_cst) : 0;
  };
  hooks.flip = [&ctx](const std::string& tenant, const std::string& shard) {
    // On the control thread, like every other directory change.
    std::promise<absl::Status> done;
    auto result = done.get_future();
    asio::post(ctx.control, [&ctx, &done, tenant, shard] {
      auto rt = ctx.runtime.get();
      const routing::Placement* p = rt->directory->find(tenant);
      if (!p) {
        done.set_value(absl::NotFoundError("tenant \"" + tenant + "\" left the directory"));
        return;
      }
      routing::Directory next = *rt->directory;
      routing::Placement moved = *p;
      moved.shard = shard;
      next.put(tenant, moved);
      auto failed = commit_directory(ctx, rt, std::move(next));
      done.set_value(failed ? absl::InternalError(failed->message) : absl::OkStatus());
    });
    return result.get();
  };
  hooks.tenant_role =
      [](const config::TierConfig& tier,
         const std::string& tenant) -> absl::StatusOr<moves::MoveHooks::TenantRole> {
    auto sql = create_role_sql(tier, tenant);
    if (!sql.ok()) return sql.status();
    return moves::MoveHooks::TenantRole{tenant_role(tier, tenant), *sql};
  };
  hooks.open_pool = [&ctx](const std::string& tenant, const std::string& shard) {
    return open_tenant_pool(ctx, tenant, shard);
  };
  hooks.log = [](const std::string& tenant, const std::string& text) {
    LogContext context;
    context.tenant = tenant;
    log_event(spdlog::level::info, text, &context);
  };
  hooks.write_file = write_file_atomically;
  return std::make_unique<moves::MoveManager>(file + ".moves", std::move(hooks));
}

}  // namespace shardgate::proxy
