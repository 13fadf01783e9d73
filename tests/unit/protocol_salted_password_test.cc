// protocol/salted_password.h: the remembered SaltedPassword is the derived one, for every
// (password, salt, iterations), also once the cache has evicted and refilled.
#include "protocol/salted_password.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace shardgate::protocol {
namespace {

// RFC 7677's example password and salt.
TEST(SaltedPassword, CachedEqualsDerived) {
  const std::string salt = "\x5b\x6d\x99\x68\x9d\x12\x35\x8e\xec\xa0\x4b\x14\x12\x36\xfa\x81";
  const SaltedKey derived = salted_password("pencil", salt, 4096);
  EXPECT_EQ(salted_password_cached("pencil", salt, 4096), derived);
  EXPECT_EQ(salted_password_cached("pencil", salt, 4096), derived);  // from the cache
  // Any part of the key differing is another entry.
  EXPECT_NE(salted_password_cached("pencil", salt, 4095), derived);
  EXPECT_NE(salted_password_cached("pencil2", salt, 4096), derived);
  EXPECT_NE(salted_password_cached("pencil", salt + "x", 4096), derived);
}

TEST(SaltedPassword, RightAfterEvictionAndFromManyThreads) {
  // More entries than the cache keeps, twice over, from two threads at once: every answer
  // is the derived key (a few rounds keep the test fast).
  auto check = [](int offset, std::vector<std::string>* wrong) {
    for (int round = 0; round < 2; ++round) {
      for (size_t i = 0; i < kSaltedPasswordCacheSize + 8; ++i) {
        std::string password = "pw" + std::to_string(i + offset);
        std::string salt = "salt" + std::to_string(i % 5);
        if (salted_password_cached(password, salt, 3) != salted_password(password, salt, 3))
          wrong->push_back(password + "/" + salt);
      }
    }
  };
  std::vector<std::string> wrong_a, wrong_b;
  std::thread a(check, 0, &wrong_a);
  std::thread b(check, 20, &wrong_b);
  a.join();
  b.join();
  EXPECT_TRUE(wrong_a.empty()) << wrong_a.front();
  EXPECT_TRUE(wrong_b.empty()) << wrong_b.front();
}

}  // namespace
}  // namespace shardgate::protocol
