#include "proxy/session/session_settings.h"

#include <set>

#include "routing/guard/setting_rules.h"
#include "routing/guard/sql_chars.h"

namespace shardgate::proxy {

namespace {

// A setting name lower-cased for a lookup (GUC names are case-insensitive), on the stack for
// names of PostgreSQL's length: every welcome looks up several names, and
// routing::setting_key's string allocates for those over 15 bytes (application_name).
class LookupKey {
 public:
  explicit LookupKey(std::string_view name) {
    if (folded_.assign(name)) {
      key_ = folded_.view();
      return;
    }
    long_ = routing::setting_key(name);
    key_ = long_;
  }
  LookupKey(const LookupKey&) = delete;
  LookupKey& operator=(const LookupKey&) = delete;
  std::string_view view() const { return key_; }

 private:
  routing::FoldedWord folded_;
  std::string long_;
  std::string_view key_;
};

}  // namespace

bool SessionSettings::is_startup_setting(std::string_view name) {
  LookupKey lookup(name);
  std::string_view key = lookup.view();
  // user, database, options and replication are not settings; search_path and shardgate.*
  // are the tenant context; _pq_.* are protocol options.
  return !key.empty() && key != "user" && key != "database" && key != "options" &&
         key != "replication" && key != "search_path" && !key.starts_with("shardgate.") &&
         !key.starts_with("_pq_.");
}

void SessionSettings::add_startup(std::string_view name, std::string_view value) {
  startup_[routing::setting_key(name)] = Named{std::string(name), std::string(value)};
}

const std::string* SessionSettings::startup_value(std::string_view name) const {
  auto it = startup_.find(LookupKey(name).view());
  return it == startup_.end() ? nullptr : &it->second.value;
}

std::vector<std::pair<std::string, std::string>> SessionSettings::startup_values() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, named] : startup_) out.emplace_back(key, named.value);
  return out;
}

namespace {

// What the client's session holds for one name, from its committed change (if any) and its
// startup value (if any), as PostgreSQL would have it: the kind, and for kValue the value
// (pointing into the caller's data).
std::pair<SessionSettings::Kind, const std::string*> wanted(const SessionSettings::Desired* changed,
                                                            const std::string* startup_value) {
  using Kind = SessionSettings::Kind;
  if (changed && changed->kind != Kind::kDefault) return {changed->kind, &changed->value};
  if (startup_value) return {Kind::kValue, startup_value};
  return {Kind::kDefault, nullptr};
}

}  // namespace

SessionSettings::Desired SessionSettings::desired(std::string_view name) const {
  LookupKey key(name);
  auto changed = changed_.find(key.view());
  auto start = startup_.find(key.view());
  auto [kind, value] = wanted(changed == changed_.end() ? nullptr : &changed->second,
                              start == startup_.end() ? nullptr : &start->second.value);
  return {kind, value ? *value : std::string()};
}

void SessionSettings::note_statement(const routing::StatementInfo& info) {
  ++open_.statements;
  if (info.savepoint_step) open_.step = info.savepoint_step;
  if (info.reset_all) {
    // RESET ALL / DISCARD ALL: what came before it in the same request no longer matters.
    open_.writes.clear();
    open_.reset_all = true;
  }
  for (const auto& w : info.setting_writes) {
    // The tenant context (search_path, role) is kept apart; transaction_* last one
    // transaction whatever the form of the SET.
    if (!is_startup_setting(w.name) || w.name == "role" || w.name == "session_authorization" ||
        w.name.starts_with("transaction_"))
      continue;
    open_.writes.push_back(w);
  }
}

void SessionSettings::end_request() {
  queued_.push_back(std::move(open_));
  open_ = Batch{};
}

void SessionSettings::clear_pending() {
  open_ = Batch{};
  queued_.clear();
  transaction_ = Batch{};
  reported_.clear();
  failed_ = false;
  savepoints_.clear();
  request_failed_ = commit_seen_ = false;
}

void SessionSettings::ready(char status, AppliedSettings& conn) {
  bool own_writes = false;
  if (!queued_.empty()) {
    Batch& answered = queued_.front();
    if (answered.reset_all) transaction_ = Batch{{}, true, std::nullopt, 0};
    own_writes = answered.reset_all || !answered.writes.empty();
    transaction_.writes.insert(transaction_.writes.end(), answered.writes.begin(),
                               answered.writes.end());
    if (answered.step && answered.statements == 1 && !request_failed_)
      savepoint_done(*answered.step);
    queued_.erase(queued_.begin());
  }
  request_failed_ = false;
  // COMMIT AND CHAIN alone: what the committed transaction changed is kept now.
  if (status == 'I' || (commit_seen_ && !own_writes)) end_transaction(conn);
  commit_seen_ = false;
}

void SessionSettings::savepoint_done(const routing::SavepointStep& step) {
  using Kind = routing::SavepointStep::Kind;
  if (step.kind == Kind::kSavepoint) {
    savepoints_.push_back({step.name, transaction_.writes.size(), transaction_.reset_all});
    return;
  }
  if (step.kind != Kind::kRelease) return;  // ROLLBACK TO: note_rollback() did it
  // RELEASE: that savepoint and every later one are gone; their changes stay.
  for (size_t i = savepoints_.size(); i-- > 0;) {
    if (savepoints_[i].name != step.name) continue;
    savepoints_.resize(i);
    return;
  }
}

void SessionSettings::note_rollback() {
  using Kind = routing::SavepointStep::Kind;
  const Batch* answered = queued_.empty() ? nullptr : &queued_.front();
  if (!answered || !answered->step || answered->statements != 1 ||
      answered->step->kind != Kind::kRollbackTo) {
    failed_ = true;
    return;
  }
  for (size_t i = savepoints_.size(); i-- > 0;) {
    const Mark& mark = savepoints_[i];
    if (mark.name != answered->step->name) continue;
    // A RESET ALL since the savepoint cannot be taken back by dropping writes: as before.
    if (transaction_.reset_all != mark.reset_all || transaction_.writes.size() < mark.writes) {
      failed_ = true;
      return;
    }
    transaction_.writes.resize(mark.writes);
    savepoints_.resize(i + 1);  // the savepoint itself stays
    failed_ = false;            // the transaction is usable again
    return;
  }
  failed_ = true;  // a savepoint shardgate did not see
}

void SessionSettings::note_report(std::string_view name, std::string_view value) {
  // Only the reported settings a client can change (not server_version, is_superuser, ...).
  static constexpr std::string_view kSettable[] = {"application_name",
                                                   "client_encoding",
                                                   "datestyle",
                                                   "intervalstyle",
                                                   "timezone",
                                                   "standard_conforming_strings",
                                                   "default_transaction_read_only"};
  std::string key = routing::setting_key(name);
  for (auto settable : kSettable)
    if (key == settable) reported_[key] = std::string(value);
}

void SessionSettings::note_failure() { failed_ = request_failed_ = true; }

void SessionSettings::end_transaction(AppliedSettings& conn) {
  if (failed_) {
    // Undone, wholly or in part (a ROLLBACK TO SAVEPOINT shardgate could not follow): the
    // client keeps what it had, and
    // whatever the server connection now holds for these names is re-set before next use.
    for (const auto& w : transaction_.writes) conn[w.name] = std::nullopt;
    for (const auto& [key, value] : reported_) conn[key] = std::nullopt;
    if (transaction_.reset_all) {
      for (auto& [key, value] : conn) value = std::nullopt;
      for (const auto& [key, named] : startup_) conn[key] = std::nullopt;
      for (const auto& [key, change] : changed_) conn[key] = std::nullopt;
    }
  } else {
    std::set<std::string, std::less<>> written;
    if (transaction_.reset_all) {
      changed_.clear();  // back to the startup values; the server, to its own defaults
      conn.clear();
    }
    for (const auto& w : transaction_.writes) {
      // An unknown write (set_config(), a DO block) is known again if the server reported it.
      if (w.known || w.reset) written.insert(w.name);
      if (w.reset) {
        changed_[w.name] = {Kind::kDefault, {}};
        conn.erase(w.name);
      } else if (w.known) {
        changed_[w.name] = {Kind::kValue, w.value};
        conn[w.name] = w.value;
      } else {
        changed_[w.name] = {Kind::kUnknown, {}};
        conn[w.name] = std::nullopt;
      }
    }
    // Changes no SET explains (set_config() in a query), as the server reported them.
    if (!transaction_.reset_all) {
      for (const auto& [key, value] : reported_) {
        if (written.contains(key)) continue;
        changed_[key] = {Kind::kValue, value};
        conn[key] = value;
      }
    }
  }
  transaction_ = Batch{};
  reported_.clear();
  failed_ = false;
  savepoints_.clear();
  request_failed_ = commit_seen_ = false;
}

template <class Visit>
void SessionSettings::each_setting(const AppliedSettings& conn, Visit visit) const {
  // The three maps are sorted by name: one merging walk, no lookups.
  auto c = changed_.begin();
  auto s = startup_.begin();
  auto h = conn.begin();
  while (c != changed_.end() || s != startup_.end() || h != conn.end()) {
    const std::string* key = nullptr;
    for (const std::string* k :
         {c != changed_.end() ? &c->first : nullptr, s != startup_.end() ? &s->first : nullptr,
          h != conn.end() ? &h->first : nullptr})
      if (k && (!key || *k < *key)) key = k;
    const std::string& name = *key;  // the walk advances past it below
    const Desired* change = c != changed_.end() && c->first == name ? &(c++)->second : nullptr;
    const Named* start = s != startup_.end() && s->first == name ? &(s++)->second : nullptr;
    const std::optional<std::string>* have =
        h != conn.end() && h->first == name ? &(h++)->second : nullptr;
    auto [kind, value] = wanted(change, start ? &start->value : nullptr);
    if (kind == Kind::kUnknown) continue;  // only the server knows; leave it
    const std::string* want = kind == Kind::kValue ? value : nullptr;
    bool same = !have ? !want : (*have && want && **have == *want);
    if (!same && !visit(name, start, want)) return;
  }
}

std::vector<SettingCall> SessionSettings::sync(AppliedSettings& conn) const {
  std::vector<SettingCall> calls;
  std::vector<std::pair<std::string, const std::string*>> changes;
  each_setting(conn, [&](const std::string& key, const Named* start, const std::string* want) {
    calls.push_back(
        {start ? start->name : key, want ? std::optional<std::string>(*want) : std::nullopt});
    changes.emplace_back(key, want);
    return true;
  });
  // `want` points into this object, never into `conn`: safe to apply after the walk.
  for (const auto& [key, want] : changes) {
    if (want)
      conn[key] = *want;
    else
      conn.erase(key);
  }
  return calls;
}

bool SessionSettings::in_sync(const AppliedSettings& conn) const {
  // Checked for every request that may queue behind another: one walk, no allocation.
  bool synced = true;
  each_setting(conn, [&](const std::string&, const Named*, const std::string*) {
    synced = false;
    return false;
  });
  return synced;
}

}  // namespace shardgate::proxy
