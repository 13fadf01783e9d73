// Function bodies and DO blocks, inspected with the same inspector as any statement.
//
// SQL bodies (AS '...') are texts: inspect_statement() reads them. PL/pgSQL bodies are read
// by libpg_query's PL/pgSQL parser (the one PostgreSQL 15 itself uses), whose JSON output
// lists every embedded statement and expression; each is turned into a statement the way
// PostgreSQL 15 reads it (an expression as the target list of a SELECT, so `x := y FROM t`
// names t) and inspected. Whatever cannot be read is refused: fail closed.
#include "routing/guard/function_body.h"

#include <pg_query.h>

#include <cstdint>
#include <string>
#include <vector>

#include "routing/guard/plpgsql_json.h"
#include "routing/guard/statement_walk.h"

namespace shardgate::routing::internal {
namespace {

thread_local int tl_nesting = 0;
// Whether the body being read runs as it is read (a DO block), not when called later (a
// function's): its SETs then change the session.
thread_local bool tl_runs_now = false;

std::string_view sv(const char* s) { return s ? std::string_view(s) : std::string_view(); }

void add_unique(std::vector<std::string>& v, std::string_view s) {
  for (const auto& e : v) {
    if (e == s) return;
  }
  v.emplace_back(s);
}

void mark_dynamic(StatementInfo& info, std::string what) {
  if (!info.dynamic_sql) info.dynamic_sql_what = std::move(what);
  info.dynamic_sql = true;
}

void refuse_body(StatementInfo& info, std::string why) {
  if (info.refused_in_body.empty()) info.refused_in_body = std::move(why);
}

class Nesting {
 public:
  Nesting() { ++tl_nesting; }
  ~Nesting() { --tl_nesting; }
  Nesting(const Nesting&) = delete;
  Nesting& operator=(const Nesting&) = delete;
};

class RunsNow {
 public:
  explicit RunsNow(bool now) : before_(tl_runs_now) { tl_runs_now = now; }
  ~RunsNow() { tl_runs_now = before_; }
  RunsNow(const RunsNow&) = delete;
  RunsNow& operator=(const RunsNow&) = delete;

 private:
  bool before_;
};

// A SQL-standard body (BEGIN ATOMIC: a list holding the list of statements) with a RESET
// ALL or DISCARD ALL among its statements.
bool body_resets_all(const PgQuery__Node& node, int depth = 0) {
  if (resets_all(node)) return true;
  if (node.node_case != PG_QUERY__NODE__NODE_LIST || !node.list || depth > 2) return false;
  for (size_t i = 0; i < node.list->n_items; ++i)
    if (node.list->items[i] && body_resets_all(*node.list->items[i], depth + 1)) return true;
  return false;
}

bool too_deep(StatementInfo& info) {
  if (tl_nesting < kMaxBodyNesting) return false;
  refuse_body(info, "function bodies and DO blocks nest more than " +
                        std::to_string(kMaxBodyNesting) + " levels deep");
  return true;
}

// The options of CREATE FUNCTION / ALTER FUNCTION / DO that decide how the body is read.
struct Options {
  std::string language;
  bool has_language = false;
  std::vector<std::string> as;  // the body (two strings for C: object file, symbol)
  bool has_as = false;
  bool as_readable = true;  // every AS item a string
  bool duplicate = false;   // PostgreSQL refuses repeated LANGUAGE/AS; so does the guard
  bool security_definer = false;
  bool set_clause = false;
};

void read_as(const PgQuery__Node* arg, Options& o) {
  if (arg && arg->node_case == PG_QUERY__NODE__NODE_STRING && arg->string) {
    o.as.emplace_back(sv(arg->string->sval));
    return;
  }
  if (!arg || arg->node_case != PG_QUERY__NODE__NODE_LIST || !arg->list) {
    o.as_readable = false;
    return;
  }
  for (size_t i = 0; i < arg->list->n_items; ++i) {
    const PgQuery__Node* item = arg->list->items[i];
    if (item && item->node_case == PG_QUERY__NODE__NODE_STRING && item->string) {
      o.as.emplace_back(sv(item->string->sval));
    } else {
      o.as_readable = false;
    }
  }
}

void read_options(PgQuery__Node* const* items, size_t n, Options& o) {
  for (size_t i = 0; i < n; ++i) {
    if (!items[i] || items[i]->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) continue;
    const PgQuery__DefElem& e = *items[i]->def_elem;
    std::string_view name = sv(e.defname);
    const PgQuery__Node* arg = e.arg;
    if (name == "language") {
      o.duplicate |= o.has_language;
      o.has_language = true;
      o.language = arg && arg->node_case == PG_QUERY__NODE__NODE_STRING && arg->string
                       ? std::string(sv(arg->string->sval))
                       : std::string("(unreadable)");
    } else if (name == "as") {
      o.duplicate |= o.has_as;
      o.has_as = true;
      read_as(arg, o);
    } else if (name == "security") {
      // SECURITY DEFINER is Boolean true; anything unexpected counts as DEFINER.
      bool invoker = arg && arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN && arg->boolean &&
                     !arg->boolean->boolval;
      o.security_definer |= !invoker;
    } else if (name == "set") {
      o.set_clause = true;
    }
  }
}

void check_options(const Options& o, StatementInfo& info) {
  if (o.security_definer) mark_dynamic(info, "SECURITY DEFINER function");
  if (o.set_clause) mark_dynamic(info, "SET clause on a function");
}

void inspect_text(const std::string& sql, StatementInfo& info) {
  merge_body_findings(inspect_statement(sql), info);
}

// `target := expression`: the target (with its subscripts) and the expression, split at the
// first := or = outside brackets, as PostgreSQL's assignment grammar reads them.
bool split_assignment(const std::string& text, std::string& lhs, std::string& rhs) {
  PgQueryScanResult scan = pg_query_scan(text.c_str());
  if (scan.error) {
    pg_query_free_scan_result(scan);
    return false;
  }
  PgQuery__ScanResult* tokens = pg_query__scan_result__unpack(
      nullptr, scan.pbuf.len, reinterpret_cast<const uint8_t*>(scan.pbuf.data));
  pg_query_free_scan_result(scan);
  if (!tokens) return false;
  bool found = false;
  int depth = 0;
  for (size_t i = 0; i < tokens->n_tokens && !found; ++i) {
    const PgQuery__ScanToken& t = *tokens->tokens[i];
    if (t.token == PG_QUERY__TOKEN__ASCII_40 || t.token == PG_QUERY__TOKEN__ASCII_91) {
      ++depth;
    } else if (t.token == PG_QUERY__TOKEN__ASCII_41 || t.token == PG_QUERY__TOKEN__ASCII_93) {
      --depth;
    } else if (depth == 0 &&
               (t.token == PG_QUERY__TOKEN__COLON_EQUALS || t.token == PG_QUERY__TOKEN__ASCII_61)) {
      size_t start = static_cast<size_t>(t.start), end = static_cast<size_t>(t.end);
      if (start <= end && end <= text.size()) {
        lhs = text.substr(0, start);
        rhs = text.substr(end);
        found = true;
      }
    }
  }
  pg_query__scan_result__free_unpacked(tokens, nullptr);
  return found;
}

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return ascii_lower(s.substr(s.size() - suffix.size())) == suffix;
}

void inspect_piece(const PlpgsqlPiece& piece, StatementInfo& info) {
  switch (piece.kind) {
    case PlpgsqlPiece::Kind::kStatement:
      inspect_text(piece.text, info);
      return;
    case PlpgsqlPiece::Kind::kExpression:
      inspect_text("SELECT " + piece.text, info);
      return;
    case PlpgsqlPiece::Kind::kAssignment: {
      std::string lhs, rhs;
      if (!split_assignment(piece.text, lhs, rhs)) {
        refuse_body(info, "the guard cannot read the PL/pgSQL assignment \"" + piece.text + "\"");
        return;
      }
      inspect_text("SELECT " + lhs, info);
      inspect_text("SELECT " + rhs, info);
      return;
    }
    case PlpgsqlPiece::Kind::kTypeName: {
      std::string_view t = piece.text;
      while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\n')) {
        t.remove_suffix(1);
      }
      if (t == "UNKNOWN") return;  // libpg_query's stand-in for a type it did not resolve
      if (ends_with_ci(t, "%rowtype")) t.remove_suffix(8);
      // A function argument takes every type syntax a declaration does, %TYPE included.
      inspect_text("DROP FUNCTION pg_temp.sg_t(" + std::string(t) + "\n)", info);
      return;
    }
  }
}

// pg_query_parse_plpgsql() on a helper thread: its JSON writer recurses per block level.
bool parse_plpgsql(const std::string& text, std::string& json, std::string& error) {
  bool ran = run_on_big_stack([&] {
    PgQueryPlpgsqlParseResult r = pg_query_parse_plpgsql(text.c_str());
    if (r.error) {
      error = r.error->message && *r.error->message ? r.error->message : "syntax error";
    } else if (r.plpgsql_funcs) {
      json = r.plpgsql_funcs;
    } else {
      error = "no output";
    }
    pg_query_free_plpgsql_parse_result(r);
  });
  if (!ran) error = "no thread for the PL/pgSQL parser";
  return ran && error.empty();
}

void inspect_plpgsql(std::string_view stmt_text, std::string_view what, StatementInfo& info) {
  std::string json, error;
  PlpgsqlBody body;
  if (!parse_plpgsql(std::string(stmt_text), json, error) ||
      !read_plpgsql_json(json, body, error)) {
    refuse_body(info,
                "the guard cannot parse the PL/pgSQL " + std::string(what) + " (" + error + ")");
    return;
  }
  if (body.functions != 1 || body.actions != 1) {
    refuse_body(info, "the guard cannot find the PL/pgSQL " + std::string(what));
    return;
  }
  if (!body.dynamic_what.empty()) mark_dynamic(info, body.dynamic_what);
  for (const PlpgsqlPiece& piece : body.pieces) inspect_piece(piece, info);
}

}  // namespace

int body_nesting() { return tl_nesting; }
void set_body_nesting(int level) { tl_nesting = level; }

void merge_body_findings(const StatementInfo& body, StatementInfo& into) {
  if (body.too_complex || !body.parsed) {
    refuse_body(
        into, "the guard cannot parse a function body or DO block part (" + body.parse_error + ")");
  }
  if (!body.refused_in_body.empty()) refuse_body(into, body.refused_in_body);
  // A DO block's SET or set_config() may run once, many times or not at all: the setting's
  // value is unknown afterwards (the server connection's is reset before its next client).
  if (tl_runs_now)
    for (const auto& w : body.setting_writes)
      into.setting_writes.push_back({w.name, false, false, {}});
  for (const auto& s : body.protected_settings) add_unique(into.protected_settings, s);
  if (body.reset_all) add_unique(into.protected_settings, "search_path");
  into.unknown_setting |= body.unknown_setting;
  for (const auto& s : body.qualified_schemas) add_unique(into.qualified_schemas, s);
  for (const auto& s : body.code_schemas) add_unique(into.code_schemas, s);
  if (body.dynamic_sql) mark_dynamic(into, body.dynamic_sql_what);
  if (body.persistent_settings) {
    if (!into.persistent_settings) into.persistent_what = body.persistent_what;
    into.persistent_settings = true;
  }
  if (into.cross_tenant_view.empty()) into.cross_tenant_view = body.cross_tenant_view;
  if (into.database_wide.empty()) into.database_wide = body.database_wide;
  if (into.server_wide.empty()) into.server_wide = body.server_wide;
  if (into.outlives_transaction.empty()) {
    into.outlives_transaction = body.outlives_transaction;
    into.outliving_kind = body.outliving_kind;
  }
  if (into.survives_discard.empty()) into.survives_discard = body.survives_discard;
  // Channels are scoped by rewriting the text the client sends; a body runs later, unread.
  if ((!body.channel_sites.empty() || !body.channel_refusal.empty()) &&
      into.channel_refusal.empty()) {
    into.channel_refusal = "LISTEN/NOTIFY/pg_notify() inside a function body or DO block";
  }
  // The proxy keeps clients' prepared statements under its own names on the server.
  if (body.deallocate_all || !body.deallocated.empty()) {
    refuse_body(into, "DEALLOCATE inside a function body or DO block");
  }
}

void inspect_create_function(const PgQuery__CreateFunctionStmt& f, std::string_view stmt_text,
                             StatementInfo& info) {
  if (f.n_funcname >= 2 && f.funcname[f.n_funcname - 2] &&
      f.funcname[f.n_funcname - 2]->node_case == PG_QUERY__NODE__NODE_STRING) {
    add_unique(info.code_schemas, sv(f.funcname[f.n_funcname - 2]->string->sval));
  }
  Options o;
  read_options(f.options, f.n_options, o);
  check_options(o, info);
  const std::string kind = f.is_procedure ? "procedure" : "function";
  if (o.duplicate) {
    refuse_body(info, "the " + kind + " has conflicting LANGUAGE or AS clauses");
    return;
  }
  if (!f.sql_body && !o.has_as) return;  // no body: PostgreSQL refuses
  if (too_deep(info)) return;
  Nesting nested;
  RunsNow runs(false);
  if (f.sql_body) {
    // BEGIN ATOMIC ... END / RETURN: part of the tree the walk already reads; only what
    // means something else inside a body (RESET ALL) is looked at again here.
    StatementInfo body;
    body.parsed = true;
    walk_statement(*f.sql_body, body);
    body.reset_all = body_resets_all(*f.sql_body);
    merge_body_findings(body, info);
  }
  if (!o.has_as) return;  // the SQL-standard body above
  std::string language = o.has_language ? o.language : "";
  if (language != "sql" && language != "plpgsql") {
    mark_dynamic(info, kind + " in language " + (language.empty() ? "(none)" : language));
    return;
  }
  if (!o.as_readable || o.as.size() != 1) {
    refuse_body(info, "the guard cannot read the " + kind + "'s body");
    return;
  }
  if (language == "sql") {
    inspect_text(o.as.front(), info);
  } else {
    inspect_plpgsql(stmt_text, kind + " body", info);
  }
}

void inspect_do(const PgQuery__DoStmt& d, std::string_view stmt_text, StatementInfo& info) {
  Options o;
  read_options(d.args, d.n_args, o);
  if (o.duplicate) {
    refuse_body(info, "the DO block has conflicting LANGUAGE clauses");
    return;
  }
  std::string language = o.has_language ? o.language : "plpgsql";  // DO's default
  if (language != "plpgsql") {
    mark_dynamic(info, "DO block in language " + language);
    return;
  }
  if (!o.as_readable || o.as.size() != 1) {
    refuse_body(info, "the guard cannot read the DO block's body");
    return;
  }
  if (too_deep(info)) return;
  Nesting nested;
  RunsNow runs(true);
  inspect_plpgsql(stmt_text, "DO block", info);
}

void inspect_create_trigger(const PgQuery__CreateTrigStmt& t, StatementInfo& info) {
  if (t.relation && !sv(t.relation->schemaname).empty()) {
    add_unique(info.code_schemas, sv(t.relation->schemaname));
  }
}

void inspect_alter_function(const PgQuery__AlterFunctionStmt& f, StatementInfo& info) {
  Options o;
  read_options(f.actions, f.n_actions, o);
  check_options(o, info);
}

}  // namespace shardgate::routing::internal
