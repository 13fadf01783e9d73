// How the proxy acts on what the guard and the statement inspector found.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "routing/guard/guard.h"
#include "routing/route.h"

namespace shardgate::proxy {

// A statement that makes the server itself raise the given error: used in place of a refused
// statement once a server connection is involved, so transaction state and response order
// stay exactly what PostgreSQL would produce (a failed statement aborts the transaction).
std::string raise_sql(std::string_view sqlstate, std::string_view message, std::string_view hint);
// The context PostgreSQL adds to the error raise_sql() raises: shardgate removes it (and the
// source location) before the client sees the error, which must not show the mechanism.
inline constexpr std::string_view kRaiseContext =
    "PL/pgSQL function inline_code_block line 1 at RAISE";

// A harmless statement that completes with the tag "SET", in place of a session command the
// proxy answered (extended protocol).
inline constexpr std::string_view kNoopSetSql = "SET sg.noop = '1'";

routing::GuardPolicy guard_policy(const routing::Route& route, const config::Config& config);

bool source_enabled(const config::Config& config, config::TenantSource source);

}  // namespace shardgate::proxy
