// libFuzzer target for the guard: inspect_statement() and judge() on arbitrary bytes, and the
// cache's answer must match a fresh inspection. Checks invariants that hold for any input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "routing/guard/channel_names.h"
#include "routing/guard/guard.h"
#include "routing/guard/statement.h"
#include "routing/guard/statement_cache.h"

namespace {

using shardgate::routing::GuardPolicy;
using shardgate::routing::SessionCommandKind;
using shardgate::routing::StatementInfo;

void check_invariants(const StatementInfo& info) {
  if (!info.parsed) {
    if (info.parse_error.empty()) std::abort();
    if (info.statement_count != 0 || info.session.kind != SessionCommandKind::kNone) std::abort();
    return;
  }
  if (info.too_complex || info.statement_count < 0) std::abort();
  if (info.session.kind != SessionCommandKind::kNone) {
    if (info.statement_count != 1) std::abort();
    // A session command changes shardgate.tenant or search_path: the guard must refuse it
    // should it ever reach the server.
    if (info.session.kind != SessionCommandKind::kShowTenant && info.protected_settings.empty()) {
      std::abort();
    }
  }
  for (const auto& s : info.qualified_schemas) {
    if (s.empty()) std::abort();
  }
}

// The channel rewrite: every channel the rewritten text names is the tenant's, and it names
// as many as the original did.
void check_channels(std::string_view sql, const StatementInfo& info) {
  if (!info.parsed || info.channel_sites.empty() || !info.channel_refusal.empty()) return;
  std::string text(sql.substr(0, sql.find('\0')));
  std::string out = shardgate::routing::rewrite_channels(text, info, "acme");
  StatementInfo again = shardgate::routing::inspect_statement(out);
  if (!again.parsed || !again.channel_refusal.empty() ||
      again.channel_sites.size() != info.channel_sites.size()) {
    std::abort();
  }
  for (const auto& site : again.channel_sites) {
    bool ours = site.channel.starts_with("acme.") || site.channel.empty() ||
                site.kind == shardgate::routing::ChannelSite::Kind::kUnlistenAll;
    if (!ours && !(site.channel.size() == 63 && site.channel[0] == '#')) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // libpg_query reads a NUL-terminated string: inspect_statement copies into a std::string.
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  StatementInfo info = shardgate::routing::inspect_statement(sql);
  check_invariants(info);
  check_channels(sql, info);

  static const std::vector<std::string> shared = {"reference"};
  GuardPolicy policy;
  policy.tenant = "acme";
  policy.tenant_schema = "tenant_acme";
  policy.shared_schemas = &shared;
  for (bool dynamic : {false, true}) {
    policy.allow_dynamic_sql = dynamic;
    auto verdict = shardgate::routing::judge(info, policy);
    if (!verdict.allowed && (verdict.sqlstate != "42501" || verdict.message.empty())) std::abort();
    if (verdict.allowed && (!info.protected_settings.empty() || info.unknown_setting ||
                            info.persistent_settings || info.too_complex)) {
      std::abort();
    }
  }

  static shardgate::routing::StatementCache cache(64);
  auto cached = cache.get(sql);
  if (cached->parsed != info.parsed || cached->protected_settings != info.protected_settings ||
      cached->qualified_schemas != info.qualified_schemas ||
      cached->dynamic_sql != info.dynamic_sql) {
    std::abort();
  }
  return 0;
}
