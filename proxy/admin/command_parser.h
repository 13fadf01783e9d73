// The admin socket's command language (docs/admin.md), parsed from the text of a
// simple Query: pure, bounded, never throws. One AdminCommand per statement; the dispatch
// table in proxy/admin_commands.cc runs it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "config/config.h"

namespace shardgate::routing {

enum class AdminVerb {
  kShowHelp,
  kShowVersion,
  kShowConfig,
  kShowShards,
  kShowPools,
  kShowClients,
  kShowServers,
  kShowStats,
  kShowTenants,  // pattern: optional LIKE
  kShowTenant,   // name
  kCreateTenant,
  kDropTenant,
  kAlterTenantTier,
  kAlterTenantRate,
  kAlterTenantMaxClients,
  kPauseTenant,
  kResumeTenant,
  kPauseShard,
  kResumeShard,
  kMoveTenant,  // name: tenant, shard: target, copy_mode, timeout: PAUSE BUDGET
  kShowMoves,
  kCancelMove,     // move_id
  kDropMovedData,  // move_id
  kDrainShard,     // name: shard
  kUndrainShard,   // name: shard
  kRebalancePlan,  // by_load, max_moves
  kRebalance,      // by_load, max_moves
  kReload,
  kShutdown,
};

struct AdminCommand {
  AdminVerb verb = AdminVerb::kShowHelp;
  std::string name;                         // tenant or shard
  std::optional<std::string> shard;         // CREATE ... ON SHARD
  std::optional<std::string> tier;          // CREATE ... TIER, ALTER ... SET TIER
  std::optional<std::string> schema;        // CREATE ... SCHEMA
  std::optional<std::string> pattern;       // SHOW TENANTS LIKE
  std::optional<config::Duration> timeout;  // PAUSE ... TIMEOUT
  double number = 0;                        // SET RATE n, SET MAX_CLIENT_CONNECTIONS n
  bool keep_data = false;                   // DROP TENANT ... KEEP DATA
  bool wait = false;                        // SHUTDOWN WAIT
  bool copy_mode = false;                   // MOVE ... COPY
  uint64_t move_id = 0;                     // CANCEL MOVE, DROP MOVED DATA
  bool by_load = false;                     // REBALANCE ... BY LOAD (default BY SIZE)
  std::optional<uint64_t> max_moves;        // REBALANCE ... MAX MOVES n

  // The command's name for metrics and the audit log, e.g. "CREATE TENANT".
  std::string label() const;
  // Whether it changes state (audit log).
  bool changes_state() const;
};

struct AdminParseError {
  std::string message;
};

// Keywords are case-insensitive; names may be bare, "double-quoted" or 'single-quoted'; a
// trailing semicolon is allowed. Texts over 64 KiB are refused.
std::variant<AdminCommand, AdminParseError> parse_admin_command(std::string_view text);

// SQL LIKE with % and _ (no escape character), case-sensitive.
bool like_match(std::string_view text, std::string_view pattern);

}  // namespace shardgate::routing
