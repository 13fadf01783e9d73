// ReadBuffer: storage taken on first use and given back while empty (an idle client holds
// none), data kept across compaction and growth.
#include "pool/read_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "proxy/session/lazy_deque.h"

namespace shardgate {
namespace {

void put(ReadBuffer& b, const std::string& s) {
  auto space = b.prepare(s.size());
  ASSERT_GE(space.size(), s.size());
  std::memcpy(space.data(), s.data(), s.size());
  b.commit(s.size());
}

std::string text(const ReadBuffer& b) {
  auto d = b.data();
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

TEST(ReadBuffer, StartsEmptyWhenAskedAndTakesStorageOnFirstUse) {
  ReadBuffer b(0);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.empty());
  put(b, "hello");
  EXPECT_GE(b.capacity(), 5u);
  EXPECT_EQ(text(b), "hello");
}

TEST(ReadBuffer, ReleaseOnlyWhileEmpty) {
  ReadBuffer b(64);
  put(b, "abc");
  b.release();  // holds data: kept
  EXPECT_EQ(text(b), "abc");
  EXPECT_GE(b.capacity(), 3u);
  b.consume(3);
  b.release();
  EXPECT_EQ(b.capacity(), 0u);
  put(b, "again");  // storage comes back on the next prepare()
  EXPECT_EQ(text(b), "again");
}

TEST(ReadBuffer, KeepsUnreadBytesAcrossCompactionAndGrowth) {
  ReadBuffer b(8);
  put(b, "12345678");
  b.consume(5);  // "678" left at the back: the next prepare() moves it to the front
  put(b, "ab");
  EXPECT_EQ(text(b), "678ab");
  std::string big(100000, 'x');
  put(b, big);  // grows
  EXPECT_EQ(text(b), "678ab" + big);
}

TEST(ReadBuffer, GrowsGeometricallyWhenAMessageArrivesInPieces) {
  ReadBuffer b(16);
  size_t growths = 0, last = b.capacity();
  for (int i = 0; i < 1000; ++i) {  // 1000 reads of 1 KiB, nothing consumed
    put(b, std::string(1024, 'y'));
    if (b.capacity() != last) ++growths, last = b.capacity();
  }
  EXPECT_EQ(b.size(), 1000u * 1024u);
  EXPECT_LE(growths, 20u);  // doubling: ~log2(1 MiB / 16 B), not one growth per read
}

TEST(LazyDeque, HoldsNothingUntilUsedAndGivesItBackWhenEmpty) {
  proxy::LazyDeque<int> q;
  EXPECT_TRUE(q.empty());
  q.release_if_empty();  // nothing to release: fine
  q.push_back(1);
  q.push_back(2);
  std::deque<int>& d = q;  // passes as a std::deque
  EXPECT_EQ(d.size(), 2u);
  q.release_if_empty();  // not empty: kept
  EXPECT_EQ(q.front(), 1);
  q.pop_front();
  q.pop_front();
  EXPECT_TRUE(q.empty());
  q.release_if_empty();
  EXPECT_TRUE(q.empty());
  q.push_back(3);  // comes back on use
  EXPECT_EQ(q.back(), 3);
}

}  // namespace
}  // namespace shardgate
