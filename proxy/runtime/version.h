#pragma once

namespace shardgate::proxy {
inline constexpr const char* kVersion = "0.1.0";
}
