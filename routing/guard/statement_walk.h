// Internal to routing/statement.cc: the parse-tree walk behind inspect_statement().
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/guard/setting_rules.h"
#include "routing/guard/sql_chars.h"
#include "routing/guard/statement.h"

namespace shardgate::routing::internal {

// Walks one parsed statement (every node, iteratively: no recursion however deep the tree)
// and adds what it finds to `info`: protected settings, qualified schemas, dynamic SQL,
// persistent settings, RESET ALL / DISCARD ALL, transaction control. `text` is the
// statement's own text, which the PL/pgSQL parser needs (function_body.h); `span` its bytes
// in the whole text (LISTEN/UNLISTEN/NOTIFY sites replace all of it).
struct StatementSpan {
  size_t begin = 0;
  size_t end = 0;
};
void walk_statement(const PgQuery__Node& stmt, StatementInfo& info, std::string_view text = {},
                    StatementSpan span = {});

// statement.cc: runs `fn` on a short-lived helper thread with a big stack (for libpg_query's
// recursion), carrying the function body nesting level over; false when no thread could be
// made.
bool run_on_big_stack(const std::function<void()>& fn);
// Whether `stmt`, as a statement of its own, is RESET ALL or DISCARD ALL.
bool resets_all(const PgQuery__Node& stmt);

// statement_hooks.cc ------------------------------------------------------------------------

// The message types the walk looks closer at.
enum class WalkHook {
  kRangeVar,
  kFuncCall,
  kTypeName,
  kTypeCast,
  kNameList,  // messages whose repeated-Node name fields are qualified names
  kVariableSet,
  kDoStmt,
  kCreateFunction,
  kAlterFunction,
  kCreateTrigger,
  kAlterRoleSet,
  kAlterDatabaseSet,
  kAlterSystem,
  kDeallocate,
  kOwnedBy,
  kCopy,
  kTransaction,
  kUpdate,
  kCreateSchema,
  kAlterObjectSchema,
  kDrop,
  kComment,
  kSecLabel,
  kAlterOwner,
  kRename,
  kAlterExtensionContents,
  kAlterObjectDepends,
  kGrant,
  kDefElem,
  kReindex,
  kImportForeignSchema,
  kPublicationObjSpec,
  kChannel,
};
// The hook for a message type, or null for one the walk only descends through.
const WalkHook* walk_hook(const ProtobufCMessageDescriptor* descriptor);
// Repeated-Node fields that hold a qualified name (list of String), by field name. Only
// consulted for messages with WalkHook::kNameList and a few others.
bool is_name_list_field(std::string_view field);
// Pushes a message's set children (every message-typed field, repeated or not, the set
// member of a oneof) in field order.
void push_children(const ProtobufCMessage* m, std::vector<const ProtobufCMessage*>& stack);

// statement_channels.cc ---------------------------------------------------------------------

// A RawStmt's span in a text of `text_size` bytes (stmt_len 0: to the end).
StatementSpan statement_span(const PgQuery__RawStmt& raw, size_t text_size);
// LISTEN/UNLISTEN/NOTIFY (`top_level`: the statement itself, not inside a rule action).
void channel_statement(const ProtobufCMessage* m, bool top_level, StatementSpan span,
                       StatementInfo& info);
// pg_notify() / pg_catalog.pg_notify(): its channel literal's start, or a refusal.
void channel_function(const PgQuery__FuncCall& f, StatementInfo& info);
// Gives each pg_notify site the end of its literal, read with libpg_query's scanner (a
// literal it cannot delimit turns into a refusal: fail closed).
void resolve_channel_literals(const std::string& text, StatementInfo& info);

// The string value of a constant (string, integer or float A_Const, possibly under casts),
// or false when the node is not one.
bool constant_text(const PgQuery__Node* node, std::string& out);

// statement_rules.cc ------------------------------------------------------------------------

// Splits a name written inside a string constant the way PostgreSQL's
// stringToQualifiedNameList() does ('s.t', '"S"."t"', ' s . t '): unquoted parts folded to
// lower case (ASCII), "" inside quotes is a quote, parts truncated to 63 bytes. Reading stops
// at `stop` characters outside quotes (e.g. '(' for regprocedure). False on bad syntax.
bool split_qualified_name(std::string_view s, std::string_view stop,
                          std::vector<std::string>& parts);

// reg* types whose input is an object name (regclass, regproc, regtype, regnamespace...).
bool is_reg_type(std::string_view type);

// Functions that run query text or dump whole relations: query_to_xml & kin, ts_stat,
// ts_rewrite, dblink*.
bool is_dynamic_function(std::string_view name);

// statement_walk.cc ---------------------------------------------------------------------------

// Functions the guard judges by the arguments of each call: set_config, the sequence
// functions, pg_notify, statistics views and server files, dynamic SQL. Named by CREATE
// OPERATOR or CREATE AGGREGATE they would run with arguments the guard never reads.
bool judged_by_arguments(std::string_view name);

// Which settings are protected is decided in routing/setting_rules.h, for every path.
using routing::is_on;
using routing::is_protected_setting;
using routing::SettingChange;

}  // namespace shardgate::routing::internal
