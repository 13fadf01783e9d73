// RESET as PostgreSQL means it. PostgreSQL's RESET name, SET name TO DEFAULT and RESET ALL go
// back to the values the session started with: the client's startup packet (application_name,
// datestyle, `-c` options). A pooled server connection started with the shard's defaults and
// got the client's startup values by set_config(), which RESET does not go back to. So the
// server gets the client's startup value explicitly, in the same statement's place: the
// setting is right at once, inside the same transaction block too, and a ROLLBACK undoes it
// exactly as it undoes a RESET (both are a session-level SET to PostgreSQL).
//
//   RESET work_mem                 ->  SET "work_mem" TO '8MB'          (tag RESET kept)
//   SET LOCAL work_mem TO DEFAULT  ->  SET LOCAL "work_mem" TO '8MB'
//   RESET ALL                      ->  RESET ALL; SET "work_mem" TO '8MB'; SET "search_path"
//                                      TO tenant_acme; ...  (only the first tag is shown)
//
// Pure: the session applies the result (proxy/session/session_reset.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/session/session_settings.h"
#include "routing/guard/statement.h"

namespace shardgate::proxy {

struct ResetRewrite {
  std::string sql;           // what the server gets instead
  std::string tag;           // the CommandComplete tag the client gets (empty: the server's)
  int hidden_completes = 0;  // CommandCompletes after the first that the client must not see
};

struct ResetContext {
  const SessionSettings* settings = nullptr;
  // The tenant context RESET ALL takes off the server connection (search_path with schema
  // isolation, shardgate.tenant): given back in the same query. Empty: nothing to give.
  std::string_view search_path;  // as PostgreSQL stores it: a valid SET list
  std::string_view tenant;
  // A simple Query may hold several statements; a Parse may not (RESET ALL stays as sent).
  bool simple_query = false;
};

// The statement to send instead of `reset`, or nullopt when the server's own RESET already
// gives what PostgreSQL would (no startup value for the setting), or shardgate cannot give
// it (a list setting whose value it would have to re-quote, RESET ALL in a Parse).
std::optional<ResetRewrite> rewrite_reset(const routing::LoneReset& reset, const ResetContext& ctx);

}  // namespace shardgate::proxy
