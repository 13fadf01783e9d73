// The `tls` block, users' require_tls and the shards' ssl* keys.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_test_helpers.h"

namespace shardgate::config {
namespace {

using test_helpers::error_of;
using test_helpers::parse;

TEST(ConfigTls, OffByDefault) {
  auto c = parse("");
  ASSERT_TRUE(c.ok()) << error_of(c);
  EXPECT_FALSE(c->tls.enabled());
  EXPECT_EQ(c->shards.at("s1").sslmode, "disable");
}

TEST(ConfigTls, CertificateMeansAllow) {
  auto c = parse("tls: { cert_file: a.crt, key_file: /k/a.key, min_version: \"1.3\" }\n");
  ASSERT_TRUE(c.ok()) << error_of(c);
  EXPECT_EQ(c->tls.mode, TlsMode::kAllow);
  EXPECT_EQ(c->tls.cert_file, "a.crt");  // relative to the config file's folder ("")
  EXPECT_EQ(c->tls.key_file, "/k/a.key");
  EXPECT_EQ(c->tls.min_version, TlsVersion::k1_3);
}

TEST(ConfigTls, ClientCaMeansRequire) {
  auto c = parse("tls: { cert_file: a.crt, key_file: a.key, ca_file: ca.crt }\n");
  ASSERT_TRUE(c.ok()) << error_of(c);
  EXPECT_EQ(c->tls.mode, TlsMode::kRequire);
  EXPECT_EQ(c->tls.ca_file, "ca.crt");
  // Said explicitly, allow stays: certificates for TLS clients, plaintext for the rest.
  auto allow = parse("tls: { cert_file: a.crt, key_file: a.key, ca_file: ca.crt, mode: allow }\n");
  ASSERT_TRUE(allow.ok()) << error_of(allow);
  EXPECT_EQ(allow->tls.mode, TlsMode::kAllow);
}

TEST(ConfigTls, RelativePathsFollowTheConfigFile) {
  auto c = parse_config(
      std::string(test_helpers::kBase) + "tls: { cert_file: certs/a.crt, key_file: a.key }\n",
      "/etc/shardgate/shardgate.yaml");
  ASSERT_TRUE(c.ok()) << error_of(c);
  EXPECT_EQ(c->tls.cert_file, "/etc/shardgate/certs/a.crt");
}

TEST(ConfigTls, RequireNeedsACertificate) {
  auto c = parse("tls: { mode: require }\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(error_of(c).find("t.yaml:5: tls"), std::string::npos) << error_of(c);
  EXPECT_NE(error_of(c).find("cert_file"), std::string::npos) << error_of(c);
}

TEST(ConfigTls, BadModeAndVersion) {
  EXPECT_NE(error_of(parse("tls: { mode: always }\n")).find("disable, allow, require"),
            std::string::npos);
  EXPECT_NE(error_of(parse("tls: { cert_file: a, key_file: b, min_version: \"1.1\" }\n"))
                .find("1.2, 1.3"),
            std::string::npos);
}

TEST(ConfigTls, RequireTlsUserNeedsTls) {
  std::string users =
      "tls: { cert_file: a.crt, key_file: a.key }\n"
      "auth:\n  users: [ { name: app, password: x, tenants: \"*\", require_tls: true } ]\n";
  auto c = parse_config("shards: { s1: { host: h } }\n" + users, "t.yaml");
  ASSERT_TRUE(c.ok()) << error_of(c);
  EXPECT_TRUE(c->users[0].require_tls);
  auto off = parse_config(
      "shards: { s1: { host: h } }\n"
      "auth:\n  users: [ { name: app, password: x, tenants: \"*\", require_tls: true } ]\n",
      "t.yaml");
  EXPECT_NE(error_of(off).find("could never connect"), std::string::npos) << error_of(off);
}

TEST(ConfigTls, ShardSslKeys) {
  auto c = parse_config(
      "shards: { s1: { host: h, sslmode: verify-full, sslrootcert: /ca.crt, sslcert: c.crt, "
      "sslkey: c.key } }\n"
      "auth: { users: [ { name: app, password: x, tenants: \"*\" } ] }\n",
      "/etc/sg/t.yaml");
  ASSERT_TRUE(c.ok()) << error_of(c);
  const ShardConfig& s = c->shards.at("s1");
  EXPECT_EQ(s.sslmode, "verify-full");
  EXPECT_EQ(s.sslrootcert, "/ca.crt");
  EXPECT_EQ(s.sslcert, "/etc/sg/c.crt");
  EXPECT_EQ(s.sslkey, "/etc/sg/c.key");
}

TEST(ConfigTls, ShardSslMistakes) {
  auto shard = [](const std::string& fields) {
    return error_of(parse_config("shards: { s1: { host: h, " + fields +
                                     " } }\nauth: { users: [ { name: a, password: x, "
                                     "tenants: \"*\" } ] }\n",
                                 "t.yaml"));
  };
  EXPECT_NE(shard("sslmode: verify-ca").find("sslrootcert"), std::string::npos);
  EXPECT_NE(shard("sslmode: require, sslcert: c.crt").find("both sslcert and sslkey"),
            std::string::npos);
  EXPECT_NE(shard("sslrootcert: ca.crt").find("never be used"), std::string::npos);
  EXPECT_NE(shard("sslmode: maybe").find("verify-full"), std::string::npos);
}

}  // namespace
}  // namespace shardgate::config
