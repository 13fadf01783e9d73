// Differential fuzzing of the guard's shape-keyed cache (routing/guard/statement_shape.h):
// every text with a shape must get from the full inspector exactly what its shape gets (the
// shape is itself SQL), in every field the guard, the pooling rules and the proxy act on; a
// text whose shape repeats masks nothing; and what has a shape never names a channel,
// carries a session command or a setting write (those depend on literal values).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "routing/guard/statement.h"
#include "routing/guard/statement_shape.h"

namespace {

using shardgate::routing::StatementInfo;

bool same_verdict_inputs(const StatementInfo& a, const StatementInfo& b) {
  return a.parsed == b.parsed && a.too_complex == b.too_complex &&
         a.statement_count == b.statement_count && a.session.kind == b.session.kind &&
         a.protected_settings == b.protected_settings && a.unknown_setting == b.unknown_setting &&
         a.qualified_schemas == b.qualified_schemas && a.code_schemas == b.code_schemas &&
         a.dynamic_sql == b.dynamic_sql && a.dynamic_sql_what == b.dynamic_sql_what &&
         a.refused_in_body == b.refused_in_body && a.persistent_settings == b.persistent_settings &&
         a.persistent_what == b.persistent_what && a.database_wide == b.database_wide &&
         a.server_wide == b.server_wide && a.outlives_transaction == b.outlives_transaction &&
         a.outliving_kind == b.outliving_kind && a.survives_discard == b.survives_discard &&
         a.reset_all == b.reset_all && a.setting_writes.size() == b.setting_writes.size() &&
         a.cross_tenant_view == b.cross_tenant_view && a.deallocate_all == b.deallocate_all &&
         a.deallocated == b.deallocated && a.transaction_control == b.transaction_control &&
         a.channel_sites.size() == b.channel_sites.size() && a.channel_refusal == b.channel_refusal;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string sql(reinterpret_cast<const char*>(data), size);
  auto shape = shardgate::routing::statement_shape(sql);
  if (!shape) return 0;
  auto again = shardgate::routing::statement_shape(*shape);
  if (!again || *again != *shape) std::abort();  // the key is its own shape
  StatementInfo text = shardgate::routing::inspect_statement(sql);
  if (!text.parsed) return 0;  // never cached under its shape
  StatementInfo key = shardgate::routing::inspect_statement(*shape);
  if (!same_verdict_inputs(text, key)) std::abort();
  if (!text.channel_sites.empty() || !text.setting_writes.empty() ||
      text.session.kind != shardgate::routing::SessionCommandKind::kNone)
    std::abort();
  return 0;
}
