#include "proxy/runtime/runtime.h"

#include <array>

namespace shardgate::proxy {

RuntimePtr make_runtime(config::Config config, routing::Directory directory,
                        std::shared_ptr<const tls::TlsContexts> tls) {
  auto rt = std::make_shared<Runtime>();
  if (tls) rt->tls = std::move(tls);
  for (const auto& user : config.users) {
    if (user.password.empty() || config::is_md5_hash(user.password) ||
        user.password.starts_with("SCRAM-SHA-256$"))
      continue;
    std::array<uint8_t, 16> salt;
    protocol::random_bytes(salt.data(), salt.size());
    rt->scram_verifiers.emplace(
        user.name,
        protocol::make_scram_verifier(
            user.password, std::string(reinterpret_cast<char*>(salt.data()), salt.size())));
  }
  for (const auto& [tenant, placement] : directory.tenants())
    rt->tenant_by_schema.emplace(placement.schema, tenant);
  rt->config = std::make_shared<const config::Config>(std::move(config));
  rt->directory = std::make_shared<const routing::Directory>(std::move(directory));
  return rt;
}

std::string Runtime::tenant_for_schema(std::string_view schema) const {
  auto it = tenant_by_schema.find(std::string(schema));
  if (it != tenant_by_schema.end()) return it->second;
  const std::string& tmpl = config->tenant.schema_template;
  auto at = tmpl.find("{tenant}");
  if (at == std::string::npos) return {};
  std::string_view prefix(tmpl.data(), at), suffix(tmpl.data() + at + 8, tmpl.size() - at - 8);
  if (schema.size() <= prefix.size() + suffix.size() || !schema.starts_with(prefix) ||
      !schema.ends_with(suffix))
    return {};
  std::string_view tenant =
      schema.substr(prefix.size(), schema.size() - prefix.size() - suffix.size());
  if (!config::valid_tenant_id(tenant)) return {};
  // Only a tenant the directory would place: listed, or placed by default_placement.
  if (directory->find(tenant) == nullptr && config->directory.default_placement.reject) return {};
  return std::string(tenant);
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
  auto tls = tls::TlsContexts::load(*config);
  if (!tls.ok()) return tls.status();
  return make_runtime(std::move(*config), std::move(directory), std::move(*tls));
}

}  // namespace shardgate::proxy
