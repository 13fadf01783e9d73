// What a SQL text is, read with PostgreSQL's own parser (libpg_query, PostgreSQL 15 grammar).
// Pure: no I/O, no Asio. Never regular expressions: every decision comes from the parse tree.
//
// inspect_statement() parses once; StatementCache (statement_cache.h) keeps the result per text
// so repeated and prepared statements cost a hash lookup; judge() (guard.h) turns a
// StatementInfo and a tenant's GuardPolicy into a verdict without parsing again.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardgate::routing {

// Session commands shardgate answers itself instead of forwarding (the `session` and
// `search_path` tenant sources, docs/configuration.md). Recognised only when they are the
// whole text (one statement).
enum class SessionCommandKind {
  kNone,
  kSetTenant,      // SET [SESSION|LOCAL] shardgate.tenant = 'acme' | TO acme | TO 123
  kResetTenant,    // RESET shardgate.tenant | SET shardgate.tenant TO DEFAULT
  kShowTenant,     // SHOW shardgate.tenant
  kSetSearchPath,  // SET [SESSION|LOCAL] search_path TO tenant_acme[, public] | SET SCHEMA 'x'
};

struct SessionCommand {
  SessionCommandKind kind = SessionCommandKind::kNone;
  // kSetTenant: the tenant id as PostgreSQL reads it (unquoted identifiers folded to lower
  // case, quoted ones and string literals kept as written). kSetSearchPath: the first schema.
  std::string value;
  // kSetSearchPath: every schema of the new search_path, in order, exactly as PostgreSQL
  // would store them ("$user" included as written).
  std::vector<std::string> schemas;
  bool local = false;  // SET LOCAL ...
};

// A session-level change of one setting (not SET LOCAL, not SET TRANSACTION), as the proxy
// needs it to let the client's settings follow it from server connection to server connection.
struct SettingWrite {
  std::string name;    // lower-cased, as PostgreSQL looks it up
  bool reset = false;  // RESET name, SET name TO DEFAULT
  bool known = true;   // false: a value shardgate cannot re-apply (FROM CURRENT, a typed literal)
  std::string value;   // SET name = a, b: the value as set_config() takes it ("a, b")
};

// A text that is exactly one SAVEPOINT, RELEASE [SAVEPOINT] or ROLLBACK TO [SAVEPOINT]: the
// session's settings follow savepoints as PostgreSQL's do (proxy/session/session_settings.h).
struct SavepointStep {
  enum class Kind { kSavepoint, kRelease, kRollbackTo } kind = Kind::kSavepoint;
  std::string name;  // as PostgreSQL folded it
};

// A text that is exactly one RESET name, SET [LOCAL] name TO DEFAULT or RESET ALL. PostgreSQL
// sets such settings back to the values the session started with (its startup packet); on a
// pooled server connection those are the shard's defaults, so the proxy gives the client's
// own startup values explicitly (proxy/session/session_reset.cc).
struct LoneReset {
  std::string name;      // lower-cased; empty for RESET ALL
  bool all = false;      // RESET ALL
  bool local = false;    // SET LOCAL name TO DEFAULT
  bool keyword = false;  // written RESET (tag "RESET"), not SET ... TO DEFAULT (tag "SET")
};

// A place in the text where a LISTEN/NOTIFY channel is named (channel_names.h rewrites it
// per tenant). Spans are byte offsets into the inspected text.
struct ChannelSite {
  enum class Kind {
    kListen,       // LISTEN: the whole statement span
    kUnlisten,     // UNLISTEN channel: the whole statement span
    kUnlistenAll,  // UNLISTEN *: the whole statement span (kept as written)
    kNotify,       // NOTIFY channel[, payload]: the whole statement span
    kPgNotify,     // pg_notify('channel', ...): the channel's string literal only
  };
  Kind kind = Kind::kListen;
  size_t begin = 0;
  size_t end = 0;
  std::string channel;  // as PostgreSQL reads it (unquoted identifiers folded)
  std::string payload;  // kNotify
};

// Kinds of session state that outlive a transaction (StatementInfo::outlives_transaction).
enum class OutlivingState {
  kNone,
  kHoldCursor,
  kTempObject,
  kPrepare,
  kAdvisoryLock,
  kLoad,
  kListen
};

struct StatementInfo {
  // False when libpg_query could not parse the text; parse_error holds its message. The
  // guard lets such text through by default: PostgreSQL parses a whole simple-query string
  // before running any of it, so a syntax error anywhere means nothing runs.
  bool parsed = false;
  std::string parse_error;
  // The text nests deeper than the guard can walk within its stack budget (a left-deep
  // chain like 1+1+...+1 of thousands of operators). Refused: fail closed.
  bool too_complex = false;
  int statement_count = 0;

  // Set only when the whole text is exactly one session command.
  SessionCommand session;

  // Settings the statement changes that shardgate manages or that would let the text the
  // guard reads differ from what the server reads, lower-cased, deduplicated:
  //   search_path, role, session_authorization, shardgate.* — by SET, SET LOCAL, RESET,
  //   SET ROLE, SET SESSION AUTHORIZATION, SET SCHEMA, set_config() anywhere (nested in
  //   SELECTs, CTEs, subqueries, function arguments, PREPARE bodies, rule actions), and
  //   function SET clauses (CREATE/ALTER FUNCTION ... SET search_path);
  //   standard_conforming_strings set to anything but on (the guard parses with it on);
  //   client_encoding set to an encoding whose multibyte characters can contain '\' bytes
  //   (SJIS, BIG5, GBK, UHC, GB18030, JOHAB) or to a non-constant value.
  // A session command (see `session`) lists its setting here too: the proxy must answer
  // session commands before judging; judge() refuses them if they reach it.
  std::vector<std::string> protected_settings;
  // set_config() whose setting name is not a string constant, or UPDATE of pg_settings
  // (which calls set_config): the guard cannot tell which setting changes.
  bool unknown_setting = false;

  // Every schema named in a qualified name, deduplicated, as PostgreSQL folded it: tables,
  // views, sequences, indexes (RangeVar), functions and procedures (calls, CALL, triggers,
  // ALTER/DROP FUNCTION), types and casts, operators (OPERATOR(s.+)), collations, opclasses,
  // CREATE/ALTER/DROP/COMMENT/GRANT/RENAME/OWNER targets, SET SCHEMA / RENAME targets,
  // CREATE SCHEMA, DROP SCHEMA, GRANT ... ON SCHEMA / ALL TABLES IN SCHEMA, ALTER DEFAULT
  // PRIVILEGES IN SCHEMA, CREATE EXTENSION ... SCHEMA, IMPORT FOREIGN SCHEMA ... INTO,
  // REINDEX SCHEMA, COPY targets, and string constants that PostgreSQL reads as names:
  // casts to reg* types ('s.t'::regclass, regnamespace 's') and the first argument of
  // nextval/currval/setval/pg_sequence_last_value. Not seen: names computed at run time
  // (nextval($1), nextval(name_column)) and query text built at run time (dynamic_sql).
  // Names inside sql and plpgsql function bodies and DO blocks are listed (function_body.h).
  std::vector<std::string> qualified_schemas;
  // Schemas that CREATE FUNCTION/PROCEDURE or CREATE TRIGGER put code in, by qualified name:
  // code there resolves names with whoever runs it, so another tenant (a shared schema's
  // function, a trigger on a shared table) would run it with its own search_path. judge()
  // allows only the tenant's schema and pg_temp.
  std::vector<std::string> code_schemas;

  // SQL the guard cannot see: EXECUTE of a computed string in PL/pgSQL, functions and DO
  // blocks in other languages, SECURITY DEFINER and SET clauses on functions, and functions
  // that run query text or dump whole relations (query_to_xml & kin, table_to_xml,
  // schema_to_xml, database_to_xml, cursor_to_xml, ts_stat, ts_rewrite, dblink*).
  // dynamic_sql_what names the first one found ("DO block in language plperl",
  // "function dblink_exec"). PREPARE's inner statement is inspected like any other; EXECUTE
  // runs what was inspected. Bodies in sql and plpgsql are inspected, their findings merged
  // into this statement's.
  bool dynamic_sql = false;
  std::string dynamic_sql_what;
  // Refused whatever the tier allows: a function body or DO block (or a statement or
  // expression in one) the guard cannot parse, bodies nested too deep, DEALLOCATE in a body.
  // Names the first one found.
  std::string refused_in_body;

  // Changes that reach other sessions: ALTER ROLE/USER ... SET/RESET, ALTER DATABASE ...
  // SET/RESET, ALTER SYSTEM. persistent_what names the first one found.
  bool persistent_settings = false;
  std::string persistent_what;

  // Statements on objects without a schema, which every tenant shares: per database
  // (extensions, publications, subscriptions, event triggers, casts, languages, foreign
  // servers, access methods, default privileges for all schemas) or per server (roles,
  // databases, tablespaces, server parameters). Each names the first one found.
  std::string database_wide;
  std::string server_wide;
  // A statement whose effect outlives its transaction on the server connection, which
  // transaction pooling cannot keep with the client (statement_session_state.cc): DECLARE ...
  // WITH HOLD; temporary tables, views and sequences (CREATE TEMP ..., CREATE TABLE AS /
  // SELECT INTO TEMP, CREATE ... pg_temp.name) except tables ON COMMIT DROP; types, domains
  // and collations in pg_temp (not functions, aggregates, operators: never found there
  // unless named with it); SQL-level PREPARE; session-level advisory locks (pg_advisory_lock
  // and pg_try_advisory_lock, shared or not; the _xact_ ones end with the transaction); LOAD;
  // LISTEN.
  // Names the first one found; outliving_kind says which (for the hint).
  std::string outlives_transaction;
  OutlivingState outliving_kind = OutlivingState::kNone;
  // What not even DISCARD ALL takes off a server connection (LOAD of a library): a
  // session-mode connection that ran it is closed instead of reused. Names it.
  std::string survives_discard;

  bool reset_all = false;  // RESET ALL or DISCARD ALL: the proxy re-applies context
  // Set only when the whole text is one RESET / SET ... TO DEFAULT / RESET ALL.
  std::optional<LoneReset> lone_reset;
  // Set only when the whole text is one SAVEPOINT / RELEASE / ROLLBACK TO.
  std::optional<SavepointStep> savepoint_step;
  // Session-level SET/RESET of single settings, in order (SET LOCAL is left out: it ends
  // with its transaction): top-level SETs and SET SESSION CHARACTERISTICS as written; as
  // unknown values (SettingWrite::known false), set_config() calls that are not local and the
  // SETs of DO blocks (whether and how often they run is not known).
  std::vector<SettingWrite> setting_writes;
  // A view or function that shows other sessions' data whatever the search_path: column
  // statistics with sample values (pg_stats, pg_statistic, ...) and other sessions' statement
  // texts (pg_stat_activity, pg_stat_statements). Names the first one found.
  std::string cross_tenant_view;
  // DEALLOCATE [PREPARE] name / ALL: prepared statements (the proxy keeps the client's
  // protocol-level ones under other names on the server).
  bool deallocate_all = false;
  std::vector<std::string> deallocated;
  bool transaction_control =
      false;  // BEGIN/START/COMMIT/ROLLBACK/SAVEPOINT/RELEASE/PREPARE TRANSACTION...

  // LISTEN, UNLISTEN, NOTIFY and pg_notify() channel names, in source order.
  std::vector<ChannelSite> channel_sites;
  // A channel shardgate cannot scope to the tenant (pg_notify with a channel computed at run
  // time, NOTIFY in a rule action): what it is. The statement is refused.
  std::string channel_refusal;

  // Approximate heap footprint, for the cache's byte bound.
  size_t memory_bytes() const;
};

// Parses `sql` (text up to the first NUL byte, as PostgreSQL reads a query string) and
// reports what it is. Never throws on any input; thread-safe (libpg_query keeps its memory
// contexts per thread). Uses under 2 MB of the caller's stack: a text whose parse tree could
// nest deeper (bounded first with libpg_query's flat scanner) is parsed on a short-lived
// helper thread with a big stack, and beyond 5000 levels refused as too_complex.
// Cost: ~4-20 us for typical OLTP statements, ~0.5 us per byte for large texts.
StatementInfo inspect_statement(std::string_view sql);

}  // namespace shardgate::routing
