#include "proxy/runtime.h"

#include "proxy/client_auth.h"

#include <array>

namespace shardgate::proxy {

RuntimePtr make_runtime(config::Config config, routing::Directory directory) {
  auto rt = std::make_shared<Runtime>();
  for (const auto& user : config.users) {
    if (user.password.empty() || is_md5_hash(user.password) ||
        user.password.starts_with("SCRAM-SHA-256$"))
      continue;
    std::array<uint8_t, 16> salt;
    protocol::random_bytes(salt.data(), salt.size());
    rt->scram_verifiers.emplace(
        user.name, protocol::make_scram_verifier(
                       user.password, std::string(reinterpret_cast<char*>(salt.data()), salt.size())));
  }
  rt->config = std::make_shared<const config::Config>(std::move(config));
  rt->directory = std::make_shared<const routing::Directory>(std::move(directory));
  return rt;
}

absl::StatusOr<RuntimePtr> load_runtime(const std::string& config_path) {
  auto config = config::load_config_file(config_path);
  if (!config.ok()) return config.status();
  routing::Directory directory;
  if (!config->directory.file.empty()) {
    auto dir = routing::load_directory_file(config->directory.file, *config);
    if (!dir.ok()) return dir.status();
    directory = std::move(*dir);
  }
  return make_runtime(std::move(*config), std::move(directory));
}

}  // namespace shardgate::proxy
