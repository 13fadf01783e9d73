#include "proxy/session/stream_scanner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shardgate::proxy {
namespace {

std::vector<uint8_t> msg(char type, const std::string& body) {
  std::vector<uint8_t> out{static_cast<uint8_t>(type)};
  uint32_t len = static_cast<uint32_t>(body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(len >> shift));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(StreamScanner, ForwardsWholeMessagesAndWaitsForPartialOnes) {
  auto bytes = concat({msg('Q', std::string("select 1\0", 9)), msg('Z', "I")});
  StreamScanner scanner;
  std::string seen;
  // Every split point: only whole messages are forwarded, in order, each seen once.
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    seen.clear();
    StreamScanner s;
    auto on = [&](const ScannedFrame& f) {
      EXPECT_TRUE(f.whole());
      seen += f.type;
      return ScanAction::kContinue;
    };
    auto r1 = s.scan(protocol::ByteSpan(bytes.data(), cut), on);
    size_t first_len = 1 + 4 + 9;
    EXPECT_EQ(r1.forward, cut >= bytes.size() ? bytes.size() : (cut >= first_len ? first_len : 0));
    auto r2 = s.scan(protocol::ByteSpan(bytes.data() + r1.forward, bytes.size() - r1.forward), on);
    EXPECT_EQ(r1.forward + r2.forward, bytes.size());
    EXPECT_EQ(seen, "QZ");
  }
}

TEST(StreamScanner, StopBeforeKeepsTheMessage) {
  auto bytes =
      concat({msg('Q', std::string("x\0", 2)), msg('X', ""), msg('Q', std::string("y\0", 2))});
  StreamScanner s;
  auto r = s.scan(bytes, [](const ScannedFrame& f) {
    return f.type == 'X' ? ScanAction::kStopBefore : ScanAction::kContinue;
  });
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.forward, 7u);
}

TEST(StreamScanner, StopAfterIncludesTheMessage) {
  auto bytes = concat({msg('Z', "I"), msg('D', "row")});
  StreamScanner s;
  auto r = s.scan(bytes, [](const ScannedFrame& f) {
    EXPECT_TRUE(f.type != 'Z' || (f.body().size() == 1 && f.body()[0] == 'I'));
    EXPECT_EQ(f.bytes.size(), f.total);
    return f.type == 'Z' ? ScanAction::kStopAfter : ScanAction::kContinue;
  });
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.forward, 6u);
}

TEST(StreamScanner, StreamsMessagesLargerThanTheThreshold) {
  std::string big(StreamScanner::kStreamThreshold * 3, 'x');
  auto bytes = concat({msg('d', big), msg('c', "")});
  StreamScanner s;
  int big_seen = 0, done_seen = 0;
  size_t big_bytes = 0;  // every byte of the large message is announced exactly once
  auto on = [&](const ScannedFrame& f) {
    if (f.type == 'd') {
      EXPECT_FALSE(f.whole());
      EXPECT_EQ(f.total, big.size() + 5);
      if (!f.rest) ++big_seen;
      big_bytes += f.bytes.size();
    }
    if (f.type == 'c') ++done_seen;
    return ScanAction::kContinue;
  };
  size_t pos = 0;
  const size_t chunk = 16 * 1024;
  while (pos < bytes.size()) {
    size_t avail = std::min(chunk, bytes.size() - pos);
    auto r = s.scan(protocol::ByteSpan(bytes.data() + pos, avail), on);
    ASSERT_FALSE(r.error);
    // Never holds more than the threshold back: memory stays bounded.
    if (r.forward == 0) {
      ASSERT_LT(avail, StreamScanner::kStreamThreshold);
    }
    pos += r.forward;
    if (r.forward == 0) {
      // Feed a bigger window containing the rest of the partial message.
      auto r2 = s.scan(protocol::ByteSpan(bytes.data() + pos, bytes.size() - pos), on);
      pos += r2.forward;
    }
  }
  EXPECT_EQ(big_seen, 1);
  EXPECT_EQ(done_seen, 1);
  EXPECT_EQ(big_bytes, big.size() + 5);
  EXPECT_EQ(s.streaming_remaining(), 0u);
}

TEST(StreamScanner, StopBeforeALargePartialMessageWaitsForIt) {
  std::string big(StreamScanner::kStreamThreshold * 2, 'x');
  auto bytes = concat({msg('Z', "I"), msg('D', big)});
  StreamScanner s;
  auto wait = [](const ScannedFrame& f) {
    return f.whole() ? ScanAction::kContinue : ScanAction::kStopBefore;
  };
  auto half = protocol::ByteSpan(bytes.data(), bytes.size() / 2);
  auto r = s.scan(half, wait);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.forward, 6u);  // the ReadyForQuery only
  EXPECT_EQ(s.streaming_remaining(), 0u);
  r = s.scan(protocol::ByteSpan(bytes.data() + 6, bytes.size() - 6), wait);
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.forward, bytes.size() - 6);  // whole now
}

TEST(StreamScanner, RestFramesCarryTheStreamedType) {
  std::string big(StreamScanner::kStreamThreshold * 2, 'x');
  auto bytes = msg('d', big);
  StreamScanner s;
  std::vector<std::pair<char, bool>> seen;
  auto on = [&](const ScannedFrame& f) {
    seen.emplace_back(f.type, f.rest);
    return ScanAction::kContinue;
  };
  size_t first = StreamScanner::kStreamThreshold + 100;
  auto r1 = s.scan(protocol::ByteSpan(bytes.data(), first), on);
  EXPECT_EQ(r1.forward, first);
  EXPECT_EQ(s.streaming_remaining(), bytes.size() - first);
  auto r2 = s.scan(protocol::ByteSpan(bytes.data() + first, bytes.size() - first), on);
  EXPECT_EQ(r2.forward, bytes.size() - first);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair('d', false));
  EXPECT_EQ(seen[1], std::make_pair('d', true));
}

TEST(StreamScanner, RejectsLengthBelowFour) {
  std::vector<uint8_t> bytes{'Q', 0, 0, 0, 3};
  StreamScanner s;
  auto r = s.scan(bytes, [](const ScannedFrame&) { return ScanAction::kContinue; });
  EXPECT_TRUE(r.error);
  EXPECT_EQ(r.forward, 0u);
}

}  // namespace
}  // namespace shardgate::proxy
