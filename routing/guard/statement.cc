// inspect_statement(): parse with libpg_query (protobuf output, unpacked with the protobuf-c
// runtime that libpg_query itself exports), walk the tree (statement_walk.cc), and recognise
// the session commands shardgate answers itself.
#include "routing/guard/statement.h"

#include <pg_query.h>
#include <pthread.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "routing/guard/function_body.h"
#include "routing/guard/statement_walk.h"

namespace shardgate::routing {
namespace {

// libpg_query turns its tree into protobuf, and protobuf-c unpacks and frees it, by
// recursion, at about 1.7 KB of stack per level of a left-deep chain such as 1+1+...+1: a
// few thousand levels overflow an 8 MB stack. So:
//  - a text of at most kInlineBytes (at most ~kInlineBytes/2 levels: each level needs an
//    operator and an operand) is parsed on the caller's stack (under 2 MB of it);
//  - a longer text is first read with libpg_query's scanner (flat, no recursion) to bound
//    the tree's depth: up to kInlineDepth it is parsed inline as well, up to kMaxDepth on a
//    helper thread with a kBigStackBytes stack (rare: deep texts), and beyond that refused
//    as too complex (PostgreSQL's own max_stack_depth of 2 MB refuses such texts too).
constexpr size_t kInlineBytes = 2048;
constexpr int kInlineDepth = 1000;
// Also bounds CPU: protobuf-c's packing is quadratic in depth (about 50 ms at 5000 levels).
constexpr int kMaxDepth = 5000;
constexpr size_t kBigStackBytes = 128u << 20;  // reserved, touched only as deep as needed
// Depth charged for one level of parentheses or brackets (a subquery in parentheses adds
// SubLink, SelectStmt, ResTarget... levels to the tree).
constexpr int kParenDepth = 4;

// Tokens that add no level of their own: names, constants, parameters, comments.
bool is_leaf_token(PgQuery__Token t) {
  switch (t) {
    case PG_QUERY__TOKEN__IDENT:
    case PG_QUERY__TOKEN__UIDENT:
    case PG_QUERY__TOKEN__FCONST:
    case PG_QUERY__TOKEN__SCONST:
    case PG_QUERY__TOKEN__USCONST:
    case PG_QUERY__TOKEN__BCONST:
    case PG_QUERY__TOKEN__XCONST:
    case PG_QUERY__TOKEN__ICONST:
    case PG_QUERY__TOKEN__PARAM:
    case PG_QUERY__TOKEN__NULL_P:
    case PG_QUERY__TOKEN__TRUE_P:
    case PG_QUERY__TOKEN__FALSE_P:
    case PG_QUERY__TOKEN__DEFAULT:
    case PG_QUERY__TOKEN__ASCII_46:  // .
    case PG_QUERY__TOKEN__SQL_COMMENT:
    case PG_QUERY__TOKEN__C_COMMENT:
      return true;
    default:
      return false;
  }
}

// A conservative bound on the parse tree's depth from the token stream: within one
// parenthesis level, every token other than names, constants and separators may add a level
// (left-deep operator chains), commas/semicolons/AND/OR separate siblings (PostgreSQL
// flattens AND and OR chains), and a parenthesised part adds its own depth.
class DepthEstimate {
 public:
  void add(PgQuery__Token t, PgQuery__Token prev, PgQuery__Token next) {
    Level& top = levels_.back();
    switch (t) {
      case PG_QUERY__TOKEN__ASCII_40:  // (
      case PG_QUERY__TOKEN__ASCII_91:  // [
        levels_.emplace_back();
        break;
      case PG_QUERY__TOKEN__ASCII_41:  // )
      case PG_QUERY__TOKEN__ASCII_93:  // ]
        if (levels_.size() > 1) {
          int d = levels_.back().close() + kParenDepth;
          levels_.pop_back();
          levels_.back().child = std::max(levels_.back().child, d);
        }
        break;
      case PG_QUERY__TOKEN__UNION:
      case PG_QUERY__TOKEN__INTERSECT:
      case PG_QUERY__TOKEN__EXCEPT:
      case PG_QUERY__TOKEN__JOIN:
        ++top.chain;
        break;
      case PG_QUERY__TOKEN__ASCII_59:  // ;
        top.done = top.close();
        top.ops = top.child = top.best = top.chain = 0;
        break;
      case PG_QUERY__TOKEN__ASCII_44:  // ,
      case PG_QUERY__TOKEN__AND:
      case PG_QUERY__TOKEN__OR:
        top.best = std::max(top.best, top.ops + top.child);
        top.ops = top.child = 0;
        break;
      case PG_QUERY__TOKEN__ASCII_45:  // - and + signs of a number: folded into the constant
      case PG_QUERY__TOKEN__ASCII_43:
        if ((prev == PG_QUERY__TOKEN__ASCII_40 || prev == PG_QUERY__TOKEN__ASCII_44) &&
            (next == PG_QUERY__TOKEN__ICONST || next == PG_QUERY__TOKEN__FCONST)) {
          break;
        }
        ++top.ops;
        break;
      default:
        if (!is_leaf_token(t)) ++top.ops;
        break;
    }
  }

  int finish() {
    int deepest = 0;
    while (!levels_.empty()) {
      deepest = std::max(
          deepest, levels_.back().close() + kParenDepth * static_cast<int>(levels_.size() - 1));
      levels_.pop_back();
    }
    return deepest;
  }

 private:
  struct Level {
    int ops = 0;    // operators in the current segment
    int child = 0;  // deepest parenthesised part in the current segment
    int best = 0;   // deepest finished segment
    // UNION/INTERSECT/EXCEPT and JOIN chains span commas and AND/OR (SELECT 1, 2 UNION
    // SELECT 1, 2 UNION ...; a JOIN b ON x AND y JOIN c ...): counted for the whole level.
    int chain = 0;
    int done = 0;  // deepest finished statement (after ';')
    int close() const { return std::max(done, chain + std::max(best, ops + child)); }
  };
  std::vector<Level> levels_ = std::vector<Level>(1);
};

bool estimate_depth(const std::string& text, int& depth, std::string& error) {
  PgQueryScanResult scan = pg_query_scan(text.c_str());
  if (scan.error) {
    error = scan.error->message ? scan.error->message : "syntax error";
    pg_query_free_scan_result(scan);
    return false;
  }
  PgQuery__ScanResult* tokens = pg_query__scan_result__unpack(
      nullptr, scan.pbuf.len, reinterpret_cast<const uint8_t*>(scan.pbuf.data));
  pg_query_free_scan_result(scan);
  if (!tokens) {
    error = "could not read libpg_query's token stream";
    return false;
  }
  DepthEstimate estimate;
  PgQuery__Token prev = PG_QUERY__TOKEN__NUL;
  for (size_t i = 0; i < tokens->n_tokens; ++i) {
    PgQuery__Token t = tokens->tokens[i]->token;
    PgQuery__Token next =
        i + 1 < tokens->n_tokens ? tokens->tokens[i + 1]->token : PG_QUERY__TOKEN__NUL;
    estimate.add(t, prev, next);
    prev = t;
  }
  pg_query__scan_result__free_unpacked(tokens, nullptr);
  depth = estimate.finish();
  return true;
}

void classify_session(const PgQuery__Node& stmt, SessionCommand& out) {
  if (stmt.node_case == PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT && stmt.variable_show_stmt) {
    if (ascii_lower(stmt.variable_show_stmt->name ? stmt.variable_show_stmt->name : "") ==
        "shardgate.tenant") {
      out.kind = SessionCommandKind::kShowTenant;
    }
    return;
  }
  if (stmt.node_case != PG_QUERY__NODE__NODE_VARIABLE_SET_STMT || !stmt.variable_set_stmt) {
    return;
  }
  const PgQuery__VariableSetStmt& v = *stmt.variable_set_stmt;
  std::string name = ascii_lower(v.name ? v.name : "");
  bool value = v.kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE;
  bool reset = v.kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT ||
               v.kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET;
  if (name == "shardgate.tenant") {
    if (value && v.n_args == 1 && internal::constant_text(v.args[0], out.value)) {
      out.kind = SessionCommandKind::kSetTenant;
    } else if (reset) {
      out.kind = SessionCommandKind::kResetTenant;
    }
  } else if (name == "search_path" && value && v.n_args >= 1) {
    std::vector<std::string> schemas;
    for (size_t i = 0; i < v.n_args; ++i) {
      std::string s;
      if (!internal::constant_text(v.args[i], s)) return;
      schemas.push_back(std::move(s));
    }
    out.kind = SessionCommandKind::kSetSearchPath;
    out.value = schemas.front();
    out.schemas = std::move(schemas);
  }
  if (out.kind != SessionCommandKind::kNone) out.local = v.is_local;
}

// SET SESSION CHARACTERISTICS AS TRANSACTION ... sets the default_transaction_* settings, as
// SET would (ISOLATION LEVEL x: a word; READ ONLY/WRITE, [NOT] DEFERRABLE: 1 or 0).
void note_session_characteristics(const PgQuery__VariableSetStmt& v,
                                  std::vector<SettingWrite>& out) {
  static constexpr std::string_view kModes[] = {"transaction_isolation", "transaction_read_only",
                                                "transaction_deferrable"};
  bool all_read = true;
  std::vector<SettingWrite> writes;
  for (size_t i = 0; i < v.n_args; ++i) {
    const PgQuery__Node* a = v.args[i];
    const PgQuery__DefElem* d =
        a && a->node_case == PG_QUERY__NODE__NODE_DEF_ELEM ? a->def_elem : nullptr;
    std::string value;
    std::string_view mode = d ? std::string_view(d->defname ? d->defname : "") : std::string_view();
    if (!d || std::find(std::begin(kModes), std::end(kModes), mode) == std::end(kModes) ||
        !internal::constant_text(d->arg, value)) {
      all_read = false;
      continue;
    }
    if (mode != "transaction_isolation") value = value == "0" ? "off" : "on";
    writes.push_back({"default_" + std::string(mode), false, true, value});
  }
  if (!all_read)  // a form this code does not know: what each setting holds is unknown
    for (auto mode : kModes) writes.push_back({"default_" + std::string(mode), false, false, {}});
  out.insert(out.end(), writes.begin(), writes.end());
}

void note_setting_write(const PgQuery__Node& stmt, std::vector<SettingWrite>& out) {
  if (stmt.node_case != PG_QUERY__NODE__NODE_VARIABLE_SET_STMT || !stmt.variable_set_stmt) return;
  const PgQuery__VariableSetStmt& v = *stmt.variable_set_stmt;
  if (v.is_local || !v.name || !*v.name) return;
  SettingWrite w;
  w.name = ascii_lower(v.name);
  switch (v.kind) {
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE:
      for (size_t i = 0; i < v.n_args && w.known; ++i) {
        std::string part;
        // A typed literal (SET TIME ZONE INTERVAL '...') means more than its text.
        w.known = v.args[i] && v.args[i]->node_case == PG_QUERY__NODE__NODE_A_CONST &&
                  internal::constant_text(v.args[i], part);
        if (i > 0) w.value += ", ";
        w.value += part;
      }
      w.known = w.known && v.n_args > 0;
      break;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
      w.reset = true;
      break;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_CURRENT:
      w.known = false;
      break;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI:
      if (w.name == "session characteristics") note_session_characteristics(v, out);
      return;  // SET TRANSACTION: that transaction only
    default:   // RESET ALL (resets_all)
      return;
  }
  out.push_back(std::move(w));
}

std::optional<SavepointStep> savepoint_step(const PgQuery__Node& stmt) {
  if (stmt.node_case != PG_QUERY__NODE__NODE_TRANSACTION_STMT || !stmt.transaction_stmt)
    return std::nullopt;
  const PgQuery__TransactionStmt& t = *stmt.transaction_stmt;
  SavepointStep step;
  switch (t.kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
      step.kind = SavepointStep::Kind::kSavepoint;
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
      step.kind = SavepointStep::Kind::kRelease;
      break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
      step.kind = SavepointStep::Kind::kRollbackTo;
      break;
    default:
      return std::nullopt;
  }
  if (!t.savepoint_name || !*t.savepoint_name) return std::nullopt;
  step.name = t.savepoint_name;
  return step;
}

std::optional<LoneReset> lone_reset(const PgQuery__Node& stmt) {
  if (stmt.node_case != PG_QUERY__NODE__NODE_VARIABLE_SET_STMT || !stmt.variable_set_stmt)
    return std::nullopt;
  const PgQuery__VariableSetStmt& v = *stmt.variable_set_stmt;
  LoneReset r;
  r.local = v.is_local;
  switch (v.kind) {
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL:
      r.all = r.keyword = true;
      return r;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
      r.keyword = true;
      [[fallthrough]];
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
      if (!v.name || !*v.name) return std::nullopt;
      r.name = ascii_lower(v.name);
      return r;
    default:
      return std::nullopt;
  }
}

}  // namespace

size_t StatementInfo::memory_bytes() const {
  size_t n = sizeof(StatementInfo) + parse_error.capacity() + session.value.capacity() +
             dynamic_sql_what.capacity() + persistent_what.capacity() + database_wide.capacity() +
             server_wide.capacity() + outlives_transaction.capacity() + refused_in_body.capacity() +
             survives_discard.capacity() + (lone_reset ? lone_reset->name.capacity() : 0) +
             (savepoint_step ? savepoint_step->name.capacity() : 0);
  for (const auto& s : session.schemas) n += sizeof(std::string) + s.capacity();
  for (const auto& s : protected_settings) n += sizeof(std::string) + s.capacity();
  for (const auto& s : qualified_schemas) n += sizeof(std::string) + s.capacity();
  for (const auto& w : setting_writes)
    n += sizeof(SettingWrite) + w.name.capacity() + w.value.capacity();
  for (const auto& s : code_schemas) n += sizeof(std::string) + s.capacity();
  n += channel_refusal.capacity();
  for (const auto& c : channel_sites)
    n += sizeof(ChannelSite) + c.channel.capacity() + c.payload.capacity();
  return n;
}

namespace {

// Parses `text` and fills `info`: everything that touches libpg_query's recursion.
void parse_and_walk(const std::string& text, StatementInfo& info) {
  PgQueryProtobufParseResult result = pg_query_parse_protobuf(text.c_str());
  if (result.error) {
    info.parse_error = result.error->message ? result.error->message : "syntax error";
    pg_query_free_protobuf_parse_result(result);
    return;
  }
  PgQuery__ParseResult* tree = pg_query__parse_result__unpack(
      nullptr, result.parse_tree.len, reinterpret_cast<const uint8_t*>(result.parse_tree.data));
  pg_query_free_protobuf_parse_result(result);
  if (!tree) {  // cannot happen with a well-formed libpg_query; fail closed if it does
    info.too_complex = true;
    info.parse_error = "could not read libpg_query's parse tree";
    return;
  }
  info.parsed = true;
  info.statement_count = static_cast<int>(tree->n_stmts);
  for (size_t i = 0; i < tree->n_stmts; ++i) {
    if (tree->stmts[i] && tree->stmts[i]->stmt) {
      const PgQuery__RawStmt& raw = *tree->stmts[i];
      internal::StatementSpan span = internal::statement_span(raw, text.size());
      // The statement's own text, for the PL/pgSQL parser (function_body.h).
      std::string_view own = std::string_view(text).substr(span.begin, span.end - span.begin);
      internal::walk_statement(*raw.stmt, info, own, span);
      note_setting_write(*raw.stmt, info.setting_writes);
      if (internal::resets_all(*raw.stmt)) info.reset_all = true;
    }
  }
  if (!info.channel_sites.empty()) internal::resolve_channel_literals(text, info);
  if (tree->n_stmts == 1 && tree->stmts[0] && tree->stmts[0]->stmt) {
    classify_session(*tree->stmts[0]->stmt, info.session);
    info.lone_reset = lone_reset(*tree->stmts[0]->stmt);
    info.savepoint_step = savepoint_step(*tree->stmts[0]->stmt);
  }
  pg_query__parse_result__free_unpacked(tree, nullptr);
}

struct BigStackJob {
  const std::function<void()>* fn;
  int body_nesting;
};

void* big_stack_thread(void* arg) {
  auto* job = static_cast<BigStackJob*>(arg);
  internal::set_body_nesting(job->body_nesting);
  (*job->fn)();  // libpg_query frees its context at thread exit
  return nullptr;
}

}  // namespace

namespace internal {

bool resets_all(const PgQuery__Node& stmt) {
  if (stmt.node_case == PG_QUERY__NODE__NODE_VARIABLE_SET_STMT && stmt.variable_set_stmt)
    return stmt.variable_set_stmt->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL;
  return stmt.node_case == PG_QUERY__NODE__NODE_DISCARD_STMT && stmt.discard_stmt &&
         stmt.discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL;
}

bool run_on_big_stack(const std::function<void()>& fn) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  BigStackJob job{&fn, body_nesting()};
  pthread_t thread;
  bool ok = pthread_attr_setstacksize(&attr, kBigStackBytes) == 0 &&
            pthread_create(&thread, &attr, big_stack_thread, &job) == 0;
  pthread_attr_destroy(&attr);
  if (ok) pthread_join(thread, nullptr);
  return ok;
}

}  // namespace internal

StatementInfo inspect_statement(std::string_view sql) {
  StatementInfo info;
  // PostgreSQL reads a query string up to its NUL; libpg_query needs the terminator.
  std::string text(sql.substr(0, sql.find('\0')));

  int depth = 0;
  if (text.size() > kInlineBytes) {
    if (!estimate_depth(text, depth, info.parse_error)) return info;
    if (depth > kMaxDepth) {
      info.too_complex = true;
      info.parse_error = "statement nests deeper than the guard's limit of " +
                         std::to_string(kMaxDepth) + " levels";
      return info;
    }
  }
  if (depth <= kInlineDepth) {
    parse_and_walk(text, info);
  } else if (!internal::run_on_big_stack([&] { parse_and_walk(text, info); })) {
    info.too_complex = true;
    info.parse_error = "statement is too deeply nested for the guard (no thread for it)";
  }
  return info;
}

}  // namespace shardgate::routing
