// LISTEN/UNLISTEN/NOTIFY statements and pg_notify() calls, found by the parse-tree walk and
// located in the text, so channel_names.cc can give each tenant its own channels.
#include <pg_query.h>

#include <algorithm>
#include <cstdint>

#include "routing/guard/statement_walk.h"

namespace shardgate::routing::internal {
namespace {

std::string_view sv(const char* s) { return s ? std::string_view(s) : std::string_view(); }

void refuse(StatementInfo& info, std::string what) {
  if (info.channel_refusal.empty()) info.channel_refusal = std::move(what);
}

const PgQuery__String* string_node(const PgQuery__Node* n) {
  return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string : nullptr;
}

const PgQuery__AConst* string_const(const PgQuery__Node* n) {
  if (!n || n->node_case != PG_QUERY__NODE__NODE_A_CONST || !n->a_const) return nullptr;
  const PgQuery__AConst* c = n->a_const;
  if (c->isnull || c->val_case != PG_QUERY__A__CONST__VAL_SVAL || !c->sval) return nullptr;
  return c;
}

// The channel argument: a string literal, bare or cast to text, varchar or name (no typmod:
// varchar(2) or char(n) would cut the tenant's name down to something else).
const PgQuery__AConst* channel_literal(const PgQuery__Node* n) {
  if (const PgQuery__AConst* c = string_const(n)) return c;
  if (!n || n->node_case != PG_QUERY__NODE__NODE_TYPE_CAST || !n->type_cast) return nullptr;
  const PgQuery__TypeName* t = n->type_cast->type_name;
  if (!t || t->n_typmods != 0 || t->n_array_bounds != 0 || t->setof || t->n_names == 0 ||
      t->n_names > 2) {
    return nullptr;
  }
  for (size_t i = 0; i < t->n_names; ++i) {
    if (!string_node(t->names[i])) return nullptr;
  }
  if (t->n_names == 2 && sv(t->names[0]->string->sval) != "pg_catalog") return nullptr;
  std::string_view type = sv(t->names[t->n_names - 1]->string->sval);
  if (type != "text" && type != "varchar" && type != "name") return nullptr;
  return string_const(n->type_cast->arg);
}

}  // namespace

StatementSpan statement_span(const PgQuery__RawStmt& raw, size_t text_size) {
  StatementSpan span;
  if (raw.stmt_location < 0 || static_cast<size_t>(raw.stmt_location) > text_size) return span;
  span.begin = static_cast<size_t>(raw.stmt_location);
  span.end = raw.stmt_len <= 0
                 ? text_size
                 : std::min(text_size, span.begin + static_cast<size_t>(raw.stmt_len));
  return span;
}

void channel_statement(const ProtobufCMessage* m, bool top_level, StatementSpan span,
                       StatementInfo& info) {
  if (!top_level) {
    refuse(info, "NOTIFY in a rule action");
    return;
  }
  if (span.end <= span.begin) {
    refuse(info, "LISTEN/NOTIFY whose place in the text is unknown");
    return;
  }
  ChannelSite site;
  site.begin = span.begin;
  site.end = span.end;
  if (m->descriptor == &pg_query__listen_stmt__descriptor) {
    site.kind = ChannelSite::Kind::kListen;
    site.channel = sv(reinterpret_cast<const PgQuery__ListenStmt*>(m)->conditionname);
  } else if (m->descriptor == &pg_query__unlisten_stmt__descriptor) {
    site.channel = sv(reinterpret_cast<const PgQuery__UnlistenStmt*>(m)->conditionname);
    // The grammar has no empty channel name: empty is UNLISTEN *.
    site.kind =
        site.channel.empty() ? ChannelSite::Kind::kUnlistenAll : ChannelSite::Kind::kUnlisten;
  } else {
    const auto* n = reinterpret_cast<const PgQuery__NotifyStmt*>(m);
    site.kind = ChannelSite::Kind::kNotify;
    site.channel = sv(n->conditionname);
    site.payload = sv(n->payload);
  }
  info.channel_sites.push_back(std::move(site));
}

void channel_function(const PgQuery__FuncCall& f, StatementInfo& info) {
  if (f.n_funcname == 0 || f.n_funcname > 2) return;
  for (size_t i = 0; i < f.n_funcname; ++i) {
    if (!string_node(f.funcname[i])) return;
  }
  if (sv(f.funcname[f.n_funcname - 1]->string->sval) != "pg_notify") return;
  // A pg_notify in a tenant's own schema is the tenant's function (what its body does is
  // the business of function-body inspection); pg_catalog's is the one that notifies.
  if (f.n_funcname == 2 && sv(f.funcname[0]->string->sval) != "pg_catalog") return;
  if (f.n_args == 0) return;  // PostgreSQL refuses the call
  const PgQuery__AConst* c = f.func_variadic ? nullptr : channel_literal(f.args[0]);
  if (!c || c->location < 0) {
    refuse(info, "pg_notify with a channel name computed at run time");
    return;
  }
  ChannelSite site;
  site.kind = ChannelSite::Kind::kPgNotify;
  site.begin = static_cast<size_t>(c->location);
  site.end = 0;  // resolve_channel_literals() finds where the literal ends
  site.channel = sv(c->sval->sval);
  info.channel_sites.push_back(std::move(site));
}

void resolve_channel_literals(const std::string& text, StatementInfo& info) {
  bool needs_scan = std::any_of(info.channel_sites.begin(), info.channel_sites.end(),
                                [](const ChannelSite& s) { return s.end == 0; });
  if (needs_scan) {
    PgQueryScanResult scan = pg_query_scan(text.c_str());
    PgQuery__ScanResult* tokens =
        scan.error ? nullptr
                   : pg_query__scan_result__unpack(
                         nullptr, scan.pbuf.len, reinterpret_cast<const uint8_t*>(scan.pbuf.data));
    pg_query_free_scan_result(scan);
    size_t n = tokens ? tokens->n_tokens : 0;
    for (ChannelSite& site : info.channel_sites) {
      if (site.end != 0) continue;
      for (size_t i = 0; i < n; ++i) {
        const PgQuery__ScanToken& t = *tokens->tokens[i];
        if (t.start < 0 || static_cast<size_t>(t.start) != site.begin) continue;
        if (t.token != PG_QUERY__TOKEN__SCONST && t.token != PG_QUERY__TOKEN__USCONST) break;
        site.end = static_cast<size_t>(t.end);
        // U&'...' UESCAPE '!': the escape clause belongs to the literal.
        if (t.token == PG_QUERY__TOKEN__USCONST && i + 2 < n &&
            tokens->tokens[i + 1]->token == PG_QUERY__TOKEN__UESCAPE) {
          site.end = static_cast<size_t>(tokens->tokens[i + 2]->end);
        }
        break;
      }
    }
    if (tokens) pg_query__scan_result__free_unpacked(tokens, nullptr);
  }
  std::sort(info.channel_sites.begin(), info.channel_sites.end(),
            [](const ChannelSite& a, const ChannelSite& b) { return a.begin < b.begin; });
  size_t last_end = 0;
  for (const ChannelSite& site : info.channel_sites) {
    if (site.end <= site.begin || site.end > text.size() || site.begin < last_end) {
      refuse(info, "a channel name the guard cannot locate in the text");
      return;
    }
    last_end = site.end;
  }
}

}  // namespace shardgate::routing::internal
