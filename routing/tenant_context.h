// The statements that give a server connection a tenant's context.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "routing/directory.h"

namespace shardgate::routing {

// PostgreSQL identifier and literal quoting.
std::string quote_ident(std::string_view ident);
std::string quote_literal(std::string_view text);

// One simple-query string: search_path (isolation schema), shardgate.tenant (always) and
// SET ROLE (tier role template), e.g.
//   SET search_path TO "tenant_acme"; SET shardgate.tenant TO 'acme'; SET ROLE "tenant_acme"
std::string tenant_context_sql(std::string_view tenant, const Placement& placement,
                               const config::TierConfig& tier);

}  // namespace shardgate::routing
