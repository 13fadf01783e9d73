// Verification of a move: per table, the row count on both sides and, for tables up to
// checksum_max_bytes, an order-independent checksum of the rows' texts (the sum of each row's
// 64-bit hashtextextended). Pure pieces, exposed for unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shardgate::moves {

// Tables larger than this on the source (pg_relation_size, partitions summed) are compared by
// row count only. COPY moves verify inside their pause, where a checksum hashes every row while
// the tenant waits (about 0.1 s per 16 MB on a busy 2-core machine, both shards at once).
// ONLINE moves verify snapshots while the tenant works: their limit bounds how long each shard
// holds a snapshot open (which holds back vacuum there), about 7 s per GiB on that machine.
inline constexpr int64_t kCopyChecksumMaxBytes = int64_t{16} << 20;
inline constexpr int64_t kOnlineChecksumMaxBytes = int64_t{1} << 30;
inline constexpr int64_t checksum_max_bytes(bool copy_mode) {
  return copy_mode ? kCopyChecksumMaxBytes : kOnlineChecksumMaxBytes;
}

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
