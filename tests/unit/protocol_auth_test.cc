#include <gtest/gtest.h>

#include <string>

#include "protocol/auth.h"

namespace shardgate::protocol {
namespace {

// What PostgreSQL 15 stored for `SET password_encryption = 'scram-sha-256';
// CREATE ROLE x PASSWORD 'pencil'` (SELECT rolpassword FROM pg_authid).
constexpr std::string_view kPgPencilVerifier =
    "SCRAM-SHA-256$4096:9KTbF1i3WUyhDMg5tgi5kQ==$kxWJ4E8/3ami1ZLpWI2W7ppiHYZjZZMtzd5g3TLrjk4=:"
    "ltpSL3IhyA8la/vLz6uUxnLKLjObRD/btvN0mwM8VR8=";

// RFC 7677 section 3 test vector.
constexpr std::string_view kRfcClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
// Raw bytes of base64 "W22ZaJ0SNY7soEsUEjb6gQ==".
const std::string kRfcSalt("\x5b\x6d\x99\x68\x9d\x12\x35\x8e\xec\xa0\x4b\x14\x12\x36\xfa\x81", 16);

// Runs a whole exchange; returns true when both sides accept.
bool exchange(const ScramVerifier& v, const std::string& password, std::string* error) {
  ScramServer server(v, scram_nonce());
  ScramClient client(password, scram_nonce());
  const auto sf = server.client_first(client.client_first(), error);
  if (!sf) return false;
  const auto cf = client.server_first(*sf, error);
  if (!cf) return false;
  const auto fin = server.client_final(*cf, error);
  if (!fin) return false;
  return client.server_final(*fin, error);
}

TEST(ProtocolScram, ParsesPostgresVerifier) {
  const auto v = parse_scram_verifier(kPgPencilVerifier);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->iterations, 4096);
  EXPECT_EQ(v->salt.size(), 16u);
  EXPECT_EQ(format_scram_verifier(*v), kPgPencilVerifier);
}

TEST(ProtocolScram, MakeVerifierMatchesPostgres) {
  const auto pg = parse_scram_verifier(kPgPencilVerifier);
  ASSERT_TRUE(pg);
  const ScramVerifier mine = make_scram_verifier("pencil", pg->salt, 4096);
  EXPECT_EQ(mine.stored_key, pg->stored_key);
  EXPECT_EQ(mine.server_key, pg->server_key);
  EXPECT_EQ(format_scram_verifier(mine), kPgPencilVerifier);
  const ScramVerifier other = make_scram_verifier("pencil2", pg->salt, 4096);
  EXPECT_NE(other.stored_key, pg->stored_key);
}

TEST(ProtocolScram, ExchangeAgainstPostgresVerifier) {
  const auto v = parse_scram_verifier(kPgPencilVerifier);
  ASSERT_TRUE(v);
  std::string error;
  EXPECT_TRUE(exchange(*v, "pencil", &error)) << error;
  error.clear();
  EXPECT_FALSE(exchange(*v, "pencil ", &error));
  EXPECT_EQ(error, "password authentication failed");
  EXPECT_FALSE(exchange(*v, "", &error));
}

TEST(ProtocolScram, RejectsMalformedVerifiers) {
  for (std::string_view bad : {
           "",
           "SCRAM-SHA-256$",
           "SCRAM-SHA-1$4096:c2FsdA==$AAAA:AAAA",
           "SCRAM-SHA-256$0:9KTbF1i3WUyhDMg5tgi5kQ==$kxWJ4E8/3ami1ZLpWI2W7ppiHYZjZZMtzd5g3TLrjk4=:"
           "ltpSL3IhyA8la/vLz6uUxnLKLjObRD/btvN0mwM8VR8=",
           "SCRAM-SHA-256$-1:9KTbF1i3WUyhDMg5tgi5kQ==$kxWJ4E8/3ami1ZLpWI2W7ppiHYZjZZMtzd5g3TLrjk4=:"
           "ltpSL3IhyA8la/vLz6uUxnLKLjObRD/btvN0mwM8VR8=",
           "SCRAM-SHA-256$4096:$kxWJ4E8/3ami1ZLpWI2W7ppiHYZjZZMtzd5g3TLrjk4=:"
           "ltpSL3IhyA8la/vLz6uUxnLKLjObRD/btvN0mwM8VR8=",
           // StoredKey one byte short.
           "SCRAM-SHA-256$4096:9KTbF1i3WUyhDMg5tgi5kQ==$kxWJ4E8/"
           "3ami1ZLpWI2W7ppiHYZjZZMtzd5g3TLrjg==:"
           "ltpSL3IhyA8la/vLz6uUxnLKLjObRD/btvN0mwM8VR8=",
           // Whitespace inside base64.
           "SCRAM-SHA-256$4096:9KTbF1i3WUyhDMg5tgi5kQ==$kxWJ4E8/3ami1ZLpWI2W7ppiHYZjZZMt "
           "d5g3TLrjk4=:"
           "ltpSL3IhyA8la/vLz6uUxnLKLjObRD/btvN0mwM8VR8=",
           "SCRAM-SHA-256$4096:9KTbF1i3WUyhDMg5tgi5kQ==$kxWJ4E8/"
           "3ami1ZLpWI2W7ppiHYZjZZMtzd5g3TLrjk4=",
           "md5a99489f2ba8d41137689bf5947f835e0",
       }) {
    EXPECT_FALSE(parse_scram_verifier(bad)) << bad;
  }
}

TEST(ProtocolScram, Rfc7677ServerKnownAnswer) {
  ScramServer server(make_scram_verifier("pencil", kRfcSalt, 4096), std::string(kRfcServerNonce));
  std::string error;
  const auto sf = server.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &error);
  ASSERT_TRUE(sf) << error;
  EXPECT_EQ(*sf, kRfcServerFirst);
  const auto fin = server.client_final(kRfcClientFinal, &error);
  ASSERT_TRUE(fin) << error;
  EXPECT_EQ(*fin, kRfcServerFinal);
}

TEST(ProtocolScram, Rfc7677ClientKnownAnswer) {
  // ScramClient sends an empty username as PostgreSQL clients do ("n=" instead of the RFC's
  // "n=user"), which changes AuthMessage; the proof and signature below were computed for
  // "n=" with Python's hashlib/hmac, whose output for "n=user" reproduces the RFC exactly.
  ScramClient client("pencil", std::string(kRfcClientNonce));
  EXPECT_EQ(client.client_first(), "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
  std::string error;
  const auto cf = client.server_first(kRfcServerFirst, &error);
  ASSERT_TRUE(cf) << error;
  EXPECT_EQ(*cf,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k=");
  EXPECT_TRUE(client.server_final("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=", &error))
      << error;
  EXPECT_FALSE(client.server_final(kRfcServerFinal, &error));
  EXPECT_EQ(error, "incorrect server signature");
}

class ProtocolScramServerInput : public ::testing::Test {
 protected:
  ProtocolScramServerInput()
      : server_(make_scram_verifier("pencil", kRfcSalt, 4096), std::string(kRfcServerNonce)) {}
  ScramServer server_;
  std::string error_;
};

TEST_F(ProtocolScramServerInput, ChannelBindingFlags) {
  EXPECT_TRUE(server_.client_first("y,,n=,r=abc", &error_)) << error_;
  // With 'y' the client must echo "y,," (base64 "eSws") in c=.
  EXPECT_FALSE(
      server_.client_final("c=biws,r=abc" + std::string(kRfcServerNonce) + ",p=AAAA", &error_));
  EXPECT_EQ(error_, "SCRAM channel binding check failed");

  ScramServer s2(make_scram_verifier("pencil", kRfcSalt, 4096), std::string(kRfcServerNonce));
  EXPECT_FALSE(s2.client_first("p=tls-server-end-point,,n=,r=abc", &error_));
  EXPECT_NE(error_.find("PLUS"), std::string::npos);
}

TEST_F(ProtocolScramServerInput, YFlagReachesProofCheck) {
  ASSERT_TRUE(server_.client_first("y,,n=,r=cnonce", &error_)) << error_;
  // The right binding ("y,,") gets past the channel-binding check to the proof check.
  EXPECT_FALSE(server_.client_final("c=eSws,r=cnonce" + std::string(kRfcServerNonce) +
                                        ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                                    &error_));
  EXPECT_EQ(error_, "password authentication failed");
}

TEST_F(ProtocolScramServerInput, MalformedClientFirst) {
  for (std::string_view bad : {
           "",
           "n",
           "n,",
           "x,,n=,r=a",
           "n,,",
           "n,,n=",
           "n,,r=abc",
           "n,,n=,r=",
           "n,,n=,x=abc",
           "n,,m=ext,n=,r=abc",
           "n,a=admin,n=,r=abc",
           "n,,n=,r=ab,c",
           "n,,n=,r=a b",
           "n,,n=,r=abc,",
           "n,,n=,r=abc,1=x",
       }) {
    ScramServer s(make_scram_verifier("x", "salt", 1), "snonce");
    std::string error;
    EXPECT_FALSE(s.client_first(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  EXPECT_FALSE(server_.client_first(std::string(5000, 'n'), &error_));
}

TEST_F(ProtocolScramServerInput, MalformedClientFinal) {
  const std::string nonce = "abc" + std::string(kRfcServerNonce);
  for (const std::string& bad : {
           std::string(""),
           std::string("c=biws"),
           "c=biws,r=" + nonce,
           "c=biws,r=" + nonce + ",p=",
           "c=biws,r=" + nonce + ",p=AAAA",
           std::string("c=biws,r=wrong,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
           "c=eSws,r=" + nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
           "c=bi,r=" + nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
           "r=" + nonce + ",c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
           "c=biws,r=" + nonce + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
           "c=biws,r=" + nonce + ",,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
       }) {
    ScramServer s(make_scram_verifier("pencil", kRfcSalt, 4096), std::string(kRfcServerNonce));
    std::string error;
    ASSERT_TRUE(s.client_first("n,,n=,r=abc", &error)) << error;
    EXPECT_FALSE(s.client_final(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST_F(ProtocolScramServerInput, StateMachineOrder) {
  EXPECT_FALSE(server_.client_final(kRfcClientFinal, &error_));  // before client-first
  ASSERT_TRUE(server_.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &error_));
  EXPECT_FALSE(server_.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &error_));  // twice
  EXPECT_TRUE(server_.client_final(kRfcClientFinal, &error_)) << error_;
  EXPECT_FALSE(server_.client_final(kRfcClientFinal, &error_));  // replay
  EXPECT_FALSE(server_.client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &error_));
}

TEST(ProtocolScramClient, RejectsBadServerFirst) {
  for (std::string_view bad : {
           "",
           "r=cnonce",
           "r=cnonce,s=c2FsdA==",
           "r=cnonceS,s=c2FsdA==,i=0",
           "r=cnonceS,s=c2FsdA==,i=-1",
           "r=cnonceS,s=c2FsdA==,i=99999999999",
           "r=cnonceS,s=c2FsdA==,i=4096x",
           "r=cnonce,s=c2FsdA==,i=4096",  // no server part
           "r=other123,s=c2FsdA==,i=4096",
           "r=cnonceS,s=,i=4096",
           "r=cnonceS,s=c2Fsd,i=4096",
           "r=cnonceS,s=c2FsdA==,i=4096,x=1",
           "m=ext,r=cnonceS,s=c2FsdA==,i=4096",
           "s=c2FsdA==,r=cnonceS,i=4096",
       }) {
    ScramClient c("pw", "cnonce");
    std::string error;
    EXPECT_FALSE(c.server_first(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(ProtocolScramClient, ServerFinalChecks) {
  ScramClient c("pencil", std::string(kRfcClientNonce));
  std::string error;
  EXPECT_FALSE(c.server_final("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &error));
  ASSERT_TRUE(c.server_first(kRfcServerFirst, &error)) << error;
  EXPECT_FALSE(c.server_first(kRfcServerFirst, &error));  // only once
  EXPECT_FALSE(c.server_final("e=invalid-proof", &error));
  EXPECT_NE(error.find("invalid-proof"), std::string::npos);
  EXPECT_FALSE(c.server_final("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=,x=1", &error));
  EXPECT_FALSE(c.server_final("v=3HO6Qt1M4MKJrmlKaoOqLAI0", &error));
  EXPECT_FALSE(c.server_final("", &error));
  EXPECT_TRUE(c.server_final("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=", &error));
}

TEST(ProtocolScram, NonceAndRandom) {
  const std::string a = scram_nonce();
  const std::string b = scram_nonce();
  EXPECT_EQ(a.size(), 24u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find(','), std::string::npos);
  uint8_t buf[64] = {};
  random_bytes(buf, sizeof buf);
  int nonzero = 0;
  for (uint8_t x : buf) nonzero += x != 0;
  EXPECT_GT(nonzero, 0);
}

TEST(ProtocolScram, VerifierRoundTripWithRandomSalt) {
  uint8_t salt[16];
  random_bytes(salt, sizeof salt);
  const ScramVerifier v =
      make_scram_verifier("s3cret", std::string(reinterpret_cast<char*>(salt), 16), 4096);
  const auto parsed = parse_scram_verifier(format_scram_verifier(v));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->salt, v.salt);
  EXPECT_EQ(parsed->stored_key, v.stored_key);
  EXPECT_EQ(parsed->server_key, v.server_key);
  std::string error;
  EXPECT_TRUE(exchange(*parsed, "s3cret", &error)) << error;
}

TEST(ProtocolMd5, StoredHashMatchesPostgres) {
  // PostgreSQL 15 with password_encryption = md5 stores md5(password || user).
  EXPECT_EQ(md5_stored_hash("postgres", "secret"), "md553f48b7c4b76a86ce72276c5755f217d");
  EXPECT_EQ(md5_stored_hash("postgres2", "secret"), "md5a99489f2ba8d41137689bf5947f835e0");
}

TEST(ProtocolMd5, ResponseKnownAnswer) {
  const std::array<uint8_t, 4> salt = {1, 2, 3, 4};
  EXPECT_EQ(md5_password_response("postgres", "secret", salt),
            "md5bb41a296aab6baccb36ff243a562abff");
  EXPECT_EQ(md5_response_from_hash("md553f48b7c4b76a86ce72276c5755f217d", salt),
            "md5bb41a296aab6baccb36ff243a562abff");
  EXPECT_EQ(md5_response_from_hash("md553f48b7c4b76a86ce72276c5755f217", salt), "");
  EXPECT_EQ(md5_response_from_hash("sha53f48b7c4b76a86ce72276c5755f217d", salt), "");
  EXPECT_EQ(md5_response_from_hash("md553F48b7c4b76a86ce72276c5755f217d", salt), "");
}

// The check the proxy makes of a client's md5 answer. When no answer can be computed (here a
// malformed stored hash; in production MD5 missing from a FIPS-only provider) nothing
// matches, not even an empty answer, which an empty expectation would otherwise equal.
TEST(ProtocolMd5, ResponseMatches) {
  const std::array<uint8_t, 4> salt = {1, 2, 3, 4};
  const std::string stored = "md553f48b7c4b76a86ce72276c5755f217d";
  EXPECT_TRUE(md5_response_matches("md5bb41a296aab6baccb36ff243a562abff", stored, salt));
  EXPECT_FALSE(md5_response_matches("md5bb41a296aab6baccb36ff243a562abfe", stored, salt));
  EXPECT_FALSE(md5_response_matches("md5bb41a296aab6baccb36ff243a562abff", stored, {1, 2, 3, 5}));
  EXPECT_FALSE(md5_response_matches("", "md553f48b7c4b76a86ce72276c5755f217", salt));
  EXPECT_FALSE(md5_response_matches("", "", salt));
}

TEST(ProtocolMd5, SecureEqual) {
  EXPECT_TRUE(secure_equal("", ""));
  EXPECT_TRUE(secure_equal("abc", "abc"));
  EXPECT_FALSE(secure_equal("abc", "abd"));
  EXPECT_FALSE(secure_equal("abc", "ab"));
}

}  // namespace
}  // namespace shardgate::protocol
