// libFuzzer target for startup-parameter routing: parse_options, format_options and
// resolve_identity on arbitrary bytes; every setting value also through the readers of
// search_path lists and encoding names (split_search_path, lookup_client_encoding). Input: "user \0
// database \0 options" (missing parts empty).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.h"
#include "routing/guard/search_path.h"
#include "routing/guard/setting_rules.h"
#include "routing/route.h"

namespace {

const shardgate::config::Config& fixed_config() {
  static const shardgate::config::Config config = [] {
    auto c = shardgate::config::parse_config(R"(shards: { s1: {}, s2: {} }
auth:
  users:
    - { name: app, password: x, tenants: "*" }
    - { name: app.admin, password: x, tenants: [acme] }
tenant: { database_is_tenant: true }
tiers: { free: { isolation: shared }, pro: { role: "tenant_{tenant}" } }
)",
                                             "fuzz.yaml");
    if (!c.ok()) std::abort();
    return *c;
  }();
  return config;
}

// What a client may put in a setting value: a search_path list must survive being written
// back as PostgreSQL writes it, and an encoding is safe only if PostgreSQL would know it.
void check_value(std::string_view value) {
  if (auto schemas = shardgate::routing::split_search_path(value)) {
    for (const auto& s : *schemas) {
      if (s.size() > 63) std::abort();
    }
    auto again =
        shardgate::routing::split_search_path(shardgate::routing::search_path_text(*schemas));
    if (!again || *again != *schemas) std::abort();
  }
  auto encoding = shardgate::routing::lookup_client_encoding(value);
  bool refused = shardgate::routing::is_protected_setting(
      "client_encoding", shardgate::routing::SettingChange::kValue, value);
  if (refused == (encoding && encoding->server_safe)) std::abort();
}

std::string_view next_part(std::string_view& in) {
  size_t nul = in.find('\0');
  std::string_view part = in.substr(0, nul);
  in = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  shardgate::routing::StartupIdentity startup;
  startup.user = std::string(next_part(in));
  startup.database = std::string(next_part(in));
  startup.options = std::string(in);

  // Whole input as options, then the split form.
  for (std::string_view options : {std::string_view(reinterpret_cast<const char*>(data), size),
                                   std::string_view(startup.options)}) {
    auto parsed = shardgate::routing::parse_options(options);
    if (!parsed.ok) {
      if (!parsed.settings.empty()) std::abort();
      continue;
    }
    if (parsed.settings.size() > 64) std::abort();
    for (const auto& [name, value] : parsed.settings) check_value(value);
    // format_options must round-trip whatever parse_options accepts.
    auto again =
        shardgate::routing::parse_options(shardgate::routing::format_options(parsed.settings));
    if (!again.ok || again.settings != parsed.settings) std::abort();
  }

  check_value(in);
  auto result = shardgate::routing::resolve_identity(startup, fixed_config());
  if (auto* id = std::get_if<shardgate::routing::Identity>(&result)) {
    if (id->tenant && !shardgate::config::valid_tenant_id(*id->tenant)) std::abort();
    for (const auto& [name, value] : id->passthrough_options) {
      if (name.rfind("shardgate.", 0) == 0) std::abort();
    }
  } else {
    const auto& e = std::get<shardgate::routing::RouteError>(result);
    if (e.sqlstate.size() != 5 || e.message.empty()) std::abort();
  }
  return 0;
}
