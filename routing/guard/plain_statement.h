// A fast path for the guard: recognises statements that are plainly harmless without
// parsing them, so simple-protocol queries with literal values (a new text every time, never
// a cache hit) do not pay for a full libpg_query parse.
//
// "Plain" is deliberately narrow and conservative: one SELECT/INSERT/UPDATE/DELETE/VALUES
// statement of unqualified names, ordinary '...' literals, numbers and operators, with none
// of the functions or types through which a statement can name a schema or a setting as data
// (set_config, nextval & co, reg* casts, *_to_xml, dblink*, ts_stat, pg_settings,
// pg_notify: its channel is rewritten per tenant), and none of the words through which it can
// leave state past its transaction (TEMP, session-level advisory locks). Anything
// else, including every comment, quoted identifier, dollar quote, escape string, backslash,
// dot outside a number, second statement, word longer than PostgreSQL's 63-byte names or
// non-ASCII byte, is not plain and goes through the full inspector. A fuzz target checks
// that whatever this calls plain, the full inspector finds nothing to refuse.
#pragma once

#include <string_view>

namespace shardgate::routing {

bool is_plain_statement(std::string_view sql);

// The words (lower case) through which a statement can name a schema, a setting or SQL text
// as data, or leave session state: a statement with one of them is never plain, and has no
// shape (statement_shape.h).
bool is_denied_word(std::string_view lower_word);

// True for the first words of a statement that may be plain or shaped: SELECT, INSERT,
// UPDATE, DELETE, VALUES (lower case).
bool is_plain_first_word(std::string_view lower_word);

// True when the text's first word is SELECT, INSERT, UPDATE, DELETE, VALUES, WITH or TABLE
// (after ASCII whitespace, any case): a statement that cannot open a transaction block, start
// COPY or answer with anything but rows and one CommandComplete. Used to decide which
// requests may queue behind another client's on one server connection (a tier's
// pipeline_depth). A leading comment or parenthesis gives false: conservative, not clever.
// One statement is the caller's business (an extended-protocol Parse holds one at most).
bool starts_as_dml(std::string_view sql);

}  // namespace shardgate::routing
