// shardgate command line: --config FILE | --check-config FILE | --version | --help
#include <cstdio>
#include <cstring>
#include <string>

#include "proxy/runtime/log.h"
#include "proxy/runtime/runtime.h"
#include "proxy/runtime/version.h"
#include "proxy/server/fd_budget.h"
#include "proxy/server/proxy_server.h"

namespace {

constexpr const char* kUsage =
    "Usage: shardgate --config FILE        run the proxy\n"
    "       shardgate --check-config FILE  validate config and directory, exit 0 or 1\n"
    "       shardgate --version\n"
    "       shardgate --help\n"
    "\n"
    "Signals: SIGHUP reloads config and directory without dropping connections;\n"
    "SIGTERM/SIGINT stop accepting, let transactions finish (shutdown_timeout), exit.\n"
    "Without a config of your own, `bash scripts/demo.sh` starts two local PostgreSQL\n"
    "shards with sample tenants and runs shardgate in front of them.\n";

}  // namespace

// jemalloc's settings, read at its start (ignored when the proxy runs on another allocator):
// pages freed by parked clients go back to the kernel within about a second, from a
// background thread, so an idle proxy does not sit on memory it no longer uses.
extern "C" {
// NOLINTNEXTLINE: the name and type jemalloc looks up.
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

int main(int argc, char** argv) {
  using namespace shardgate;
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--version" || arg == "-V") {
      std::printf("shardgate %s\n", proxy::kVersion);
      return 0;
    }
    if ((arg == "--config" || arg == "-c" || arg == "--check-config") && i + 1 < argc) {
      check_only = arg == "--check-config";
      config_path = argv[++i];
      continue;
    }
    std::fprintf(stderr, "shardgate: unknown argument '%s'\n\n%s", arg.c_str(), kUsage);
    return 2;
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "shardgate: no configuration given\n\n%s", kUsage);
    return 2;
  }

  auto runtime = proxy::load_runtime(config_path);
  if (!runtime.ok()) {
    std::fprintf(stderr, "shardgate: %s\n", std::string(runtime.status().message()).c_str());
    return 1;
  }
  if (check_only) {
    std::printf("%s: configuration is valid (%zu shards, %zu tiers, %zu tenants)\n",
                config_path.c_str(), (*runtime)->config->shards.size(),
                (*runtime)->config->tiers.size(), (*runtime)->directory->size());
    return 0;
  }
  proxy::setup_logging((*runtime)->config->log);
  proxy::log_event(spdlog::level::info, "starting shardgate", nullptr,
                   {{"version", proxy::kVersion}, {"config", config_path}});
  // Before any socket is opened: clients are descriptors, and the soft limit a service manager
  // starts a process with (1,024 or 4,096) is far below what the hard limit allows.
  auto fds = proxy::raise_open_file_limit();
  if (!fds.error.empty())
    proxy::log_event(spdlog::level::warn, "cannot raise the open-file limit", nullptr,
                     {{"soft", std::to_string(fds.soft)},
                      {"hard", std::to_string(fds.hard)},
                      {"error", fds.error}});
  else if (fds.soft != fds.before)
    proxy::log_event(spdlog::level::info, "open-file limit raised", nullptr,
                     {{"from", std::to_string(fds.before)}, {"to", std::to_string(fds.soft)}});
  proxy::Proxy proxy(*runtime, config_path);
  if (!proxy.bind()) return 1;
  return proxy.run();
}
