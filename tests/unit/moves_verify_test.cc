#include <gtest/gtest.h>

#include "proxy/moves/move_verify.h"
#include "proxy/moves/pg_link.h"

namespace shardgate::moves {
namespace {

TEST(MoveVerify, ChecksumsOnlyTheTablesMarkedForIt) {
  std::string sql = verification_sql({{"\"s\".\"small\"", true}, {"\"s\".\"big\"", false}});
  EXPECT_EQ(sql.rfind("SELECT ", 0), 0u);
  auto small = sql.find("\"s\".\"small\"");
  auto big = sql.find("\"s\".\"big\"");
  ASSERT_NE(small, std::string::npos);
  ASSERT_NE(big, std::string::npos);
  EXPECT_NE(sql.substr(0, small).find("hashtextextended(ROW(sg_row.*)::text, 0)"),
            std::string::npos);
  EXPECT_EQ(sql.substr(small).find("hashtextextended"), std::string::npos);
  EXPECT_NE(sql.substr(small).find("count(*)::text"), std::string::npos);
}

TEST(MoveVerify, MismatchSaysCountsOrChecksum) {
  EXPECT_EQ(verification_mismatch("3/123", "3/123"), "");
  EXPECT_EQ(verification_mismatch("3", "3"), "");
  EXPECT_EQ(verification_mismatch("3/123", "2/99"), "has 3 rows on the source and 2 on the target");
  EXPECT_EQ(verification_mismatch("5", "4"), "has 5 rows on the source and 4 on the target");
  std::string why = verification_mismatch("3/123", "3/-7");
  EXPECT_NE(why.find("has 3 rows on both shards but they differ"), std::string::npos) << why;
  EXPECT_NE(why.find("123 on the source, -7 on the target"), std::string::npos) << why;
  EXPECT_EQ(verified_rows("42/-17"), 42);
  EXPECT_EQ(verified_rows("42"), 42);
  EXPECT_EQ(verified_rows(""), 0);
}

TEST(MoveVerify, ChecksumLimitIsSmallOnlyInsideThePause) {
  EXPECT_EQ(checksum_max_bytes(true), 16 * 1024 * 1024);   // COPY: hashed while paused
  EXPECT_EQ(checksum_max_bytes(false), int64_t{1} << 30);  // ONLINE: hashed while working
}

TEST(PgLinkConninfo, SubscriptionCarriesTheShardsTls) {
  config::ShardConfig shard;
  shard.name = "s1";
  shard.host = "db.example";
  shard.port = 5433;
  shard.dbname = "app";
  shard.user = "pool";
  shard.password = "it's";
  shard.sslmode = "verify-full";
  shard.sslrootcert = "/etc/ca.pem";
  std::string info = control_conninfo(shard);
  EXPECT_NE(info.find("password='it\\'s'"), std::string::npos) << info;
  EXPECT_NE(info.find(" sslmode='verify-full'"), std::string::npos) << info;
  EXPECT_NE(info.find(" sslrootcert='/etc/ca.pem'"), std::string::npos) << info;
  shard.sslcert = "/etc/me.crt";
  shard.sslkey = "/etc/me.key";
  // The target's server makes this connection: shardgate's private key stays out of it.
  EXPECT_EQ(control_conninfo(shard).find("sslkey"), std::string::npos);
  EXPECT_EQ(control_conninfo(shard).find("sslcert"), std::string::npos);
  shard.sslrootcert.clear();
  EXPECT_EQ(control_conninfo(shard).find("sslrootcert"), std::string::npos);
}

TEST(MoveConninfo, PgDumpGetsTheShardsTlsSettingsAsLibpqEnvironment) {
  config::ShardConfig shard;
  shard.sslmode = "verify-full";
  shard.sslrootcert = "/etc/ca.pem";
  shard.sslcert = "/etc/me.crt";
  shard.sslkey = "/etc/me.key";
  EXPECT_EQ(libpq_tls_env(shard),
            (std::vector<std::string>{"PGSSLMODE=verify-full", "PGSSLROOTCERT=/etc/ca.pem",
                                      "PGSSLCERT=/etc/me.crt", "PGSSLKEY=/etc/me.key"}));
  // The default, disable, is passed too: without it pg_dump would use libpq's prefer.
  EXPECT_EQ(libpq_tls_env(config::ShardConfig{}), (std::vector<std::string>{"PGSSLMODE=disable"}));
}

}  // namespace
}  // namespace shardgate::moves
