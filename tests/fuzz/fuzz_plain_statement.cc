// Differential fuzzing of the guard's fast path: whatever is_plain_statement() lets through
// unparsed, the full inspector must find nothing in that the guard could refuse or shardgate
// must rewrite (LISTEN/NOTIFY channels). And whatever
// starts_as_dml() accepts (pipelining) must not be transaction control or a session command.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "routing/guard/plain_statement.h"
#include "routing/guard/statement.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string sql(reinterpret_cast<const char*>(data), size);
  if (shardgate::routing::starts_as_dml(sql)) {
    auto info = shardgate::routing::inspect_statement(sql);
    if (info.parsed && info.statement_count == 1 &&
        (info.transaction_control ||
         info.session.kind != shardgate::routing::SessionCommandKind::kNone))
      std::abort();
  }
  if (!shardgate::routing::is_plain_statement(sql)) return 0;
  auto info = shardgate::routing::inspect_statement(sql);
  if (!info.parsed) return 0;  // PostgreSQL rejects it before running anything
  bool harmless = info.qualified_schemas.empty() && info.protected_settings.empty() &&
                  !info.dynamic_sql && !info.persistent_settings && !info.unknown_setting &&
                  info.session.kind == shardgate::routing::SessionCommandKind::kNone &&
                  !info.reset_all && !info.deallocate_all && info.deallocated.empty() &&
                  info.cross_tenant_view.empty() && info.statement_count <= 1 &&
                  info.channel_sites.empty() && info.channel_refusal.empty();
  if (!harmless) std::abort();
  return 0;
}
