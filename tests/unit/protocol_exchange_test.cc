// The session's protocol state: when a server connection may be handed back.
#include "protocol/exchange.h"

#include <gtest/gtest.h>

namespace shardgate::protocol {
namespace {

TEST(Exchange, StartsIdle) {
  Exchange x;
  EXPECT_TRUE(x.idle());
  EXPECT_TRUE(x.quiet());
  EXPECT_FALSE(x.awaiting_reply());
  EXPECT_EQ(x.status(), 'I');
}

TEST(Exchange, SimpleQueryIsOutstandingUntilReady) {
  Exchange x;
  x.sent(fe::kQuery);
  EXPECT_FALSE(x.idle());
  EXPECT_TRUE(x.awaiting_reply());
  x.ready('I');
  EXPECT_TRUE(x.idle());
}

TEST(Exchange, OpenTransactionIsNotIdle) {
  Exchange x;
  x.sent(fe::kQuery);
  x.ready('T');
  EXPECT_FALSE(x.idle());
  EXPECT_TRUE(x.quiet());
  EXPECT_TRUE(x.in_transaction());
  x.sent(fe::kQuery);
  x.ready('E');
  EXPECT_EQ(x.status(), 'E');
  EXPECT_FALSE(x.idle());
  x.sent(fe::kQuery);
  x.ready('I');
  EXPECT_TRUE(x.idle());
}

TEST(Exchange, ExtendedBatchWaitsForSync) {
  Exchange x;
  for (char t : {fe::kParse, fe::kBind, fe::kDescribe, fe::kExecute}) {
    x.sent(t);
    EXPECT_TRUE(x.unsynced()) << t;
    EXPECT_FALSE(x.awaiting_reply()) << t;
    EXPECT_FALSE(x.idle()) << t;
  }
  x.sent(fe::kSync);
  EXPECT_FALSE(x.unsynced());
  EXPECT_TRUE(x.awaiting_reply());
  x.ready('I');
  EXPECT_TRUE(x.idle());
}

TEST(Exchange, PipelinedRequestsCountEachReady) {
  Exchange x;
  x.sent(fe::kQuery);
  x.sent(fe::kParse);
  x.sent(fe::kSync);
  x.sent(fe::kFunctionCall);
  EXPECT_EQ(x.requests(), 3);
  x.ready('I');
  x.ready('I');
  EXPECT_FALSE(x.idle());
  x.ready('I');
  EXPECT_TRUE(x.idle());
}

TEST(Exchange, MessagesWithoutReplyChangeNothing) {
  Exchange x;
  for (char t : {fe::kFlush, fe::kCopyData, fe::kCopyDone, fe::kTerminate}) x.sent(t);
  EXPECT_TRUE(x.idle());
}

TEST(Exchange, ResetForgetsEverything) {
  Exchange x;
  x.sent(fe::kQuery);
  x.ready('T');
  x.sent(fe::kBind);
  x.sent(fe::kQuery);
  x.reset();
  EXPECT_TRUE(x.idle());
  EXPECT_EQ(x.requests(), 0);
}

}  // namespace
}  // namespace shardgate::protocol
