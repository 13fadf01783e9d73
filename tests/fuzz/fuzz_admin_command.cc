// libFuzzer target for the admin socket's command parser and LIKE matcher: arbitrary query
// text must parse or fail with a message, never crash; a parsed command's label is known.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "proxy/admin/command_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = shardgate::routing::parse_admin_command(text);
  if (auto* cmd = std::get_if<shardgate::routing::AdminCommand>(&parsed)) {
    if (cmd->label() == "UNKNOWN") std::abort();
    if (cmd->pattern) (void)shardgate::routing::like_match(cmd->name, *cmd->pattern);
  } else if (std::get<shardgate::routing::AdminParseError>(parsed).message.empty()) {
    std::abort();  // every refusal says why
  }
  auto split = text.find('\n');
  if (split != std::string_view::npos)
    (void)shardgate::routing::like_match(text.substr(0, split), text.substr(split + 1));
  return 0;
}
