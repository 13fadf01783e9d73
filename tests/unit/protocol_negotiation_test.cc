// The pre-startup negotiation: answers to SSLRequest / GSSENCRequest and direct TLS.
#include <gtest/gtest.h>

#include "protocol/negotiation.h"

namespace shardgate::protocol {
namespace {

const StartupPacket kSsl = SslRequest{};
const StartupPacket kGss = GssEncRequest{};
const StartupPacket kStartupMsg = StartupMessage{};

TEST(ProtocolNegotiation, SslAcceptedWhenTlsAvailable) {
  NegotiationState s;
  EXPECT_EQ(negotiate(kSsl, s, true, false).action, Negotiated::kAcceptTls);
  EXPECT_TRUE(s.tls);
  // Inside TLS: the startup packet, and no second negotiation.
  EXPECT_EQ(negotiate(kStartupMsg, s, true, false).action, Negotiated::kStartup);
  EXPECT_EQ(negotiate(kSsl, s, true, false).action, Negotiated::kRefuse);
  EXPECT_EQ(negotiate(kGss, s, true, false).action, Negotiated::kRefuse);
}

TEST(ProtocolNegotiation, SslDeclinedWithoutTls) {
  NegotiationState s;
  EXPECT_EQ(negotiate(kSsl, s, false, false).action, Negotiated::kDeclineTls);
  EXPECT_FALSE(s.tls);
  EXPECT_EQ(negotiate(kSsl, s, false, false).action, Negotiated::kRefuse);  // asked twice
}

TEST(ProtocolNegotiation, GssDeclinedThenSsl) {
  NegotiationState s;
  EXPECT_EQ(negotiate(kGss, s, true, false).action, Negotiated::kDeclineGss);
  EXPECT_EQ(negotiate(kSsl, s, true, false).action, Negotiated::kAcceptTls);
}

TEST(ProtocolNegotiation, BytesAfterSslRequestRefused) {
  // Plaintext sent behind SSLRequest would otherwise be read as if it came over TLS.
  NegotiationState s;
  auto step = negotiate(kSsl, s, true, true);
  EXPECT_EQ(step.action, Negotiated::kRefuse);
  EXPECT_FALSE(step.error.empty());
}

TEST(ProtocolNegotiation, DirectTlsFirstBytes) {
  const uint8_t hello[] = {0x16, 0x03, 0x01};
  const uint8_t startup[] = {0x00, 0x00, 0x00, 0x08};
  NegotiationState s;
  EXPECT_EQ(classify_first_bytes({}, s, true).action, Negotiated::kNeedMore);
  EXPECT_EQ(classify_first_bytes(hello, s, true).action, Negotiated::kDirectTls);
  EXPECT_EQ(classify_first_bytes(hello, s, false).action, Negotiated::kClose);
  EXPECT_EQ(classify_first_bytes(startup, s, true).action, Negotiated::kStartup);
  s.gss_requested = true;  // direct TLS only as the very first thing
  EXPECT_EQ(classify_first_bytes(hello, s, true).action, Negotiated::kRefuse);
}

}  // namespace
}  // namespace shardgate::protocol
