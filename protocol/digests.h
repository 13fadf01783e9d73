// MD5, SHA-256 and HMAC-SHA-256 of small inputs, as logins need them (md5 answers, SCRAM
// proofs, hashed channel names). OpenSSL 3's one-shot calls (EVP_Digest with EVP_md5(),
// HMAC()) look the algorithm up in the provider store on every call: under callgrind an
// HMAC() of a SCRAM proof cost about 23,000 instructions, a third of it the lookup, and an
// md5 digest about 3,900, half of it the lookup (bench/README.md, "Logins"). These fetch
// each algorithm once per process and keep one context per thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace shardgate::protocol {

using Md5Digest = std::array<uint8_t, 16>;
using Sha256Digest = std::array<uint8_t, 32>;

// Nothing when MD5 is unavailable (a FIPS-only provider): a login must then fail, never
// compare against a digest that was not computed.
std::optional<Md5Digest> md5(std::string_view data);
Sha256Digest sha256(const uint8_t* data, size_t n);
Sha256Digest hmac_sha256(const uint8_t* key, size_t key_len, std::string_view msg);
// Lower-case hexadecimal, two characters a byte (md5 answers, hashed channel names).
std::string lower_hex(std::span<const uint8_t> bytes);

}  // namespace shardgate::protocol
