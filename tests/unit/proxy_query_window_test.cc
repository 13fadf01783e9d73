#include "proxy/tenants/query_window.h"

#include <gtest/gtest.h>

namespace shardgate::proxy {
namespace {

constexpr int kHour = QueryWindow::kMarksPerHour;

TEST(QueryWindow, CountsEverythingUntilAnHourOfMarksExists) {
  QueryWindow w;
  for (int i = 0; i <= kHour - 1; ++i) w.mark({{"acme", 100u * i}});
  // 12 marks span 55 minutes: less than an hour, so all queries since the start count.
  EXPECT_EQ(w.last_hour("acme", 5000), 5000u);
  EXPECT_EQ(w.last_hour("nobody", 7), 7u);
}

TEST(QueryWindow, SubtractsTheMarkAnHourBeforeTheNewest) {
  QueryWindow w;
  // Mark i holds 1000 * i: a steady 1000 queries per interval.
  for (int i = 0; i <= kHour; ++i) w.mark({{"acme", 1000u * i}, {"quiet", 50}});
  // Newest mark is 12000 (i = 12); an hour before it, mark 0 held 0.
  EXPECT_EQ(w.last_hour("acme", 12500), 12500u);
  w.mark({{"acme", 13000}, {"quiet", 50}});
  // Newest is 13000; an hour before it, mark 1 held 1000.
  EXPECT_EQ(w.last_hour("acme", 13400), 12400u);
  // No queries for an hour: nothing in the window, however many came before.
  EXPECT_EQ(w.last_hour("quiet", 50), 0u);
}

TEST(QueryWindow, OldBurstsLeaveTheWindow) {
  QueryWindow w;
  w.mark({{"burst", 0}});
  w.mark({{"burst", 1'000'000}});  // a burst in the first interval
  for (int i = 0; i < 2 * kHour; ++i) w.mark({{"burst", 1'000'000 + 10u * i}});
  uint64_t now = 1'000'000 + 10u * (2 * kHour - 1);
  EXPECT_EQ(w.last_hour("burst", now), 10u * kHour);
}

TEST(QueryWindow, ATenantFirstSeenLateCountsFromZero) {
  QueryWindow w;
  for (int i = 0; i < 2 * kHour; ++i) {
    std::vector<std::pair<std::string, uint64_t>> counts{{"old", 1u * i}};
    if (i >= 2 * kHour - 3) counts.emplace_back("new", 40u * (i - (2 * kHour - 3)));
    w.mark(counts);
  }
  EXPECT_EQ(w.last_hour("new", 100), 100u);
}

TEST(QueryWindow, ATenantThatLeftStartsAfresh) {
  QueryWindow w;
  for (int i = 0; i <= kHour; ++i) w.mark({{"gone", 500}});
  w.mark({});  // it left the directory: its marks are dropped
  for (int i = 0; i <= kHour; ++i) w.mark({{"other", 1}});
  // Back with a new counter: it is not measured against the old one's marks.
  EXPECT_EQ(w.last_hour("gone", 30), 30u);
  // A counter below its baseline (state recreated between marks) counts from zero.
  w.mark({{"gone", 30}});
  for (int i = 0; i < kHour; ++i) w.mark({{"gone", 30}});
  EXPECT_EQ(w.last_hour("gone", 5), 5u);
}

}  // namespace
}  // namespace shardgate::proxy
