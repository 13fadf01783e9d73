#include "proxy/moves/move_journal.h"

#include <gtest/gtest.h>

namespace shardgate::moves {
namespace {

TEST(MoveJournal, PhaseNamesRoundTrip) {
  for (auto phase : {MovePhase::kPlanned, MovePhase::kSchema, MovePhase::kCopy, MovePhase::kCatchup,
                     MovePhase::kCutover, MovePhase::kCleanup, MovePhase::kDone,
                     MovePhase::kRolledBack, MovePhase::kFailed})
    EXPECT_EQ(phase_from_name(phase_name(phase)), phase);
  EXPECT_FALSE(phase_from_name("copying"));
  EXPECT_TRUE(phase_final(MovePhase::kDone));
  EXPECT_TRUE(phase_final(MovePhase::kRolledBack));
  EXPECT_FALSE(phase_final(MovePhase::kFailed));
  EXPECT_FALSE(phase_final(MovePhase::kCutover));
}

TEST(MoveJournal, RecordsSurviveTheFileFormat) {
  std::map<uint64_t, MoveRecord> records;
  MoveRecord r;
  r.id = 7;
  r.tenant = "acme";
  r.from = "s1";
  r.to = "eu-2";
  r.schema = "tenant_acme";
  r.role = "tenant \"quoted\" role";
  r.phase = MovePhase::kCutover;
  r.subscription_oid = "16402";
  r.target_schema_ours = true;
  r.role_created = true;
  r.flipped = true;
  r.rows = 1000000;
  r.bytes = 123456789;
  r.pause_ms = 41.5;
  r.error = "line one\nline: two";
  records[r.id] = r;
  uint64_t next = 0;
  std::map<uint64_t, MoveRecord> back;
  ASSERT_TRUE(MoveJournal::parse(MoveJournal::format(9, records), next, back).ok());
  EXPECT_EQ(next, 9u);
  ASSERT_EQ(back.size(), 1u);
  const MoveRecord& b = back.at(7);
  EXPECT_EQ(b.tenant, "acme");
  EXPECT_EQ(b.to, "eu-2");
  EXPECT_EQ(b.role, r.role);
  EXPECT_EQ(b.phase, MovePhase::kCutover);
  EXPECT_EQ(b.subscription_oid, "16402");
  EXPECT_TRUE(b.target_schema_ours && b.role_created && b.flipped);
  EXPECT_FALSE(b.data_dropped);
  EXPECT_EQ(b.rows, 1000000);
  EXPECT_EQ(b.bytes, 123456789);
  EXPECT_DOUBLE_EQ(b.pause_ms, 41.5);
  EXPECT_EQ(b.error, r.error);
  EXPECT_EQ(b.object_name(), "sg_move_7");
  EXPECT_EQ(b.moved_schema(), "tenant_acme__moved_7");
}

TEST(MoveJournal, IdsNeverRepeatAndBadFilesAreRefused) {
  uint64_t next = 1;
  std::map<uint64_t, MoveRecord> back;
  // A journal whose counter is behind its records (hand-edited) still never reuses an id.
  ASSERT_TRUE(MoveJournal::parse("next_id: 2\nmoves:\n  - {id: 5, tenant: a, from: s1, to: s2, "
                                 "schema: tenant_a, phase: done}\n",
                                 next, back)
                  .ok());
  EXPECT_EQ(next, 6u);
  EXPECT_FALSE(MoveJournal::parse("moves: [{id: 1, phase: done}]", next, back).ok());
  EXPECT_FALSE(MoveJournal::parse("moves:\n  - {id: 1, tenant: a, from: s1, to: s2, schema: x, "
                                  "phase: flying}\n",
                                  next, back)
                   .ok());
  EXPECT_FALSE(MoveJournal::parse("next_id: [", next, back).ok());
}

}  // namespace
}  // namespace shardgate::moves
