// SCRAM's SaltedPassword: PBKDF2-HMAC-SHA-256 of a password with the server's salt,
// `iterations` rounds. PostgreSQL's default of 4096 rounds costs about 1.3 ms of CPU.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shardgate::protocol {

using SaltedKey = std::array<uint8_t, 32>;

SaltedKey salted_password(std::string_view password, std::string_view salt, int iterations);

// The same, remembered. A shard answers a user's logins with the same salt and iteration
// count every time, so only the first server connection of a user pays for the derivation;
// the others (a pool growing, every pool refilling after a shard restart) take the
// remembered key. Thread-safe; keeps the kSaltedPasswordCacheSize most recently used
// entries. A key is as secret as the password it comes from, which the process holds anyway
// (the configuration); evicted entries are wiped.
inline constexpr size_t kSaltedPasswordCacheSize = 64;
SaltedKey salted_password_cached(std::string_view password, std::string_view salt, int iterations);

}  // namespace shardgate::protocol
