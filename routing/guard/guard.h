// The guard (docs/isolation.md): decides from a StatementInfo whether a tenant's statement
// may run on a server connection shared with other tenants. Cheap: no parsing here (the
// parse happened once in inspect_statement(), cached per text by StatementCache).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "routing/guard/setting_rules.h"
#include "routing/guard/statement.h"

namespace shardgate::routing {

// What one tenant may do. Views: the referenced strings must outlive the judge() call.
struct GuardPolicy {
  std::string_view tenant;         // for messages only
  std::string_view tenant_schema;  // the tenant's own schema (placement.schema)
  const std::vector<std::string>* shared_schemas = nullptr;  // guard.shared_schemas
  bool allow_dynamic_sql = false;                            // tier guard.allow_dynamic_sql
  // The tenant has a database of its own (isolation: database): objects shared by one
  // database are its own.
  bool own_database = false;
  // The tier pools by transaction: state that outlives a transaction stays on a server
  // connection the next client of the pool gets.
  bool transaction_pooling = false;
  // Refuse text libpg_query cannot parse. Off by default: PostgreSQL parses a whole
  // simple-query string before running any of it, so a syntax error means nothing runs.
  // Turn on when shards run a newer PostgreSQL major than libpg_query's (15), whose new
  // syntax the guard could not read.
  bool refuse_unparsable = false;
};

// allowed, or a refusal to send as ERROR: sqlstate 42501, message naming what was refused
// and why, hint saying what to do.
struct GuardVerdict {
  bool allowed = true;
  std::string sqlstate;
  std::string message;
  std::string hint;
};

// The refusal of a change to a protected setting (setting_rules.h), for statements and
// startup settings alike.
GuardVerdict refuse_setting(std::string_view name, std::string_view tenant);

// Whether a search_path of these schemas keeps the tenant to what it may name: its own
// schema, the shared schemas and the built-in ones, with its own schema before any shared
// one (only pg_catalog and pg_temp may precede it), so unqualified CREATEs stay in it.
bool search_path_allowed(const std::vector<std::string>& schemas, const GuardPolicy& policy);

// Schemas every tenant may name besides its own and the shared ones.
bool is_builtin_allowed_schema(std::string_view schema);

// Judges a whole text (all its statements; any refusal refuses all), in this order:
// too complex; unparsable (only with refuse_unparsable); function bodies or DO blocks the
// guard cannot read (StatementInfo::refused_in_body); protected settings and unknown
// set_config/pg_settings changes; persistent settings; dynamic SQL (unless allowed);
// schemas outside tenant_schema, pg_catalog, information_schema, pg_temp and
// shared_schemas (compared exactly, after PostgreSQL's identifier folding).
// RESET ALL / DISCARD ALL are allowed: the caller re-applies the tenant context after them
// (StatementInfo::reset_all). Session commands (StatementInfo::session) must be answered by
// the caller before judging: judge() refuses them as protected-setting changes.
GuardVerdict judge(const StatementInfo& info, const GuardPolicy& policy);

}  // namespace shardgate::routing
