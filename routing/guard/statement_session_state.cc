// Session state a statement leaves on its server connection after its transaction ends:
// the one list behind StatementInfo::outlives_transaction (refused in transaction-mode
// tiers, routing/session_state.h) and survives_discard (a session-mode connection is closed
// instead of reused). Function bodies and DO blocks merge their findings into the statement
// that defines or runs them (function_body.cc).
//
// Functions in pg_temp are not listed: PostgreSQL never finds functions or operators in
// pg_temp unless they are named with it, so one left behind hides nothing, and ORMs create
// and drop them per call (Sequelize's findOrCreate).
#include <string_view>

#include "routing/guard/statement_scope.h"
#include "routing/guard/statement_walk.h"

namespace shardgate::routing::internal {
namespace {

std::string_view sv(const char* s) { return s ? std::string_view(s) : std::string_view(); }

void outlives(StatementInfo& info, OutlivingState kind, std::string what) {
  if (!info.outlives_transaction.empty()) return;
  info.outlives_transaction = std::move(what);
  info.outliving_kind = kind;
}

// A relation created as temporary: TEMP/TEMPORARY (relpersistence 't') or a name in pg_temp
// (PostgreSQL also accepts a session's own pg_temp_N).
bool temporary(const PgQuery__RangeVar* r) {
  return r && (sv(r->relpersistence) == "t" || sv(r->schemaname).starts_with("pg_temp"));
}

// Only ON COMMIT DROP ends a temporary table with its transaction; ON COMMIT DELETE ROWS and
// PRESERVE ROWS keep the table (and its name, which shadows the tenant's own tables).
void temp_table(StatementInfo& info, const PgQuery__RangeVar* r, PgQuery__OnCommitAction on_commit,
                std::string_view what) {
  if (temporary(r) && on_commit != PG_QUERY__ON_COMMIT_ACTION__ONCOMMIT_DROP)
    outlives(info, OutlivingState::kTempObject, std::string(what) + " without ON COMMIT DROP");
}

// A qualified name (type, domain) whose schema is pg_temp (or a session's own pg_temp_N).
bool temporary(PgQuery__Node* const* names, size_t n) {
  return n >= 2 && names[0] && names[0]->node_case == PG_QUERY__NODE__NODE_STRING &&
         names[0]->string && sv(names[0]->string->sval).starts_with("pg_temp");
}

// Types in pg_temp are found by unqualified name before the tenant's own (PostgreSQL searches
// the temporary schema first for relations and types): a type or domain left behind would
// change what the tenant's next client's casts and columns mean. Aggregates and operators are
// like functions: never found in pg_temp unless named with it.
void temp_definition(StatementInfo& info, const PgQuery__DefineStmt& s) {
  if (s.kind == PG_QUERY__OBJECT_TYPE__OBJECT_AGGREGATE ||
      s.kind == PG_QUERY__OBJECT_TYPE__OBJECT_OPERATOR || !temporary(s.defnames, s.n_defnames))
    return;
  outlives(info, OutlivingState::kTempObject,
           s.kind == PG_QUERY__OBJECT_TYPE__OBJECT_TYPE ? "CREATE TYPE pg_temp.name"
                                                        : "a definition in pg_temp");
}

bool session_advisory_lock(std::string_view name) {
  return name == "pg_advisory_lock" || name == "pg_advisory_lock_shared" ||
         name == "pg_try_advisory_lock" || name == "pg_try_advisory_lock_shared";
}

// The function a name list names (a call's, or the TypeName of CREATE OPERATOR/AGGREGATE's
// FUNCTION = f), as its last part.
std::string_view last_name(PgQuery__Node* const* names, size_t n) {
  if (n == 0 || !names[n - 1] || names[n - 1]->node_case != PG_QUERY__NODE__NODE_STRING ||
      !names[n - 1]->string)
    return {};
  return sv(names[n - 1]->string->sval);
}

void function_call(const PgQuery__FuncCall& f, StatementInfo& info) {
  std::string_view name = last_name(f.funcname, f.n_funcname);
  if (session_advisory_lock(name))
    outlives(info, OutlivingState::kAdvisoryLock,
             "the session-level advisory lock " + std::string(name) + "()");
}

// An operator or aggregate whose function takes a session-level advisory lock: each use of it
// takes one, with no call of the function to be seen in the statement. (CREATE CAST is
// refused anyway: a cast is database-wide.)
void defined_lock(StatementInfo& info, std::string_view function) {
  if (session_advisory_lock(function))
    outlives(
        info, OutlivingState::kAdvisoryLock,
        "a definition running the session-level advisory lock " + std::string(function) + "()");
}

void definition_functions(StatementInfo& info, const PgQuery__DefineStmt& s) {
  for (size_t i = 0; i < s.n_definition; ++i) {
    const PgQuery__Node* d = s.definition[i];
    if (!d || d->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || !d->def_elem) continue;
    const PgQuery__Node* arg = d->def_elem->arg;
    if (!arg || arg->node_case != PG_QUERY__NODE__NODE_TYPE_NAME || !arg->type_name) continue;
    std::string_view function = last_name(arg->type_name->names, arg->type_name->n_names);
    defined_lock(info, function);
    // Its uses would call it with arguments the guard never sees (query text for ts_stat,
    // another tenant's channel for pg_notify, a sequence for nextval): refused as dynamic SQL.
    if (judged_by_arguments(function) && !info.dynamic_sql) {
      info.dynamic_sql_what = "an operator or aggregate over " + std::string(function) + "()";
      info.dynamic_sql = true;
    }
  }
}

}  // namespace

void note_session_state(const ProtobufCMessage* m, StatementInfo& info) {
  const ProtobufCMessageDescriptor* d = m->descriptor;
  if (d == &pg_query__declare_cursor_stmt__descriptor) {
    constexpr int32_t kCursorOptHold = 0x0020;  // CURSOR_OPT_HOLD in PostgreSQL's parsenodes.h
    if (reinterpret_cast<const PgQuery__DeclareCursorStmt*>(m)->options & kCursorOptHold)
      outlives(info, OutlivingState::kHoldCursor, "DECLARE ... WITH HOLD");
  } else if (d == &pg_query__create_stmt__descriptor) {
    const auto* s = reinterpret_cast<const PgQuery__CreateStmt*>(m);
    temp_table(info, s->relation, s->oncommit, "CREATE TEMP TABLE");
  } else if (d == &pg_query__into_clause__descriptor) {
    // CREATE TABLE ... AS and SELECT ... INTO
    const auto* s = reinterpret_cast<const PgQuery__IntoClause*>(m);
    temp_table(info, s->rel, s->on_commit, "a temporary table made by AS or INTO");
  } else if (d == &pg_query__view_stmt__descriptor) {
    if (temporary(reinterpret_cast<const PgQuery__ViewStmt*>(m)->view))
      outlives(info, OutlivingState::kTempObject, "CREATE TEMP VIEW");
  } else if (d == &pg_query__create_seq_stmt__descriptor) {
    if (temporary(reinterpret_cast<const PgQuery__CreateSeqStmt*>(m)->sequence))
      outlives(info, OutlivingState::kTempObject, "CREATE TEMP SEQUENCE");
  } else if (d == &pg_query__create_domain_stmt__descriptor) {
    const auto* s = reinterpret_cast<const PgQuery__CreateDomainStmt*>(m);
    if (temporary(s->domainname, s->n_domainname))
      outlives(info, OutlivingState::kTempObject, "CREATE DOMAIN pg_temp.name");
  } else if (d == &pg_query__create_enum_stmt__descriptor) {
    const auto* s = reinterpret_cast<const PgQuery__CreateEnumStmt*>(m);
    if (temporary(s->type_name, s->n_type_name))
      outlives(info, OutlivingState::kTempObject, "CREATE TYPE pg_temp.name AS ENUM");
  } else if (d == &pg_query__create_range_stmt__descriptor) {
    const auto* s = reinterpret_cast<const PgQuery__CreateRangeStmt*>(m);
    if (temporary(s->type_name, s->n_type_name))
      outlives(info, OutlivingState::kTempObject, "CREATE TYPE pg_temp.name AS RANGE");
  } else if (d == &pg_query__composite_type_stmt__descriptor) {
    if (temporary(reinterpret_cast<const PgQuery__CompositeTypeStmt*>(m)->typevar))
      outlives(info, OutlivingState::kTempObject, "CREATE TYPE pg_temp.name AS (...)");
  } else if (d == &pg_query__define_stmt__descriptor) {
    temp_definition(info, *reinterpret_cast<const PgQuery__DefineStmt*>(m));
    definition_functions(info, *reinterpret_cast<const PgQuery__DefineStmt*>(m));

  } else if (d == &pg_query__listen_stmt__descriptor) {
    outlives(info, OutlivingState::kListen, "LISTEN");
  } else if (d == &pg_query__prepare_stmt__descriptor) {
    outlives(info, OutlivingState::kPrepare, "PREPARE");
  } else if (d == &pg_query__load_stmt__descriptor) {
    outlives(info, OutlivingState::kLoad, "LOAD");
    if (info.survives_discard.empty()) info.survives_discard = "LOAD";
  } else if (d == &pg_query__func_call__descriptor) {
    function_call(*reinterpret_cast<const PgQuery__FuncCall*>(m), info);
  }
}

}  // namespace shardgate::routing::internal
