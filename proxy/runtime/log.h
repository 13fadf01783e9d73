// Structured logging: one JSON object (or one text line) per event, carrying the session's
// tenant, shard, client address and session id.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/common.h>

#include "config/config.h"

namespace shardgate::proxy {

struct LogContext {
  uint64_t session = 0;
  std::string client;
  std::string tenant;
  std::string shard;
  std::string user;
};

using LogExtra = std::initializer_list<std::pair<std::string_view, std::string_view>>;

void setup_logging(const config::LogConfig& config);
void log_event(spdlog::level::level_enum level, std::string_view message,
               const LogContext* context = nullptr, LogExtra extra = {});
bool log_enabled(spdlog::level::level_enum level);

// Now in UTC, ISO 8601 with milliseconds ("2026-11-23T20:33:20.219Z"), as log lines carry it.
std::string utc_timestamp();

// JSON string escaping (without the surrounding quotes).
std::string json_escape(std::string_view s);

}  // namespace shardgate::proxy
