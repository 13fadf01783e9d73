// Verification of a move inside the fence: per table, the row count on both sides and, for
// tables up to kChecksumMaxBytes, an order-independent checksum of the rows' texts (the sum of
// each row's 64-bit hashtextextended). Pure pieces, exposed for unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shardgate::moves {

// Tables larger than this on the source (pg_relation_size, partitions summed) are compared by
// row count only: a checksum hashes every row while the tenant is paused (about 0.1 s per
// 16 MB on a busy 2-core machine, both shards at once).
inline constexpr int64_t kChecksumMaxBytes = int64_t{16} << 20;

struct VerifiedTable {
  std::string qualified;  // quoted schema.table
  bool checksum = false;
};

// One SELECT with a text column per table: "<count>" or "<count>/<checksum>".
std::string verification_sql(const std::vector<VerifiedTable>& tables);

// "" when the two sides agree, else why they do not ("has 3 rows on the source and 2 on the
// target", "has the same 3 rows' count on both shards but different rows (checksum ...)").
std::string verification_mismatch(const std::string& source, const std::string& target);

// The row count of a verification value.
int64_t verified_rows(const std::string& value);

}  // namespace shardgate::moves
