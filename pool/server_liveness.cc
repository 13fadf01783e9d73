#include "pool/server_liveness.h"

#include "protocol/messages.h"

namespace shardgate::pool {

bool ends_connection(char type, protocol::ByteSpan body) {
  if (type != protocol::be::kErrorResponse) return false;
  auto fields = protocol::decode_error_fields(body);
  if (!fields) return true;
  // 'V' is never localized (PostgreSQL 9.6 and later); 'S' may be.
  const std::string* severity = fields->get('V');
  if (!severity) severity = fields->get('S');
  return severity && (*severity == "FATAL" || *severity == "PANIC");
}

}  // namespace shardgate::pool
