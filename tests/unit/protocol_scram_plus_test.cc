// SCRAM-SHA-256-PLUS (tls-server-end-point channel binding) on the server side.
#include <gtest/gtest.h>

#include <string>

#include "protocol/auth.h"

namespace shardgate::protocol {
namespace {

const std::string kBinding("\x01\x02\x03 certificate hash \xff", 22);

ScramVerifier verifier() { return make_scram_verifier("pencil", "salt-bytes-16...", 4096); }

// Runs a whole exchange between a client binding to `client_binding` (empty = plain SCRAM)
// and a server holding `server_binding` (empty = no TLS) that saw mechanism `plus`.
bool exchange(const std::string& client_binding, const std::string& server_binding, bool plus,
              std::string* error) {
  ScramServer server(verifier(), scram_nonce(), server_binding, plus);
  ScramClient client("pencil", scram_nonce(), client_binding);
  const auto sf = server.client_first(client.client_first(), error);
  if (!sf) return false;
  const auto cf = client.server_first(*sf, error);
  if (!cf) return false;
  const auto fin = server.client_final(*cf, error);
  if (!fin) return false;
  return client.server_final(*fin, error);
}

TEST(ProtocolScramPlus, BoundExchangeSucceeds) {
  std::string error;
  EXPECT_TRUE(exchange(kBinding, kBinding, true, &error)) << error;
}

TEST(ProtocolScramPlus, OtherCertificateFails) {
  // A man in the middle terminates TLS with its own certificate: the hashes differ.
  std::string error;
  EXPECT_FALSE(exchange(kBinding, "another certificate hash", true, &error));
  EXPECT_EQ(error, "SCRAM channel binding check failed");
}

TEST(ProtocolScramPlus, PlainScramStillAcceptedOverTls) {
  std::string error;
  EXPECT_TRUE(exchange("", kBinding, false, &error)) << error;
}

TEST(ProtocolScramPlus, PlusWithoutBindingRefused) {
  std::string error;
  EXPECT_FALSE(exchange("", kBinding, true, &error));
  EXPECT_EQ(error, "client selected SCRAM-SHA-256-PLUS without channel binding");
}

TEST(ProtocolScramPlus, BindingWithPlainMechanismRefused) {
  std::string error;
  EXPECT_FALSE(exchange(kBinding, kBinding, false, &error));
  EXPECT_NE(error.find("select SCRAM-SHA-256-PLUS"), std::string::npos) << error;
}

TEST(ProtocolScramPlus, BindingWithoutTlsRefused) {
  std::string error;
  EXPECT_FALSE(exchange(kBinding, "", true, &error));
  EXPECT_NE(error.find("only offered over TLS"), std::string::npos) << error;
}

TEST(ProtocolScramPlus, YFlagOverTlsIsADowngrade) {
  ScramServer server(verifier(), scram_nonce(), kBinding, false);
  std::string error;
  EXPECT_FALSE(server.client_first("y,,n=,r=abc", &error));
  EXPECT_EQ(error, "SCRAM channel binding was offered but the client did not use it");
  ScramServer no_tls(verifier(), scram_nonce());
  EXPECT_TRUE(no_tls.client_first("y,,n=,r=abc", &error)) << error;
}

TEST(ProtocolScramPlus, OnlyTlsServerEndPoint) {
  ScramServer server(verifier(), scram_nonce(), kBinding, true);
  std::string error;
  EXPECT_FALSE(server.client_first("p=tls-unique,,n=,r=abc", &error));
  EXPECT_NE(error.find("tls-server-end-point only"), std::string::npos) << error;
  for (std::string_view bad : {"p", "p,", "p=", "p=tls-server-end-point", "p=,,n=,r=a"}) {
    ScramServer s(verifier(), scram_nonce(), kBinding, true);
    EXPECT_FALSE(s.client_first(bad, &error)) << bad;
  }
}

}  // namespace
}  // namespace shardgate::protocol
