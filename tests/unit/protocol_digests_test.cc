#include "protocol/digests.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace shardgate::protocol {
namespace {

template <size_t N>
std::string hex(const std::array<uint8_t, N>& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

const uint8_t* bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// RFC 1321's test suite.
TEST(DigestsTest, Md5KnownAnswers) {
  EXPECT_EQ(hex(md5("").value()), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(hex(md5("abc").value()), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(hex(md5("1234567890123456789012345678901234567890123456789012345678901234567890123"
                    "4567890")
                    .value()),
            "57edf4a22be3c955ac49da2e2107b67a");
}

// FIPS 180-2's examples.
TEST(DigestsTest, Sha256KnownAnswers) {
  EXPECT_EQ(hex(sha256(bytes("abc"), 3)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256(nullptr, 0)),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// RFC 4231 test cases 1, 2 and 6 (a key longer than the block), in a row on one thread: the
// context each thread keeps must take every new key.
TEST(DigestsTest, HmacSha256KnownAnswersWithChangingKeys) {
  const std::string key1(20, '\x0b');
  const std::string key6(131, '\xaa');
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(hex(hmac_sha256(bytes(key1), key1.size(), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hex(hmac_sha256(bytes("Jefe"), 4, "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(hex(hmac_sha256(bytes(key6), key6.size(),
                              "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  }
}

// The per-thread context must not keep the last key: an empty key right after another is
// still the empty key (OpenSSL keeps the old key when it is given none).
TEST(DigestsTest, HmacWithAnEmptyKeyAfterAnotherKey) {
  const std::string empty_key_mac =
      "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad";
  (void)hmac_sha256(bytes("Jefe"), 4, "what do ya want for nothing?");
  EXPECT_EQ(hex(hmac_sha256(nullptr, 0, "")), empty_key_mac);
  (void)hmac_sha256(bytes("Jefe"), 4, "what do ya want for nothing?");
  EXPECT_EQ(hex(hmac_sha256(bytes(""), 0, "")), empty_key_mac);
}

// Each thread has its own contexts: the same answers from another thread at the same time.
TEST(DigestsTest, AnswersAreTheSameOnEveryThread) {
  std::string a, b;
  std::thread t([&] { a = hex(hmac_sha256(bytes("Jefe"), 4, "what do ya want for nothing?")); });
  b = hex(hmac_sha256(bytes("Jefe"), 4, "what do ya want for nothing?"));
  t.join();
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace shardgate::protocol
