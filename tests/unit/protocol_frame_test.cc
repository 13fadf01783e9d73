#include <gtest/gtest.h>

#include "protocol/bytes.h"
#include "protocol/frame.h"

namespace shardgate::protocol {
namespace {

ByteSpan span(const Bytes& b, size_t n) { return ByteSpan(b.data(), n); }

TEST(ProtocolReader, ReadsBigEndianAndFailsPastEnd) {
  const Bytes in = {0x01, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x01, 'h', 'i', 0x00, 0xaa};
  Reader r(in);
  EXPECT_EQ(r.u8(), 1);
  EXPECT_EQ(r.i16(), -2);
  EXPECT_EQ(r.i32(), static_cast<int32_t>(0x80000001u));
  EXPECT_EQ(r.cstr(), "hi");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 1u);
  EXPECT_EQ(r.i16(), 0);  // only one byte left
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.u8(), 0);  // sticky failure
  EXPECT_FALSE(r.at_end());
}

TEST(ProtocolReader, CstrWithoutTerminatorFails) {
  const Bytes in = {'a', 'b', 'c'};
  Reader r(in);
  EXPECT_EQ(r.cstr(), "");
  EXPECT_FALSE(r.ok());
  Reader empty(ByteSpan{});
  empty.cstr();
  EXPECT_FALSE(empty.ok());
}

TEST(ProtocolReader, BytesRejectsNegativeAndTooLong) {
  const Bytes in = {1, 2, 3};
  Reader a(in);
  EXPECT_EQ(a.bytes(2).size(), 2u);
  EXPECT_EQ(a.rest().size(), 1u);
  EXPECT_TRUE(a.at_end());
  Reader b(in);
  b.bytes(-1);
  EXPECT_FALSE(b.ok());
  Reader c(in);
  c.bytes(4);
  EXPECT_FALSE(c.ok());
  Reader d(in);
  d.bytes(int64_t{1} << 62);
  EXPECT_FALSE(d.ok());
}

TEST(ProtocolWriter, PatchesLengthAndTruncatesAtNul) {
  Bytes out;
  Writer w(out);
  w.begin('Q');
  w.cstr(std::string_view("ab\0cd", 5));
  w.i16(-2);
  w.end();
  EXPECT_EQ(out, (Bytes{'Q', 0, 0, 0, 9, 'a', 'b', 0, 0xff, 0xfe}));
  Bytes untyped;
  Writer u(untyped);
  u.begin(0);
  u.i32(80877103);
  u.end();
  EXPECT_EQ(untyped, (Bytes{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}));
}

// 'Q' message "SELECT 1" followed by a Sync.
const Bytes kQueryThenSync = {'Q', 0,   0,   0, 13,  'S', 'E', 'L', 'E', 'C',
                              'T', ' ', '1', 0, 'S', 0,   0,   0,   4};

TEST(ProtocolFrame, ParsesTypedMessage) {
  const Frame f = parse_message(kQueryThenSync);
  ASSERT_EQ(f.status, FrameStatus::kFrame);
  EXPECT_EQ(f.type, 'Q');
  EXPECT_EQ(f.size, 14u);
  ASSERT_EQ(f.body.size(), 9u);
  EXPECT_EQ(f.body[0], 'S');
  EXPECT_EQ(f.body[8], 0);
  const Frame g = parse_message(ByteSpan(kQueryThenSync).subspan(f.size));
  ASSERT_EQ(g.status, FrameStatus::kFrame);
  EXPECT_EQ(g.type, 'S');
  EXPECT_EQ(g.size, 5u);
  EXPECT_TRUE(g.body.empty());
}

TEST(ProtocolFrame, NeedMoreAtEverySplitPoint) {
  for (size_t n = 0; n < 14; ++n) {
    const Frame f = parse_message(span(kQueryThenSync, n));
    EXPECT_EQ(f.status, FrameStatus::kNeedMore) << n;
    EXPECT_EQ(f.needed, n < 5 ? 0u : 14u) << n;
    const Header h = parse_header(span(kQueryThenSync, n));
    EXPECT_EQ(h.status, n < 5 ? FrameStatus::kNeedMore : FrameStatus::kFrame) << n;
  }
  EXPECT_EQ(parse_message(span(kQueryThenSync, 14)).status, FrameStatus::kFrame);
}

TEST(ProtocolFrame, HeaderReportsTotal) {
  const Header h = parse_header(kQueryThenSync);
  ASSERT_EQ(h.status, FrameStatus::kFrame);
  EXPECT_EQ(h.type, 'Q');
  EXPECT_EQ(h.total, 14u);
  // A huge (but legal) declared length: the header parses, a small limit refuses it.
  const Bytes big = {'d', 0x10, 0, 0, 0};
  const Header hb = parse_header(big);
  ASSERT_EQ(hb.status, FrameStatus::kFrame);
  EXPECT_EQ(hb.total, 0x10000001u);
  EXPECT_EQ(parse_message(big).status, FrameStatus::kError);
  const Frame nm = parse_message(big, kMaxDeclaredMessage);
  EXPECT_EQ(nm.status, FrameStatus::kNeedMore);
  EXPECT_EQ(nm.needed, 0x10000001u);
}

TEST(ProtocolFrame, BadLengthsAreErrors) {
  for (const Bytes& bad :
       {Bytes{'Q', 0, 0, 0, 3}, Bytes{'Q', 0, 0, 0, 0}, Bytes{'Q', 0xff, 0xff, 0xff, 0xff},
        Bytes{'Q', 0x80, 0, 0, 0}, Bytes{'Q', 0x40, 0, 0, 1}}) {
    const Frame f = parse_message(bad);
    EXPECT_EQ(f.status, FrameStatus::kError);
    EXPECT_FALSE(f.error.empty());
    EXPECT_EQ(parse_header(bad).status, FrameStatus::kError);
  }
  // Exactly 1 GB declared is allowed by the header, refused by the default limit.
  const Bytes gig = {'Q', 0x40, 0, 0, 0};
  EXPECT_EQ(parse_header(gig).status, FrameStatus::kFrame);
  // Above max_len.
  const Bytes five = {'Q', 0, 0, 0, 9, 'a', 'b', 'c', 'd', 0};
  EXPECT_EQ(parse_message(five, 8).status, FrameStatus::kError);
  EXPECT_EQ(parse_message(five, 9).status, FrameStatus::kFrame);
}

// StartupMessage: user=u, terminator.
const Bytes kStartup = {0, 0, 0, 15, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'u', 0, 0};

TEST(ProtocolFrame, StartupPacketSplitPoints) {
  // Declared 15 but the vector has 16 bytes: the frame is the first 15.
  Bytes in = kStartup;
  in[3] = 16;
  for (size_t n = 0; n < 16; ++n) {
    const Frame f = parse_startup_packet(span(in, n));
    EXPECT_EQ(f.status, FrameStatus::kNeedMore) << n;
    EXPECT_EQ(f.needed, n < 4 ? 0u : 16u) << n;
  }
  const Frame f = parse_startup_packet(in);
  ASSERT_EQ(f.status, FrameStatus::kFrame);
  EXPECT_EQ(f.type, 0);
  EXPECT_EQ(f.size, 16u);
  EXPECT_EQ(f.body.size(), 12u);
}

TEST(ProtocolFrame, StartupPacketLengthLimits) {
  for (int32_t len : {-1, 0, 4, 7, 10001, 0x7fffffff}) {
    Bytes in;
    Writer w(in);
    w.i32(len);
    in.resize(12, 0);
    const Frame f = parse_startup_packet(in);
    EXPECT_EQ(f.status, FrameStatus::kError) << len;
  }
  const Bytes ssl = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
  const Frame f = parse_startup_packet(ssl);
  ASSERT_EQ(f.status, FrameStatus::kFrame);
  EXPECT_EQ(f.size, 8u);
  const Bytes max = {0, 0, 0x27, 0x10};  // exactly 10000: need more, not error
  const Frame m = parse_startup_packet(max);
  EXPECT_EQ(m.status, FrameStatus::kNeedMore);
  EXPECT_EQ(m.needed, 10000u);
}

TEST(ProtocolFrame, WalksAStream) {
  Bytes stream = kQueryThenSync;
  stream.insert(stream.end(), {'X', 0, 0, 0, 4});
  std::string types;
  ByteSpan rest(stream);
  while (!rest.empty()) {
    const Frame f = parse_message(rest);
    ASSERT_EQ(f.status, FrameStatus::kFrame);
    types.push_back(f.type);
    rest = rest.subspan(f.size);
  }
  EXPECT_EQ(types, "QSX");
}

}  // namespace
}  // namespace shardgate::protocol
