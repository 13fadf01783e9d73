// One libpq connection of a move to a shard, with its pool credential or its control
// credential (shards.<s>.admin_user). Blocking: used only on a move's own thread.
#pragma once

#include <libpq-fe.h>

#include <functional>
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
  // The rows of the last statement of `sql`. With `keep_going`, asked every 100 ms while the
  // server works: false sends a cancel request (the result is then the server's error).
  absl::StatusOr<std::vector<Row>> rows(const std::string& sql,
                                        const std::function<bool()>& keep_going = {});
  // The first column of the first row ("" when there is none or it is NULL).
  absl::StatusOr<std::string> scalar(const std::string& sql);
  // Streams the rows of `copy_out` (a COPY ... TO STDOUT run here) into `copy_in` (a COPY ...
  // FROM STDIN run on `into`) one CopyData message at a time, never holding a whole table.
  // `keep_going` is called after every message with the bytes so far; false stops the copy
  // (both sides' COPY end with an error, so nothing of it commits). Returns the rows the
  // target took.
  absl::StatusOr<int64_t> copy_into(PgLink& into, const std::string& copy_out,
                                    const std::string& copy_in,
                                    const std::function<bool(int64_t bytes)>& keep_going);
  bool alive() const;
  const std::string& shard() const { return shard_; }

 private:
  PgLink(PGconn* conn, std::string shard) : conn_(conn, &PQfinish), shard_(std::move(shard)) {}
  absl::Status error(const std::string& what) const;  // PQerrorMessage, naming the shard
  // Collects the results of the command in progress; its error, or its PQcmdTuples.
  absl::StatusOr<int64_t> finish_command();
  // Sends a COPY and waits for the server to enter COPY IN (`copy_in`) or COPY OUT.
  absl::Status start_copy(const std::string& sql, bool copy_in);
  // Waits until the command in progress has its result, asking `keep_going` every 100 ms;
  // false sends a cancel request (the result is then the server's error).
  void await_result(const std::function<bool()>& keep_going);
  // Asks the server to cancel what this connection is running.
  void cancel_request();
  // Ends a COPY TO STDOUT early: a cancel request, then its remaining data is discarded.
  void abandon_copy_out();
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
  std::string shard_;
};

// Run on every connection a move opens, so rows render as the same text on both shards (the
// verification's checksums compare row texts); and a move's own commits (the cutover's
// marker) are flushed at once even where the server commits asynchronously: logical
// replication sends only flushed WAL, so an unflushed marker would wait for the WAL writer
// (wal_writer_delay, 200 ms by default) while the tenant is paused.
inline constexpr const char* kSessionSettings =
    "SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 3; SET bytea_output = 'hex'; SET lc_monetary = 'C'; "
    "SET synchronous_commit = on";

// The shard's TLS settings as libpq keywords (sslmode, sslrootcert, sslcert, sslkey), only
// those set: the one list every connection of a move follows, as the pools do. `client_cert`
// false leaves out sslcert and sslkey (a subscription's connection is made by the target's
// server, which cannot be handed shardgate's private key).
std::vector<std::pair<std::string, std::string>> libpq_tls(const config::ShardConfig& shard,
                                                           bool client_cert = true);
// The same settings as the environment libpq reads ("PGSSLMODE=verify-full", ...), for
// pg_dump.
std::vector<std::string> libpq_tls_env(const config::ShardConfig& shard);

// libpq connection-string form of one value: 'value' with \ and ' escaped.
std::string conninfo_value(const std::string& value);

// The connection string a subscription on another server uses to reach `shard` with its
// control credential.
std::string control_conninfo(const config::ShardConfig& shard);

}  // namespace shardgate::moves
