#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/startup.h"

namespace shardgate::protocol {
namespace {

// Body of a startup packet (after the length) from literal pieces.
Bytes body(std::initializer_list<std::string_view> parts) {
  Bytes b;
  for (auto p : parts) b.insert(b.end(), p.begin(), p.end());
  return b;
}

const std::string_view kV3("\x00\x03\x00\x00", 4);
const std::string_view kNul("\x00", 1);

TEST(ProtocolStartup, DecodesStartupMessage) {
  // Literal bytes of a libpq startup packet body.
  const Bytes in = {0x00, 0x03, 0x00, 0x00, 'u', 's', 'e', 'r', 0, 'a', 'p', 'p', 0,
                    'd',  'a',  't',  'a',  'b', 'a', 's', 'e', 0, 'd', 'b', 0,   0};
  const StartupDecode d = decode_startup(in);
  ASSERT_TRUE(d.packet) << d.error;
  const auto* m = std::get_if<StartupMessage>(&*d.packet);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->version, kProtocolVersion3);
  ASSERT_EQ(m->params.size(), 2u);
  EXPECT_EQ(m->params[0].first, "user");
  EXPECT_EQ(*m->get("user"), "app");
  EXPECT_EQ(*m->get("database"), "db");
  EXPECT_EQ(m->get("options"), nullptr);
}

TEST(ProtocolStartup, SpecialRequestCodes) {
  const Bytes ssl = {0x04, 0xd2, 0x16, 0x2f};
  const Bytes gss = {0x04, 0xd2, 0x16, 0x30};
  const Bytes cancel = {0x04, 0xd2, 0x16, 0x2e, 0, 0, 0x30, 0x39, 0xde, 0xad, 0xbe, 0xef};
  auto d = decode_startup(ssl);
  ASSERT_TRUE(d.packet);
  EXPECT_TRUE(std::holds_alternative<SslRequest>(*d.packet));
  d = decode_startup(gss);
  ASSERT_TRUE(d.packet);
  EXPECT_TRUE(std::holds_alternative<GssEncRequest>(*d.packet));
  d = decode_startup(cancel);
  ASSERT_TRUE(d.packet);
  const auto& c = std::get<CancelRequest>(*d.packet);
  EXPECT_EQ(c.pid, 12345);
  EXPECT_EQ(c.secret, static_cast<int32_t>(0xdeadbeefu));
}

TEST(ProtocolStartup, SpecialRequestsWithWrongSizeAreRefused) {
  EXPECT_FALSE(decode_startup(Bytes{0x04, 0xd2, 0x16, 0x2f, 0}).packet);
  EXPECT_FALSE(decode_startup(Bytes{0x04, 0xd2, 0x16, 0x30, 0, 0, 0, 0}).packet);
  EXPECT_FALSE(decode_startup(Bytes{0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1}).packet);
  EXPECT_FALSE(decode_startup(Bytes{0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2, 0}).packet);
  // An unknown 1234.x code.
  EXPECT_FALSE(decode_startup(Bytes{0x04, 0xd2, 0x16, 0x31}).packet);
  EXPECT_FALSE(decode_startup(Bytes{0x04, 0xd2}).packet);
  EXPECT_FALSE(decode_startup(Bytes{}).packet);
}

TEST(ProtocolStartup, RefusesOtherProtocolVersions) {
  const auto v2 = decode_startup(
      body({std::string_view("\x00\x02\x00\x00", 4), "user", kNul, "u", kNul, kNul}));
  EXPECT_FALSE(v2.packet);
  EXPECT_NE(v2.error.find("protocol"), std::string::npos);
  const auto v4 = decode_startup(
      body({std::string_view("\x00\x04\x00\x00", 4), "user", kNul, "u", kNul, kNul}));
  EXPECT_FALSE(v4.packet);
  // 3.2 is accepted as major 3 (minor negotiation is the caller's business).
  const auto v32 = decode_startup(
      body({std::string_view("\x00\x03\x00\x02", 4), "user", kNul, "u", kNul, kNul}));
  ASSERT_TRUE(v32.packet) << v32.error;
  EXPECT_EQ(std::get<StartupMessage>(*v32.packet).version, 196610);
}

TEST(ProtocolStartup, MissingOrEmptyUser) {
  auto d = decode_startup(body({kV3, "database", kNul, "db", kNul, kNul}));
  EXPECT_FALSE(d.packet);
  EXPECT_NE(d.error.find("user"), std::string::npos);
  d = decode_startup(body({kV3, "user", kNul, kNul, kNul}));
  EXPECT_FALSE(d.packet);
  d = decode_startup(body({kV3, kNul}));
  EXPECT_FALSE(d.packet);
}

TEST(ProtocolStartup, UnterminatedParams) {
  EXPECT_FALSE(decode_startup(body({kV3, "user"})).packet);                        // name
  EXPECT_FALSE(decode_startup(body({kV3, "user", kNul, "u"})).packet);             // value
  EXPECT_FALSE(decode_startup(body({kV3, "user", kNul, "u", kNul})).packet);       // list
  EXPECT_FALSE(decode_startup(body({kV3, "user", kNul, "u", kNul, "x"})).packet);  // name
  EXPECT_FALSE(decode_startup(body({kV3})).packet);
}

TEST(ProtocolStartup, TrailingBytesAfterTerminator) {
  const auto d =
      decode_startup(body({kV3, "user", kNul, "u", kNul, kNul, "a", kNul, "b", kNul, kNul}));
  EXPECT_FALSE(d.packet);  // an empty name followed by more parameters
  EXPECT_FALSE(decode_startup(body({kV3, "user", kNul, "u", kNul, kNul, kNul})).packet);
}

TEST(ProtocolStartup, DuplicateNames) {
  const auto d =
      decode_startup(body({kV3, "user", kNul, "a", kNul, "user", kNul, "b", kNul, kNul}));
  EXPECT_FALSE(d.packet);
  EXPECT_NE(d.error.find("duplicate"), std::string::npos);
}

TEST(ProtocolStartup, TooManyParams) {
  StartupMessage m;
  m.params.emplace_back("user", "u");
  for (size_t i = 1; i < kMaxStartupParams; ++i) m.params.emplace_back("p" + std::to_string(i), "");
  Bytes ok;
  encode_startup(ok, m);
  const auto d = decode_startup(ByteSpan(ok).subspan(4));
  ASSERT_TRUE(d.packet) << d.error;
  EXPECT_EQ(std::get<StartupMessage>(*d.packet).params.size(), kMaxStartupParams);
  m.params.emplace_back("one_more", "x");
  Bytes bad;
  encode_startup(bad, m);
  const auto e = decode_startup(ByteSpan(bad).subspan(4));
  EXPECT_FALSE(e.packet);
  EXPECT_NE(e.error.find("too many"), std::string::npos);
}

TEST(ProtocolStartup, RefusesOversizedBody) {
  Bytes in = body({kV3, "user", kNul, "u", kNul, "options", kNul});
  in.resize(in.size() + kMaxStartupPacket, 'x');
  in.push_back(0);
  in.push_back(0);
  EXPECT_FALSE(decode_startup(in).packet);
}

TEST(ProtocolStartup, EncodeRoundTrips) {
  StartupMessage m;
  m.params = {{"user", "app.acme"}, {"database", "app"}, {"options", "-c shardgate.tenant=acme"}};
  Bytes out;
  encode_startup(out, m);
  const Frame f = parse_startup_packet(out);
  ASSERT_EQ(f.status, FrameStatus::kFrame);
  EXPECT_EQ(f.size, out.size());
  const auto d = decode_startup(f.body);
  ASSERT_TRUE(d.packet) << d.error;
  const auto& back = std::get<StartupMessage>(*d.packet);
  EXPECT_EQ(back.version, kProtocolVersion3);
  EXPECT_EQ(back.params, m.params);

  Bytes ssl;
  encode_ssl_request(ssl);
  EXPECT_EQ(ssl, (Bytes{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}));

  Bytes cancel;
  encode_cancel_request(cancel, CancelRequest{12345, -2});
  EXPECT_EQ(cancel,
            (Bytes{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0x30, 0x39, 0xff, 0xff, 0xff, 0xfe}));
  const auto dc = decode_startup(parse_startup_packet(cancel).body);
  ASSERT_TRUE(dc.packet);
  EXPECT_EQ(std::get<CancelRequest>(*dc.packet).secret, -2);
}

}  // namespace
}  // namespace shardgate::protocol
