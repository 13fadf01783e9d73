// Internal to routing/function_body.cc: reads the JSON that libpg_query's
// pg_query_parse_plpgsql() writes for a PL/pgSQL function or DO block, and lists the SQL
// embedded in it, each piece with how PostgreSQL reads it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shardgate::routing::internal {

struct PlpgsqlPiece {
  enum class Kind {
    kStatement,   // a whole statement (SQL statement, PERFORM's SELECT, CALL, cursor query)
    kExpression,  // an expression, read by PostgreSQL like the target list of a SELECT
    kAssignment,  // `target := expression` (or `=`), as the assignment statement keeps it
    kTypeName,    // a declared variable's type as written (`s.t%ROWTYPE`, `t.c%TYPE`)
  };
  Kind kind;
  std::string text;
};

struct PlpgsqlBody {
  std::vector<PlpgsqlPiece> pieces;
  // EXECUTE, FOR ... IN EXECUTE, RETURN QUERY EXECUTE, OPEN ... FOR EXECUTE: the first found.
  std::string dynamic_what;
  int functions = 0;  // PLpgSQL_function objects in the output
  int actions = 0;    // of them, with a body ("action")
};

// Reads libpg_query's JSON. False (with `error`) on anything it does not understand:
// malformed JSON, an escape it cannot decode, a string holding a NUL character. No
// recursion: the JSON nests as deep as the PL/pgSQL blocks.
bool read_plpgsql_json(std::string_view json, PlpgsqlBody& out, std::string& error);

}  // namespace shardgate::routing::internal
