#include "proxy/runtime/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace shardgate::proxy {

namespace {
std::atomic<bool> g_json{true};

void append_field(std::string& out, bool json, std::string_view key, std::string_view value) {
  if (json) {
    out += ",\"";
    out += key;
    out += "\":\"";
    out += json_escape(value);
    out += '"';
  } else {
    out += ' ';
    out += key;
    out += '=';
    out += value;
  }
}

}  // namespace

std::string utc_timestamp() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void setup_logging(const config::LogConfig& config) {
  auto logger = spdlog::stderr_logger_mt("shardgate");
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::from_str(config.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  g_json = config.format == config::LogFormat::kJson;
}

bool log_enabled(spdlog::level::level_enum level) { return spdlog::should_log(level); }

void log_event(spdlog::level::level_enum level, std::string_view message, const LogContext* context,
               LogExtra extra) {
  if (!spdlog::should_log(level)) return;
  bool json = g_json.load(std::memory_order_relaxed);
  std::string line;
  line.reserve(160);
  auto level_name = spdlog::level::to_string_view(level);
  if (json) {
    line += "{\"time\":\"" + utc_timestamp() + "\",\"level\":\"";
    line.append(level_name.data(), level_name.size());
    line += "\",\"msg\":\"" + json_escape(message) + '"';
  } else {
    line += utc_timestamp() + ' ';
    line.append(level_name.data(), level_name.size());
    line += ' ';
    line += message;
  }
  if (context) {
    if (context->session) append_field(line, json, "session", std::to_string(context->session));
    if (!context->client.empty()) append_field(line, json, "client", context->client);
    if (!context->user.empty()) append_field(line, json, "user", context->user);
    if (!context->tenant.empty()) append_field(line, json, "tenant", context->tenant);
    if (!context->shard.empty()) append_field(line, json, "shard", context->shard);
  }
  for (const auto& [k, v] : extra) append_field(line, json, k, v);
  if (json) line += '}';
  spdlog::log(level, "{}", line);
}

}  // namespace shardgate::proxy
