#include "proxy/session/statement_text.h"

namespace shardgate::proxy {

std::string truncate_statement(std::string_view sql, size_t max) {
  if (sql.size() <= max) return std::string(sql);
  size_t cut = max;
  // Back off over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(sql[cut]) & 0xC0) == 0x80) --cut;
  return std::string(sql.substr(0, cut));
}

std::string_view parse_statement_text(protocol::ByteSpan parse_body) {
  protocol::Reader r(parse_body);
  r.cstr();  // statement name
  auto sql = r.cstr();
  return r.ok() ? sql : std::string_view();
}

std::string_view bind_statement_name(protocol::ByteSpan bind_body) {
  protocol::Reader r(bind_body);
  r.cstr();  // portal
  auto name = r.cstr();
  return r.ok() ? name : std::string_view();
}

}  // namespace shardgate::proxy
