// A client's session settings kept by PostgreSQL's rules, so that they follow the client
// from server connection to server connection (transaction mode) and survive shardgate's own
// context statements (both modes). Sans-I/O: fed with what the client sends and what the
// server answers, it says which set_config() calls a server connection needs.
//
// The rules, as PostgreSQL applies them to a direct connection:
//  - setting names are case-insensitive (`datestyle` is `DateStyle`);
//  - startup values come from the `-c` options first, then the startup parameters (the later
//    wins), and are what RESET, SET ... TO DEFAULT and RESET ALL go back to;
//  - a session-level SET or RESET counts once its transaction commits; a ROLLBACK or an error
//    undoes it, a ROLLBACK TO SAVEPOINT what came after the savepoint; SET LOCAL ends with its
//    transaction and is not kept at all;
//  - the client's latest committed SET wins over its startup value.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "routing/guard/statement.h"

namespace shardgate::proxy {

// What a server connection holds of the settings shardgate and its clients changed, by
// lower-case name: the value, or nullopt when unknown (changed in a way shardgate could not
// follow). An absent name is at the server connection's own default.
using AppliedSettings = std::map<std::string, std::optional<std::string>, std::less<>>;

// One call of the context prefix: set_config(name, value), or set_config(name, NULL) (a
// RESET to the server connection's default) when value is empty.
struct SettingCall {
  std::string name;
  std::optional<std::string> value;
  bool operator==(const SettingCall&) const = default;
};

class SessionSettings {
 public:
  // Startup parameters that are not settings (or that shardgate manages itself).
  static bool is_startup_setting(std::string_view name);
  // Whether note_statement() has anything to note in `info` (a setting written, RESET ALL or
  // DISCARD ALL, a savepoint step): the one list of what this class reads of a statement.
  static bool reads(const routing::StatementInfo& info) {
    return info.reset_all || !info.setting_writes.empty() || info.savepoint_step;
  }
  // Call for the `-c` options first, then the startup parameters.
  void add_startup(std::string_view name, std::string_view value);

  // The client's startup value of `name` (any case), or null when it gave none.
  const std::string* startup_value(std::string_view name) const;
  // Every startup value, by lower-case name.
  std::vector<std::pair<std::string, std::string>> startup_values() const;

  enum class Kind { kDefault, kValue, kUnknown };
  struct Desired {
    Kind kind = Kind::kDefault;
    std::string value;
  };
  // What the client's session holds for `name` (any case) as PostgreSQL would have it.
  Desired desired(std::string_view name) const;

  // A statement the client sends: its SETs, RESETs and RESET ALL / DISCARD ALL belong to
  // the request being sent, which end_request() closes (a Query, a Sync).
  void note_statement(const routing::StatementInfo& info);
  void end_request();
  // A ParameterStatus the server sent during the client's statements (e.g. set_config()).
  void note_report(std::string_view name, std::string_view value);
  // An error: the transaction's changes may have been undone (unless a ROLLBACK TO SAVEPOINT
  // recovers it).
  void note_failure();
  // A CommandComplete "ROLLBACK": of the transaction, or, when the request answered is a lone
  // ROLLBACK TO SAVEPOINT, of what the transaction changed since that savepoint.
  void note_rollback();
  // A CommandComplete "COMMIT": with the transaction still open after it (COMMIT AND CHAIN),
  // what came before is kept at the ReadyForQuery.
  void note_commit() { commit_seen_ = true; }
  // A ReadyForQuery: the oldest request is answered. At 'I' its transaction is over: what it
  // changed is kept (or, after a failure, forgotten), for the client and for the server
  // connection `conn` that ran it.
  void ready(char status, AppliedSettings& conn);
  // A checkout begins: nothing of an earlier, broken one is outstanding.
  void clear_pending();

  // The set_config() calls that give `conn` the client's settings; updates `conn`.
  std::vector<SettingCall> sync(AppliedSettings& conn) const;
  bool in_sync(const AppliedSettings& conn) const;

 private:
  struct Named {
    std::string name;  // as the client spelled it
    std::string value;
  };
  // A committed change: kValue (SET), kDefault (RESET: back to the startup value), kUnknown.
  std::map<std::string, Desired, std::less<>> changed_;
  std::map<std::string, Named, std::less<>> startup_;
  struct Batch {
    std::vector<routing::SettingWrite> writes;
    bool reset_all = false;
    std::optional<routing::SavepointStep> step;  // a lone SAVEPOINT / RELEASE / ROLLBACK TO
    int statements = 0;  // noted; a step counts only as the request's one statement
  };
  // A savepoint of the open transaction: how many of its writes came before it.
  struct Mark {
    std::string name;
    size_t writes = 0;
    bool reset_all = false;
  };
  void savepoint_done(const routing::SavepointStep& step);
  void end_transaction(AppliedSettings& conn);
  // Calls visit(name, startup entry or null, value) for each name, in name order, that
  // `conn` must set to hold what the client's session does (value null: the server's
  // default; it points into this object); stops when visit returns false.
  template <class Visit>
  void each_setting(const AppliedSettings& conn, Visit visit) const;
  Batch open_;                 // the request being sent
  std::vector<Batch> queued_;  // sent, not answered yet (oldest first)
  Batch transaction_;          // answered, in the open transaction
  std::map<std::string, std::string, std::less<>> reported_;
  bool failed_ = false;
  std::vector<Mark> savepoints_;
  bool request_failed_ = false;  // an error in the request being answered
  bool commit_seen_ = false;
};

}  // namespace shardgate::proxy
