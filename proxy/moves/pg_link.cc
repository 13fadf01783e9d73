#include "proxy/moves/pg_link.h"

#include <poll.h>

#include <algorithm>
#include <cctype>

namespace shardgate::moves {

namespace {

// libpq's message on one line ("...refused\n\tIs the server running..." becomes "...refused;
// Is the server running..."): it ends up in SHOW MOVES, the journal and the log.
std::string one_line(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\n') {
      out += s[i];
      continue;
    }
    while (i + 1 < s.size() && (s[i + 1] == '\t' || s[i + 1] == ' ' || s[i + 1] == '\n')) ++i;
    out += "; ";
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

// The server's message and SQLSTATE of a failed result.
std::string result_error(const PGresult* r) {
  const char* msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return std::string(msg ? msg : "unknown error") +
         (state ? std::string(" (SQLSTATE ") + state + ")" : "");
}

constexpr int64_t kRowsUnknown = -1;

}  // namespace

absl::StatusOr<PgLink> PgLink::open(const config::ShardConfig& shard, Credential credential,
                                    config::Duration connect_timeout) {
  std::string port = std::to_string(shard.port);
  std::string timeout =
      std::to_string(std::max<int64_t>(1, (connect_timeout.count() + 999) / 1000));
  bool control = credential == Credential::kControl;
  const std::string& user = control ? shard.control_user() : shard.user;
  const std::string& password = control ? shard.control_password() : shard.password;
  std::vector<const char*> keys = {
      "host", "port", "dbname", "user", "password", "connect_timeout", "application_name"};
  std::vector<const char*> values = {shard.host.c_str(), port.c_str(),     shard.dbname.c_str(),
                                     user.c_str(),       password.c_str(), timeout.c_str(),
                                     "shardgate move"};
  auto tls = libpq_tls(shard);
  for (const auto& [key, value] : tls) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 0);
  if (!conn || PQstatus(conn) != CONNECTION_OK) {
    std::string why = conn ? one_line(PQerrorMessage(conn)) : "out of memory";
    if (conn) PQfinish(conn);
    return absl::UnavailableError("cannot reach shard \"" + shard.name + "\": " + why);
  }
  PgLink link(conn, shard.name);
  if (auto status = link.exec(kSessionSettings); !status.ok()) return status;
  return link;
}

absl::StatusOr<std::vector<Row>> PgLink::rows(const std::string& sql,
                                              const std::function<bool()>& keep_going) {
  if (!PQsendQuery(conn_.get(), sql.c_str()))
    return absl::UnavailableError("shard \"" + shard_ +
                                  "\": " + one_line(PQerrorMessage(conn_.get())));
  if (keep_going) await_result(keep_going);
  std::string error;
  std::vector<Row> out;
  while (PGresult* r = PQgetResult(conn_.get())) {
    auto status = PQresultStatus(r);
    if (status == PGRES_FATAL_ERROR && error.empty()) {
      error = result_error(r);
    } else if (status == PGRES_TUPLES_OK) {
      out.clear();
      for (int i = 0; i < PQntuples(r); ++i) {
        Row row;
        for (int j = 0; j < PQnfields(r); ++j)
          row.push_back(PQgetisnull(r, i, j) ? std::nullopt
                                             : std::optional<std::string>(PQgetvalue(r, i, j)));
        out.push_back(std::move(row));
      }
    }
    PQclear(r);
  }
  if (error.empty() && PQstatus(conn_.get()) != CONNECTION_OK)
    error = "connection lost: " + one_line(PQerrorMessage(conn_.get()));
  if (!error.empty()) return absl::FailedPreconditionError("on shard \"" + shard_ + "\": " + error);
  return out;
}

absl::Status PgLink::exec(const std::string& sql) { return rows(sql).status(); }

absl::StatusOr<std::string> PgLink::scalar(const std::string& sql) {
  auto result = rows(sql);
  if (!result.ok()) return result.status();
  if (result->empty() || result->front().empty() || !result->front()[0]) return std::string();
  return *result->front()[0];
}

absl::Status PgLink::error(const std::string& what) const {
  return absl::FailedPreconditionError("on shard \"" + shard_ + "\": " + what + ": " +
                                       one_line(PQerrorMessage(conn_.get())));
}

absl::StatusOr<int64_t> PgLink::finish_command() {
  std::string error;
  int64_t tuples = kRowsUnknown;
  while (PGresult* r = PQgetResult(conn_.get())) {
    auto status = PQresultStatus(r);
    if (status == PGRES_FATAL_ERROR && error.empty()) error = result_error(r);
    if (status == PGRES_COMMAND_OK && *PQcmdTuples(r)) tuples = std::stoll(PQcmdTuples(r));
    // A COPY still open after an error (cannot happen after PQputCopyEnd) would loop forever.
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
      PQclear(r);
      return error.empty() ? this->error("unexpected COPY state")
                           : absl::FailedPreconditionError(error);
    }
    PQclear(r);
  }
  if (!error.empty()) return absl::FailedPreconditionError("on shard \"" + shard_ + "\": " + error);
  return tuples;
}

void PgLink::cancel_request() {
  if (PGcancel* cancel = PQgetCancel(conn_.get())) {
    char buf[256];
    PQcancel(cancel, buf, sizeof buf);
    PQfreeCancel(cancel);
  }
}

void PgLink::await_result(const std::function<bool()>& keep_going) {
  bool cancelled = false;
  while (PQisBusy(conn_.get())) {
    pollfd p{PQsocket(conn_.get()), POLLIN, 0};
    (void)poll(&p, 1, 100);
    if (!PQconsumeInput(conn_.get())) return;
    if (!cancelled && !keep_going()) {
      cancel_request();
      cancelled = true;
    }
  }
}

void PgLink::abandon_copy_out() {
  cancel_request();
  char* data = nullptr;
  while (PQgetCopyData(conn_.get(), &data, 0) > 0) PQfreemem(data);
  (void)finish_command();
}

absl::Status PgLink::start_copy(const std::string& sql, bool copy_in) {
  if (!PQsendQuery(conn_.get(), sql.c_str())) return error("COPY");
  PGresult* r = PQgetResult(conn_.get());
  bool ready = r && PQresultStatus(r) == (copy_in ? PGRES_COPY_IN : PGRES_COPY_OUT);
  std::string why = r && !ready ? result_error(r) : "COPY did not start";
  PQclear(r);
  if (ready) return absl::OkStatus();
  (void)finish_command();
  return absl::FailedPreconditionError("on shard \"" + shard_ + "\": " + why);
}

absl::StatusOr<int64_t> PgLink::copy_into(PgLink& into, const std::string& copy_out,
                                          const std::string& copy_in,
                                          const std::function<bool(int64_t bytes)>& keep_going) {
  PGconn* out = conn_.get();
  PGconn* in = into.conn_.get();
  if (auto status = into.start_copy(copy_in, true); !status.ok()) return status;
  // The rows already in flight can take long to load (triggers, a busy target): a cancel
  // request stops the server at once; CopyFail then ends the COPY on the wire.
  auto abort_in = [&](const char* reason) {
    into.cancel_request();
    PQputCopyEnd(in, reason);
    (void)into.finish_command();
  };
  if (auto status = start_copy(copy_out, false); !status.ok()) {
    abort_in("the source's COPY could not start");
    return status;
  }
  int64_t bytes = 0;
  char* data = nullptr;
  int n = 0;
  while ((n = PQgetCopyData(out, &data, 0)) > 0) {
    bool sent = PQputCopyData(in, data, n) == 1;
    PQfreemem(data);
    bytes += n;
    if (!sent || !keep_going(bytes)) {
      auto status = sent ? absl::CancelledError("copy stopped") : into.error("COPY FROM STDIN");
      abort_in(sent ? "cancelled" : "sending failed");
      abandon_copy_out();
      return status;
    }
  }
  // n is -1 (done, the command's result follows) or -2 (failed).
  auto source_done = finish_command();
  if (!source_done.ok() || n == -2) {
    abort_in("the source's COPY failed");
    return source_done.ok() ? error("COPY TO STDOUT") : source_done.status();
  }
  if (PQputCopyEnd(in, nullptr) != 1) return into.error("COPY FROM STDIN");
  // The target may still be loading what the kernel's buffers hold: stay cancellable.
  into.await_result([&] { return keep_going(bytes); });
  return into.finish_command();
}

bool PgLink::alive() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

std::vector<std::pair<std::string, std::string>> libpq_tls(const config::ShardConfig& shard,
                                                           bool client_cert) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::pair<const char*, const std::string*> all[] = {{"sslmode", &shard.sslmode},
                                                            {"sslrootcert", &shard.sslrootcert},
                                                            {"sslcert", &shard.sslcert},
                                                            {"sslkey", &shard.sslkey}};
  for (const auto& [key, value] : all) {
    bool is_client_cert = std::string_view(key) == "sslcert" || std::string_view(key) == "sslkey";
    if (value->empty() || (is_client_cert && !client_cert)) continue;
    out.emplace_back(key, *value);
  }
  return out;
}

std::vector<std::string> libpq_tls_env(const config::ShardConfig& shard) {
  std::vector<std::string> env;
  for (const auto& [key, value] : libpq_tls(shard)) {
    std::string name = "PG";
    for (char c : key) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env.push_back(name + "=" + value);
  }
  return env;
}

std::string conninfo_value(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string control_conninfo(const config::ShardConfig& shard) {
  std::string out = "host=" + conninfo_value(shard.host) + " port=" + std::to_string(shard.port) +
                    " dbname=" + conninfo_value(shard.dbname) +
                    " user=" + conninfo_value(shard.control_user()) +
                    " password=" + conninfo_value(shard.control_password()) +
                    " application_name='shardgate move'";
  for (const auto& [key, value] : libpq_tls(shard, false))
    out += " " + key + "=" + conninfo_value(value);
  return out;
}

}  // namespace shardgate::moves
