// Startup-phase packets a client sends before its first typed message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/bytes.h"

namespace shardgate::protocol {

inline constexpr int32_t kProtocolVersion3 = 196608;  // 3.0
inline constexpr int32_t kSslRequestCode = 80877103;
inline constexpr int32_t kGssEncRequestCode = 80877104;
inline constexpr int32_t kCancelRequestCode = 80877102;
inline constexpr size_t kMaxStartupParams = 64;

struct StartupMessage {
  int32_t version = kProtocolVersion3;
  std::vector<std::pair<std::string, std::string>> params;  // in the order sent

  // The value of a parameter, or nullptr.
  const std::string* get(std::string_view name) const;
};
struct SslRequest {};
struct GssEncRequest {};
struct CancelRequest {
  int32_t pid = 0;
  int32_t secret = 0;
};

using StartupPacket = std::variant<StartupMessage, SslRequest, GssEncRequest, CancelRequest>;

struct StartupDecode {
  std::optional<StartupPacket> packet;  // empty on error
  std::string error;                    // why the packet was refused
};

// Decodes the body of a startup-phase packet (the bytes after the int32 length).
// Refuses: unknown codes, protocol major version other than 3, missing "user",
// unterminated strings, duplicate or empty parameter names, over kMaxStartupParams params.
StartupDecode decode_startup(ByteSpan body);

// Encoders produce a whole packet including its length.
void encode_startup(Bytes& out, const StartupMessage& m);
void encode_cancel_request(Bytes& out, const CancelRequest& c);
void encode_ssl_request(Bytes& out);

}  // namespace shardgate::protocol
