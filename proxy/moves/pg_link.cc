#include "proxy/moves/pg_link.h"

#include <algorithm>

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

}  // namespace

absl::StatusOr<PgLink> PgLink::open(const config::ShardConfig& shard, Credential credential,
                                    config::Duration connect_timeout) {
  std::string port = std::to_string(shard.port);
  std::string timeout =
      std::to_string(std::max<int64_t>(1, (connect_timeout.count() + 999) / 1000));
  bool control = credential == Credential::kControl;
  const std::string& user = control ? shard.control_user() : shard.user;
  const std::string& password = control ? shard.control_password() : shard.password;
  const char* keys[] = {
      "host", "port", "dbname", "user", "password", "connect_timeout", "application_name", nullptr};
  const char* values[] = {shard.host.c_str(), port.c_str(),    shard.dbname.c_str(), user.c_str(),
                          password.c_str(),   timeout.c_str(), "shardgate move",     nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 0);
  if (!conn || PQstatus(conn) != CONNECTION_OK) {
    std::string why = conn ? one_line(PQerrorMessage(conn)) : "out of memory";
    if (conn) PQfinish(conn);
    return absl::UnavailableError("cannot reach shard \"" + shard.name + "\": " + why);
  }
  return PgLink(conn, shard.name);
}

absl::StatusOr<std::vector<Row>> PgLink::rows(const std::string& sql) {
  if (!PQsendQuery(conn_.get(), sql.c_str()))
    return absl::UnavailableError("shard \"" + shard_ +
                                  "\": " + one_line(PQerrorMessage(conn_.get())));
  std::string error;
  std::vector<Row> out;
  while (PGresult* r = PQgetResult(conn_.get())) {
    auto status = PQresultStatus(r);
    if (status == PGRES_FATAL_ERROR && error.empty()) {
      const char* msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      error = std::string(msg ? msg : "unknown error") +
              (state ? std::string(" (SQLSTATE ") + state + ")" : "");
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

bool PgLink::alive() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

std::string conninfo_value(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string control_conninfo(const config::ShardConfig& shard) {
  return "host=" + conninfo_value(shard.host) + " port=" + std::to_string(shard.port) +
         " dbname=" + conninfo_value(shard.dbname) +
         " user=" + conninfo_value(shard.control_user()) +
         " password=" + conninfo_value(shard.control_password()) +
         " application_name='shardgate move'";
}

}  // namespace shardgate::moves
