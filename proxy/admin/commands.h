// The admin socket's commands: one handler per command, one dispatch table. Handlers run on
// the admin thread; blocking work (libpq provisioning, directory file writes, reloads) goes to
// the control-plane thread, which also serializes every change to config and directory.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "pool/asio.h"
#include "protocol/messages.h"
#include "proxy/admin/command_parser.h"
#include "proxy/metrics/admin_command_counts.h"
#include "proxy/moves/move_manager.h"
#include "proxy/runtime/runtime.h"
#include "proxy/tenants/pause_control.h"
#include "proxy/tenants/query_window.h"
#include "proxy/tenants/tenant_registry.h"

namespace shardgate::proxy {

struct Worker;

// What a command answers: rows (with typed columns) and a command tag, or an error.
struct AdminReply {
  std::vector<protocol::ColumnDesc> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::string tag;
  std::string sqlstate;  // empty = success
  std::string message;
  std::string hint;
  bool ok() const { return sqlstate.empty(); }

  static AdminReply error(std::string sqlstate, std::string message, std::string hint = {}) {
    AdminReply r;
    r.sqlstate = std::move(sqlstate);
    r.message = std::move(message);
    r.hint = std::move(hint);
    return r;
  }
  static AdminReply done(std::string tag) {
    AdminReply r;
    r.tag = std::move(tag);
    return r;
  }
};

// Everything the commands act on; owned by the Proxy.
struct AdminContext {
  RuntimeHolder& runtime;
  TenantRegistry& tenants;
  PauseControl& pauses;
  AdminCommandCounts& counts;
  const std::vector<std::unique_ptr<Worker>>& workers;
  const std::atomic<uint64_t>& context_switches;
  std::string config_path;
  // Loads config + directory from disk and swaps them in (RELOAD, SIGHUP); the reason when
  // refused. Blocking: call on the control thread.
  std::function<std::optional<std::string>()> reload;
  // Stops the proxy: `wait` lets transactions finish (shutdown_timeout) first.
  std::function<void(bool wait)> shutdown;
  // The control-plane thread: blocking work and every change run here, one at a time.
  asio::any_io_executor control;
  // Queries per second per tenant over the last sampling second (the admin thread updates it).
  absl::flat_hash_map<std::string, double> qps;
  // Queries per tenant over the last hour (REBALANCE ... BY LOAD); marked by the admin thread.
  QueryWindow query_window{};
  // Tenant moves (null until the proxy has bound its listeners).
  moves::MoveManager* moves = nullptr;
};

// Sends one NOTICE to the admin client while a long command runs.
using NoticeSink = std::function<awaitable<void>(std::string)>;

// Runs one parsed command.
awaitable<AdminReply> run_admin_command(AdminContext& ctx, const routing::AdminCommand& cmd,
                                        const NoticeSink& notice = {});

// --- the handlers, by file ---
// admin_show.cc
AdminReply show_help();
AdminReply show_version();
AdminReply show_config(const AdminContext& ctx);
AdminReply show_shards(const AdminContext& ctx);
AdminReply show_pools(const AdminContext& ctx);
AdminReply show_clients(const AdminContext& ctx);
AdminReply show_servers(const AdminContext& ctx);
AdminReply show_stats(const AdminContext& ctx);
AdminReply show_tenants(const AdminContext& ctx, const std::optional<std::string>& pattern,
                        const std::string* only);
// admin_tenants.cc (blocking: control thread)
// Writes the directory file and swaps the running directory; the error when the write failed
// (nothing changed then).
std::optional<AdminReply> commit_directory(AdminContext& ctx, const RuntimePtr& rt,
                                           routing::Directory next);
AdminReply create_tenant(AdminContext& ctx, const routing::AdminCommand& cmd);
AdminReply drop_tenant(AdminContext& ctx, const routing::AdminCommand& cmd);
AdminReply alter_tenant(AdminContext& ctx, const routing::AdminCommand& cmd);
// admin_pause.cc
awaitable<AdminReply> pause_command(AdminContext& ctx, const routing::AdminCommand& cmd);
// admin_moves.cc
// Runs one move to its end, relaying its NOTICEs: the finished record, or the error. Every
// move (MOVE TENANT, DRAIN SHARD, REBALANCE) goes through here.
awaitable<std::variant<moves::MoveRecord, AdminReply>> run_one_move(
    AdminContext& ctx, const moves::MoveRequest& request, const NoticeSink& notice);
awaitable<AdminReply> move_tenant(AdminContext& ctx, const routing::AdminCommand& cmd,
                                  const NoticeSink& notice);
AdminReply show_moves(const AdminContext& ctx);
awaitable<AdminReply> cancel_move(AdminContext& ctx, const routing::AdminCommand& cmd,
                                  const NoticeSink& notice);
// The tenant-move manager with its hooks into this proxy; null without a directory file.
std::unique_ptr<moves::MoveManager> make_move_manager(AdminContext& ctx);
AdminReply drop_moved_data(AdminContext& ctx, const routing::AdminCommand& cmd);

// Why moves cannot run in this proxy (no directory file), if they cannot.
std::optional<AdminReply> moves_unavailable(const AdminContext& ctx);
// The reply of a command that runs several moves (DRAIN SHARD, REBALANCE): one row per move
// done (move, tenant, from, to, pause_ms).
AdminReply move_series_reply(std::string tag);
void add_move_row(AdminReply& reply, const moves::MoveRecord& r);
// drain.cc
awaitable<AdminReply> drain_shard(AdminContext& ctx, const routing::AdminCommand& cmd,
                                  const NoticeSink& notice);
awaitable<AdminReply> undrain_shard(AdminContext& ctx, const routing::AdminCommand& cmd);

// rebalance.cc: REBALANCE PLAN shows the moves, REBALANCE carries them out.
awaitable<AdminReply> rebalance_plan(AdminContext& ctx, const routing::AdminCommand& cmd,
                                     const NoticeSink& notice);
awaitable<AdminReply> rebalance(AdminContext& ctx, const routing::AdminCommand& cmd,
                                const NoticeSink& notice);
// hash_pins.cc (blocking: control thread)
// Implicit tenants (placed by default_placement's hash, not in the directory) would be
// hashed anew when a shard starts or stops draining: adds to `next` every one whose schema
// exists on the shard it routes to now, pinning it there. The error when a shard cannot be
// read (then nothing should change).
std::optional<AdminReply> pin_hashed_tenants(const RuntimePtr& rt, routing::Directory& next);

// Column helpers for the handlers.
protocol::ColumnDesc text_column(std::string name);
protocol::ColumnDesc int_column(std::string name);
protocol::ColumnDesc float_column(std::string name);
protocol::ColumnDesc bool_column(std::string name);

}  // namespace shardgate::proxy
