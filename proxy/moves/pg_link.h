// One libpq connection of a move to a shard, with its pool credential or its control
// credential (shards.<s>.admin_user). Blocking: used only on a move's own thread.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace shardgate::moves {

using Row = std::vector<std::optional<std::string>>;

class PgLink {
 public:
  enum class Credential { kPool, kControl };

  // Connects; the error names the shard and says why.
  static absl::StatusOr<PgLink> open(const config::ShardConfig& shard, Credential credential,
                                     config::Duration connect_timeout);

  // Runs `sql` (several statements allowed); the error carries the server's message and
  // SQLSTATE.
  absl::Status exec(const std::string& sql);
  // The rows of the last statement of `sql`.
  absl::StatusOr<std::vector<Row>> rows(const std::string& sql);
  // The first column of the first row ("" when there is none or it is NULL).
  absl::StatusOr<std::string> scalar(const std::string& sql);
  bool alive() const;
  const std::string& shard() const { return shard_; }

 private:
  PgLink(PGconn* conn, std::string shard) : conn_(conn, &PQfinish), shard_(std::move(shard)) {}
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
  std::string shard_;
};

// libpq connection-string form of one value: 'value' with \ and ' escaped.
std::string conninfo_value(const std::string& value);

// The connection string a subscription on another server uses to reach `shard` with its
// control credential.
std::string control_conninfo(const config::ShardConfig& shard);

}  // namespace shardgate::moves
