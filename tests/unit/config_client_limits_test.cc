// config/: the process-wide client limits, max_client_conn and client_login_timeout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"
#include "tests/unit/config_test_helpers.h"

namespace shardgate::config {
namespace {

using ::testing::HasSubstr;

using test_helpers::error_of;
using test_helpers::parse;

TEST(ConfigClientLimits, Defaults) {
  auto c = parse("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->max_client_conn.has_value());  // auto: from the open-file limit
  EXPECT_EQ(c->client_login_timeout, Duration(60000));
}

TEST(ConfigClientLimits, ExplicitValues) {
  auto c = parse("max_client_conn: 3\nclient_login_timeout: 1s\n");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->max_client_conn.has_value());
  EXPECT_EQ(*c->max_client_conn, 3);
  EXPECT_EQ(c->client_login_timeout, Duration(1000));
}

TEST(ConfigClientLimits, AutoAndZeroTimeout) {
  auto c = parse("max_client_conn: auto\nclient_login_timeout: 0\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->max_client_conn.has_value());
  EXPECT_EQ(c->client_login_timeout, Duration(0));  // 0 = no limit
}

TEST(ConfigClientLimits, LargeLimit) {
  auto c = parse("max_client_conn: 100000\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c->max_client_conn, 100000);
}

TEST(ConfigClientLimits, Errors) {
  EXPECT_THAT(error_of(parse("max_client_conn: 0\n")),
              HasSubstr("t.yaml:5: max_client_conn: 0 is out of range (1..10000000)"));
  EXPECT_THAT(error_of(parse("max_client_conn: -4\n")),
              HasSubstr("t.yaml:5: max_client_conn: -4 is out of range"));
  EXPECT_THAT(error_of(parse("max_client_conn: many\n")),
              HasSubstr("t.yaml:5: max_client_conn: \"many\" is not a whole number or auto"));
  EXPECT_THAT(error_of(parse("max_client_conn: [1]\n")), HasSubstr("t.yaml:5: max_client_conn:"));
  EXPECT_THAT(error_of(parse("client_login_timeout: soon\n")),
              HasSubstr("t.yaml:5: client_login_timeout: \"soon\" is not a duration"));
  EXPECT_THAT(error_of(parse("max_client_con: 5\n")),
              HasSubstr("unknown key \"max_client_con\" (did you mean \"max_client_conn\"?)"));
}

}  // namespace
}  // namespace shardgate::config
