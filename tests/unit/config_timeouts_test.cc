// Idle limits, TCP keepalive and query_wait_timeout (PgBouncer's name for pool_timeout).
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_test_helpers.h"

namespace shardgate::config {
namespace {

using std::chrono::milliseconds;
using test_helpers::error_of;
using test_helpers::parse;

TEST(ConfigTimeouts, DefaultsAreOffAndKeepaliveOn) {
  auto c = parse("");
  ASSERT_TRUE(c.ok()) << error_of(c);
  EXPECT_EQ(c->client_idle_timeout, milliseconds(0));
  EXPECT_EQ(c->idle_transaction_timeout, milliseconds(0));
  EXPECT_TRUE(c->tcp_keepalive.enabled);
  EXPECT_EQ(c->tcp_keepalive.idle, milliseconds(60000));
  EXPECT_EQ(c->tcp_keepalive.interval, milliseconds(10000));
  EXPECT_EQ(c->tcp_keepalive.count, 6);
}

TEST(ConfigTimeouts, IdleLimits) {
  auto c = parse("client_idle_timeout: 10m\nidle_transaction_timeout: 30s\n");
  ASSERT_TRUE(c.ok()) << error_of(c);
  EXPECT_EQ(c->client_idle_timeout, milliseconds(600000));
  EXPECT_EQ(c->idle_transaction_timeout, milliseconds(30000));
  auto bad = parse("idle_transaction_timeout: soon\n");
  EXPECT_NE(error_of(bad).find("t.yaml:5"), std::string::npos) << error_of(bad);
}

TEST(ConfigTimeouts, Keepalive) {
  auto off = parse("tcp_keepalive: false\n");
  ASSERT_TRUE(off.ok()) << error_of(off);
  EXPECT_FALSE(off->tcp_keepalive.enabled);
  auto tuned = parse("tcp_keepalive: { idle: 30s, interval: 5s, count: 3 }\n");
  ASSERT_TRUE(tuned.ok()) << error_of(tuned);
  EXPECT_TRUE(tuned->tcp_keepalive.enabled);
  EXPECT_EQ(tuned->tcp_keepalive.idle, milliseconds(30000));
  EXPECT_EQ(tuned->tcp_keepalive.interval, milliseconds(5000));
  EXPECT_EQ(tuned->tcp_keepalive.count, 3);
  EXPECT_NE(error_of(parse("tcp_keepalive: { idle: 200ms }\n")).find("at least 1s"),
            std::string::npos);
  EXPECT_NE(error_of(parse("tcp_keepalive: { idel: 2s }\n")).find("idel"), std::string::npos);
}

TEST(ConfigTimeouts, QueryWaitTimeoutIsPoolTimeout) {
  auto c = parse("tiers:\n  t: { query_wait_timeout: 250ms }\n");
  ASSERT_TRUE(c.ok()) << error_of(c);
  EXPECT_EQ(c->find_tier("t")->pool_timeout, milliseconds(250));
  auto both = parse("tiers:\n  t: { pool_timeout: 1s, query_wait_timeout: 2s }\n");
  EXPECT_NE(error_of(both).find("same setting"), std::string::npos) << error_of(both);
}

}  // namespace
}  // namespace shardgate::config
