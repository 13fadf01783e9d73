// One client connection, from its startup packet to its last byte: negotiation, tenant
// resolution, authentication, routing, server connections and the relay between them.
//
// A session starts on the worker that accepted it. Once it knows its tenant's pool it moves
// to the worker that owns that pool (handoff), so a pool and all its clients share one thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "pool/asio.h"
#include "pool/idle_read.h"
#include "pool/read_buffer.h"
#include "pool/server_connection.h"
#include "pool/server_pool.h"
#include "pool/stream.h"
#include "protocol/bytes.h"
#include "protocol/exchange.h"
#include "protocol/startup.h"
#include "proxy/runtime/cancel_registry.h"
#include "proxy/runtime/log.h"
#include "proxy/runtime/runtime.h"
#include "proxy/session/boxed.h"
#include "proxy/session/lazy_deque.h"
#include "proxy/session/prepared_statements.h"
#include "proxy/session/reset_rewrite.h"
#include "proxy/session/session_settings.h"
#include "proxy/session/worker.h"
#include "proxy/tenants/pause_control.h"
#include "proxy/tenants/tenant_registry.h"
#include "routing/guard/statement.h"
#include "routing/route.h"

namespace shardgate::proxy {

class ClientSession;
struct ContextPrefix;
class StreamScanner;
struct ScannedFrame;

// What every session needs from the process; owned by the Proxy.
struct SessionServices {
  RuntimeHolder& runtime;
  CancelRegistry& cancels;
  TenantRegistry& tenants;
  PauseControl& pauses;
  int workers = 1;
  std::atomic<uint64_t> context_switches{0};
  // Clients past their startup packet, over all workers, and what the open-file limit leaves
  // room for (max_client_conn: auto; 0 = not known, no limit).
  std::atomic<int> clients{0};
  std::atomic<int> client_capacity{0};
};

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(tcp::socket socket, const tcp::endpoint& peer, SessionServices& services,
                Worker& worker, uint64_t id);
  ~ClientSession();

  // Startup, authentication and routing; then serving, here or after a handoff.
  awaitable<void> run();
  // Continues a session handed off to this worker.
  awaitable<void> serve();

  // Handoff support: a session that must move ends its coroutine with the socket detached and
  // a target worker set; the Proxy then resumes it there with attach_socket() + serve().
  void attach_socket(Worker& worker);
  // The worker to move to (and clears it), or -1.
  int take_handoff() {
    int t = handoff_target_;
    handoff_target_ = -1;
    return t;
  }

  // Asks the session to end once its current transaction is over (SIGTERM). Must be called on
  // the session's worker.
  void request_shutdown();
  // Closes both sockets now (shutdown timeout passed).
  void force_close();
  // client_idle_timeout / idle_transaction_timeout: ends the session when it has been idle
  // (or idle inside a transaction) too long (idle_timeouts.cc). On the session's worker.
  void check_idle(std::chrono::steady_clock::time_point now, const config::Config& config);

  // An idle client is parked (idle_park.cc): its coroutine ends and it holds no read buffer
  // until its socket is readable; then the Proxy resumes it with serve(). The worker's sweep
  // parks sessions waiting for a client that has been quiet for a second.
  bool parked() const { return parked_; }
  // True when it asked the session to park (it does once its read is cancelled).
  bool park_if_idle(std::chrono::steady_clock::time_point now);
  // Calls `resume` on the session's worker once the client's socket is readable, has closed
  // or the wait was cancelled (shutdown, idle timeout).
  template <typename Resume>
  void when_readable(Resume resume);

  // What SHOW CLIENTS / SHOW SERVERS report; called on the session's worker.
  struct Info {
    uint64_t id = 0;
    std::string client;
    std::string user;
    std::string tenant;
    std::string shard;
    std::string pool;
    std::string state;  // idle | active | waiting
    char transaction_status = 'I';
    int server_pid = 0;  // 0 = no server connection attached
    std::chrono::steady_clock::time_point server_since{};
  };
  Info describe() const;

  // The session's log fields (tenant, shard, client, session id).
  const LogContext& log_context() const { return log_; }
  // Logs the end of the connection ("client disconnected" once it was connected).
  void log_closed() const;

 private:
  enum class CheckoutEnd {
    kReleased,
    kClientGone,
    kClientTerminated,
    kProtocolError,
    kServerGone,
    kContextFailed,
    kShutdown,
    // The server connection, reused from the pool, turned out closed before any answer: the
    // request was not run and the session is as before it (checkout_retry.cc).
    kStale
  };

  // --- startup (client_session.cc) ---
  awaitable<std::optional<protocol::StartupMessage>> read_startup();
  // --- TLS (session_tls.cc) ---
  // The FATAL 28000 for a plaintext connection that tls.mode: require (or the user's
  // require_tls) refuses; empty when the connection may go on.
  std::optional<routing::RouteError> tls_refusal(const config::UserConfig* user) const;
  // Counts the client against max_client_conn; the 53300 error when it is over.
  std::optional<routing::RouteError> admit();
  // Startup packet through authentication, under client_login_timeout; false = end.
  awaitable<bool> log_in();
  awaitable<void> move_to_owner();
  // When the route's pool lives on another worker: detach the socket for the handoff and
  // return true (the coroutine must then end; the Proxy resumes the session there).
  bool leave_for_owner();
  void detach_socket(int target);
  awaitable<bool> welcome();
  // ParameterStatus for each of `server_params`; with `client_values`, the client's own
  // startup value where it gave one (session_parameters.cc). `shared`, when given, holds the
  // encoded messages of the parameters no client sets (a pool's, the same for all its
  // clients): filled here when empty, copied as they are otherwise.
  void send_parameters(protocol::Bytes& out,
                       const std::vector<std::pair<std::string, std::string>>& server_params,
                       bool client_values, protocol::Bytes* shared = nullptr);
  awaitable<void> send_error(std::string_view severity, std::string_view sqlstate,
                             std::string_view message, std::string_view hint = {});
  // FATAL 57P01: shardgate is shutting down (the one text for every path).
  awaitable<void> say_shutting_down();
  awaitable<void> send_fatal(const routing::RouteError& e) {
    return send_error("FATAL", e.sqlstate, e.message, e.hint);
  }
  // Sets route_ for a tenant (allow-list, directory); the error when it cannot.
  std::optional<routing::RouteError> route_to(const std::string& tenant);

  // --- pools (session_pool.cc) ---
  pool::ServerPool& current_pool();
  awaitable<pool::Lease> acquire_server();
  // acquire_server() when the pool has an idle connection to hand out at once, else nullopt.
  std::optional<pool::Lease> server_at_once();
  void keep_lease(pool::ServerPool& pool, const pool::Lease& lease);
  ContextPrefix prepare_context(pool::ServerConnection& server);
  void return_server(bool reusable);

  // --- serving (session_serve.cc) ---
  bool session_mode() const {
    return route_ && route_->tier->pool_mode == config::PoolMode::kSession;
  }
  awaitable<void> serve_loop();
  // After a checkout with a tenant switch pending (pending_switch_): apply it; true when the
  // session moved worker.
  awaitable<bool> after_switch();
  // Session mode, after the directory changed: a session whose tenant left the directory or
  // moved to another shard cannot follow it on its server connection and is ended (true).
  awaitable<bool> end_if_placement_changed();
  enum class Local { kNeedsServer, kAnswered, kEnd, kMoved };
  // The steps of serve_loop for one client message that needs a server. Each answers with
  // Local: kNeedsServer = go on, kAnswered = read the next message, kEnd = end the session
  // (the loop gives the server connection back), kMoved = return at once (the session ended
  // or lives on another worker now).
  // A routed tenant, not paused, within its rate: route again after a reload, wait out a
  // pause, take from the rate bucket.
  awaitable<Local> admit_request(char type, size_t size);
  // admit_request's usual outcome without a coroutine: kAdmitted; kAsk when admit_request
  // must run (nothing was taken); kObeyRate when the tenant's rate bucket says wait or refuse
  // (`decision`, taken: obey_rate carries it out).
  enum class Admit { kAdmitted, kAsk, kObeyRate };
  Admit admit_at_once(char type, routing::TokenBucket::Decision& decision);
  bool rate_applies(char type) const;
  awaitable<Local> obey_rate(char type, size_t size, routing::TokenBucket::Decision decision);
  // After a reload or a directory change (runtime_changed()): route again (transaction mode),
  // or end a session-mode session whose tenant left or moved (between transactions, or at
  // once when `mid_transaction`).
  awaitable<Local> follow_runtime(char type, size_t size, bool mid_transaction);
  bool runtime_changed() const { return services_.runtime.generation() != runtime_generation_; }
  // A server connection for the request: queued behind a pipelined one of the same tenant
  // (then `joined` is how that checkout ended) or checked out of the pool.
  // `join`: joinable_pipeline(), asked by the caller.
  struct Joinable;
  awaitable<Local> take_server(char type, size_t size, Joinable join,
                               std::optional<CheckoutEnd>& joined);
  // A pooled connection free right now (no wait, nothing to join): true when server_ is set.
  bool take_idle_server();
  // What a checkout's end means for the connection and the session.
  awaitable<Local> after_checkout(CheckoutEnd end);
  // Answers what can be answered without a server (Sync, Flush, Terminate, session commands).
  // answer_at_once decides without writing: kNeedsServer or kEnd, or nullopt when
  // answer_locally must answer (a Query's verdict is left in `action` for it).
  struct StatementAction;
  std::optional<Local> answer_at_once(char type, protocol::ByteSpan body, StatementAction& action);
  awaitable<Local> answer_locally(char type, protocol::ByteSpan body, size_t size,
                                  const StatementAction& action);
  awaitable<void> refuse_request(char type, std::string_view sqlstate, std::string_view message,
                                 std::string_view hint = {});
  awaitable<bool> head_message(char& type, protocol::ByteSpan& body, size_t& size);

  // --- statements and session commands (session_commands.cc) ---
  struct StatementAction {
    // kScopeChannels: forwarded with its LISTEN/NOTIFY channels renamed for the tenant.
    enum class Kind { kForward, kSessionCommand, kRefuse, kScopeChannels } kind = Kind::kForward;
    std::shared_ptr<const routing::StatementInfo> info;
    std::string sqlstate, message, hint;
  };
  StatementAction classify(std::string_view sql);
  // The "statement refused" log line: the reason, the SQLSTATE and the statement text cut
  // as the slow-statement log cuts it (never parameters).
  void log_refusal(std::string_view sql, const StatementAction& action) const;
  // The head Query answer_locally found plainly forwardable (used once, by vet_request).
  std::string forward_memo_;
  bool forward_memo_set_ = false;
  // --- LISTEN/NOTIFY channels per tenant (session_channels.cc) ---
  // A forwarded statement that names channels: scoped to the tenant, or refused.
  void scope_channels(StatementAction& action) const;
  // The text the server gets for a kScopeChannels statement.
  std::string channel_text(std::string_view sql, const routing::StatementInfo& info);
  // Every whole server message bound for the client passes here: false to drop it (a
  // response to shardgate's own message, another tenant's notification); `whole` may be
  // pointed at `scratch` (a notification under the client's channel name).
  bool deliverable(char type, protocol::ByteSpan& whole, std::deque<Expectation>& expect,
                   protocol::Bytes& scratch);
  // Hashed server channel names (too long for <tenant>.<channel>) -> the client's names.
  absl::flat_hash_map<std::string, std::string> hashed_channels_;
  // SET/RESET shardgate.tenant or a tenant's search_path: switches route_; error if refused.
  std::optional<routing::RouteError> apply_session_command(const routing::SessionCommand& cmd);
  // Whether a session command could run (allow-list, directory), without running it.
  std::optional<routing::RouteError> validate_session_command(
      const routing::SessionCommand& cmd) const;
  // The tenant a SET shardgate.tenant or search_path switch names, in `tenant`, or why it
  // cannot be switched to: one rule for applying a command and for checking it ahead.
  std::optional<routing::RouteError> switch_target(const routing::SessionCommand& cmd,
                                                   std::string& tenant) const;
  // A DEALLOCATE of only this client's protocol-level statements (which the server knows
  // under other names): forgets them and returns true; shardgate answers it.
  bool forget_own_statements(const routing::StatementInfo& info);
  // A DEALLOCATE alone in its statement: forget_own_statements may answer it here.
  static bool deallocates_alone(const routing::StatementInfo& info);
  // Answers a simple-protocol session command while no transaction is open.
  awaitable<Local> answer_session_command(const routing::SessionCommand& cmd);
  // Startup settings the guard refuses, and the search_path tenant source at startup.
  std::optional<routing::RouteError> check_startup_settings();
  // Gives back a session-mode server before the session changes tenant.
  awaitable<void> release_session_server();

  // --- session state pooling cannot give back clean (session_state.cc) ---
  // Transaction mode, tier session_state: refuse: a forwarded statement whose effect
  // outlives its transaction becomes a refusal (0A000).
  void refuse_session_state(StatementAction& action) const;
  // A forwarded statement leaves what DISCARD ALL cannot reset (LOAD): the server
  // connection is closed instead of reused.
  void note_session_state(const routing::StatementInfo& info);
  // Session mode, before DISCARD ALL: false when the connection must be closed instead
  // (temporary tables were used on it, or a library loaded).
  awaitable<bool> reusable_after_session();
  bool retire_after_session_ = false;

  // --- RESET to the client's startup values (session_reset.cc, reset_rewrite.h) ---
  // A forwarded RESET / SET ... TO DEFAULT / RESET ALL: the text the server gets instead
  // (empty: as sent); `statement` names a Parse's statement. A Query's reply rewrite waits in
  // reset_reply_ until it is expected; a Parse's, in reset_statements_ and reset_portals_.
  std::string reset_text(char type, std::string_view statement, const routing::StatementInfo& info);
  // After a message is added (`sent`: it went to the server as vetted): a Query's or an
  // Execute's expectation learns the tag its client must see; a Bind, which portals run a
  // rewritten RESET.
  void expect_reset_reply(char type, protocol::ByteSpan body, bool sent);
  // A CommandComplete of a rewritten RESET: the tag of what the client sent, or dropped
  // (false) when it answers one of the SETs shardgate added. Before route_response().
  bool reset_reply(char type, protocol::ByteSpan& whole, std::deque<Expectation>& expect,
                   protocol::Bytes& scratch);
  absl::flat_hash_set<std::string> reset_statements_;
  absl::flat_hash_set<std::string> reset_portals_;
  Boxed<ResetRewrite> reset_reply_;

  // --- the client's own search_path (session_search_path.cc) ---
  // SET search_path TO a list of only the tenant's schema, the shared schemas and the
  // built-in ones is forwarded as written and follows the client from server connection to
  // server connection; anything else is refused (or, with the search_path tenant source, is
  // a tenant switch).
  bool search_path_allowed(const std::vector<std::string>& schemas) const;
  // The search_path the tenant context sets: the client's own list, or the tenant's schema.
  std::string_view context_search_path() const {
    return search_path_.empty() ? std::string_view(default_search_path_)
                                : std::string_view(search_path_);
  }
  // What a server connection's context_tenant holds when it carries this client's context:
  // the tenant, plus the client's search_path when it set one.
  const std::string& context_key() const {
    return search_path_.empty() ? route_->tenant : context_key_;
  }
  void set_search_path(std::string text);
  // SET search_path as a tenant switch (the search_path source): the tenant whose schema
  // comes first, in `tenant`, or why the switch is refused (no such tenant, or schemas that
  // tenant may not use).
  std::optional<routing::RouteError> search_path_switch_target(const routing::SessionCommand& cmd,
                                                               std::string& tenant) const;
  // A forwarded statement that changes search_path (SET search_path, RESET ALL, DISCARD
  // ALL): it takes effect for later transactions once it has committed.
  void note_search_path(const routing::StatementInfo& info);
  // Follows the server's answers for a noted change: kept at ReadyForQuery 'I' unless an
  // error or ROLLBACK came first.
  void track_search_path(char type, protocol::ByteSpan body);
  // After routing at startup: a search_path from the startup options or parameters.
  std::optional<routing::RouteError> read_startup_search_path(std::string_view value);
  std::optional<routing::RouteError> apply_startup_search_path();
  std::string search_path_;          // empty: the tenant's default
  std::string default_search_path_;  // the tenant's schema as PostgreSQL writes it
  std::string context_key_;
  std::optional<std::string> search_path_pending_;
  bool search_path_pending_failed_ = false;
  std::optional<std::vector<std::string>> startup_search_path_;

  // --- the relay of one checkout (checkout/); in session mode it lasts the session ---
  awaitable<CheckoutEnd> run_checkout(const ContextPrefix& prefix);
  // Both directions at once (checkout/concurrent.cc): requests to the server, replies to the
  // client, and a wait for shutdown, sharing one Relay.
  awaitable<CheckoutEnd> run_relay(const ContextPrefix& prefix);
  struct Relay;
  struct Gathered;
  awaitable<void> relay_requests(Relay& relay);
  awaitable<void> relay_replies(Relay& relay);
  awaitable<void> relay_shutdown(Relay& relay);
  // The answers to the tenant-context prefix, swallowed; false when the checkout ended.
  awaitable<bool> relay_prefix_replies(Relay& relay);
  // The client's buffered whole messages, vetted and rewritten into `out`.
  Gathered gather_requests(Relay& relay, protocol::Bytes& out);
  // The server's buffered messages: what to forward (all of `data` up to `consumed`, or `out`
  // once a message was dropped or rewritten).
  Gathered gather_replies(protocol::ByteSpan data, StreamScanner& scanner, protocol::Bytes& out,
                          bool& dropped, protocol::Bytes& scratch);
  // One whole server message on its way to the client (both relay paths): observed, then
  // passed on, rewritten or left out. Once one is not passed as is, `out` holds what the
  // client sees (the bytes of `data` before it, then every message passed on).
  void pass_reply(const ScannedFrame& f, protocol::ByteSpan data, protocol::Bytes& out,
                  bool& dropped, protocol::Bytes& scratch);
  // Session mode between transactions: a pause or a reload ends the checkout here.
  bool leave_between_transactions();
  // One complete client message of a checkout, vetted (guard, session commands, rate) and
  // rewritten (prepared statements) into `out`.
  enum class Added { kAdded, kStopped, kProtocolError };
  Added add_request(char type, protocol::ByteSpan raw, protocol::Bytes& out,
                    RequestRewriter& rewriter, routing::TokenBucket::Clock::duration& throttle);
  // One response to the tenant-context prefix: counts CommandCompletes down and records
  // ParameterStatus; false (context_error_ set) for an ErrorResponse.
  bool absorb_prefix_response(char type, protocol::ByteSpan body, int& remaining);
  // What a whole server message tells us (status, parameters, tags, errors).
  void observe_server_message(char type, protocol::ByteSpan body);
  // After either relay: the bookkeeping; true when the client must be told what failed
  // (report_checkout_failure, a coroutine only for that).
  bool finish_checkout(CheckoutEnd end);
  awaitable<void> report_checkout_failure(CheckoutEnd end);
  // The common transaction-mode case, one simple Query, done without running both
  // directions at once (checkout_sequential.cc): write, then read the server to
  // ReadyForQuery. Empty when the concurrent relay must take over.
  bool sequential_fits();
  awaitable<std::optional<CheckoutEnd>> run_sequential(const ContextPrefix& prefix);
  using Throttle = routing::TokenBucket::Clock::duration;
  // The client's buffered request, vetted and rewritten into `out`; `consumed` bytes of it.
  Added build_request(protocol::Bytes& out, RequestRewriter& rewriter, size_t& consumed,
                      Throttle& throttle);
  // Reads the server to this request's ReadyForQuery, forwarding to the client (or not, with
  // `discard_output`). Empty when the concurrent relay must take over.
  awaitable<std::optional<CheckoutEnd>> relay_response(bool discard_output);
  // Pieces of relay_response (sequential.cc).
  enum class ServerRead { kData, kGone, kHandOver };
  awaitable<ServerRead> read_server_more();
  struct ReplyScan {
    size_t consumed = 0;  // bytes of whole messages (or of a large row passing through)
    bool hand_over = false, dropped = false, answered = false, broken = false;
    ReplyScan& fail() {
      broken = true;
      return *this;
    }
  };
  ReplyScan scan_replies(protocol::ByteSpan data, StreamScanner& scanner, bool queued,
                         protocol::Bytes& scratch);
  std::optional<CheckoutEnd> answer_complete(bool client_lost);
  // Clears the per-checkout state before a request goes out.
  void reset_checkout_state();

  // --- a request that met a closed server connection (checkout_retry.cc) ---
  // What building a request changes in the session, taken before it is built; `armed` when
  // the request may run again on another connection should this one prove closed.
  struct RetryPoint {
    bool armed = false;
    bool head_counted = false;
    int raised_in_server = 0;
    size_t statements = 0;
    bool unnamed_refusal = false;
    std::optional<routing::SessionCommand> unnamed_command;
    std::optional<std::string> search_path_pending;
    bool search_path_pending_failed = false;
    uint64_t queries_taken = 0;
    uint64_t rate_refusals = 0;
  };
  RetryPoint retry_point() const;
  // After the request was built: may it still run again (nothing kept of it in the session)?
  bool retry_possible(const RetryPoint& point) const;
  // Puts the session back as it was at `point`; the request stays in client_buf_.
  void rewind_to(const RetryPoint& point);
  // Reads the server's first answer to a request on a reused connection: false when the
  // connection closed (or the server said FATAL) before anything else, i.e. it was already
  // gone. True as soon as the server answers otherwise or takes longer than the watch.
  awaitable<bool> first_answer_alive();
  // serve_loop after kStale: drops the pool's older idle connections and the dead one; the
  // same request then goes through the loop again, once, on a fresh connection.
  void prepare_retry();
  // The server's own words when it ended a connection with a FATAL in transaction mode: the
  // client is told 08006 with them as detail (its own connection stays open).
  std::string server_farewell_;
  bool lease_reused_ = false;  // the attached server came from the idle list
  std::chrono::steady_clock::duration lease_idle_for_{};  // how long it sat there
  // --- idle limits (idle_timeouts.cc) ---
  enum class IdleExpiry : uint8_t { kNone, kIdle, kTransaction };
  IdleExpiry idle_expired_ = IdleExpiry::kNone;
  // The client's last message, or the last answer it was given: idle time counts from there.
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  void note_activity();
  // The FATAL of an expired idle limit (57P05, or 25P03 inside a transaction).
  awaitable<void> send_idle_fatal();
  // --- parking an idle client (idle_park.cc) ---
  void park();
  bool reading_idle_ = false;    // suspended in head_message's read with nothing buffered
  bool park_requested_ = false;  // the sweep cancelled that read to park the session
  bool parked_ = false;
  bool retrying_ = false;      // kStale: the head request goes through serve_loop again
  bool retried_head_ = false;  // this head request is that second attempt (no third)
  // Query/Execute messages add_request counted against the tenant (its query counter and
  // rate); a request built again after meeting a closed connection skips that many.
  uint64_t queries_taken_ = 0;
  uint64_t recount_skip_ = 0;
  uint64_t rate_refusals_ = 0;  // of those, refused over the rate (such a request is not rebuilt)
  // Session mode: the tenant context for a server connection taken at connect time, retried
  // once on a fresh connection when a pooled one proves closed (session_attach.cc).
  awaitable<pool::ServerResult> attach_session_server(pool::Lease lease);

  // --- pipelining (checkout_pipelined.cc, pool/pipeline.h) ---
  // A busy connection of this tenant's pool the buffered request may queue behind (null:
  // none), and whether the tenant's statements are quick enough to queue before the pool is
  // full (pool::decide::quick_statements), which the pool's concurrency target counts.
  struct Joinable {
    pool::ServerConnection* conn = nullptr;
    bool quick = false;
  };
  Joinable joinable_pipeline();
  // The buffered request is one statement that starts and ends outside a transaction block
  // and needs nothing from the client while it runs.
  bool pipelinable_request() const;
  // Pipelining is on for this session's tier and, lately (as of `now`), for its tenant.
  bool pipelining_on(std::chrono::steady_clock::time_point now) const;
  // `conn` already carries this client's tenant context and parameters.
  bool context_matches(const pool::ServerConnection& conn) const;
  // Writes the request behind the others on `join.conn`, waits for its turn, reads its answer.
  awaitable<CheckoutEnd> run_joined(Joinable join);
  // The owner writes what queued clients appended to `conn`'s pipeline; false on error (the
  // connection is then closed).
  awaitable<bool> flush_pipeline(pool::ServerConnection& conn);
  // The head Query is one statement and no transaction control (set with forward_memo_).
  bool memo_one_statement_ = false;
  // Set by the worker's watch when a sequential checkout waits on its server too long.
  bool sequential_expired_ = false;
  bool state_dirty_ = false;    // the server's session state may differ from what we set
  bool discard_after_ = false;  // a DEALLOCATE ran: retire the connection after the checkout
  std::string context_error_;   // why the tenant context could not be set

 public:
  // The worker's watch found this session's sequential checkout waiting on its server too
  // long: the wait is cancelled and the concurrent relay takes over.
  void expire_sequential();

 private:
  // Turns a client Query/Parse/FunctionCall into what the server must get (guard, session
  // commands, channels); false to stop before this message (answered by shardgate once the
  // checkout ends).
  bool vet_request(char type, protocol::ByteSpan body, protocol::ByteSpan& raw,
                   protocol::Bytes& substitute, std::optional<routing::SessionCommand>& command);
  std::optional<std::string> session_command_stand_in(
      char type, std::string_view name, const routing::SessionCommand& cmd,
      std::optional<routing::SessionCommand>& command);
  // A FunctionCall while the guard is on: replaced in `raw` by a Query that raises 42501.
  bool refuse_fast_path(char type, protocol::ByteSpan& raw, protocol::Bytes& substitute);
  std::string rate_limit_message() const;
  // raise_sql() for a statement sent in the client's statement's place; counts it, so the
  // error it raises reaches the client without the PL/pgSQL context (deliverable()).
  std::string raise_in_server(std::string_view sqlstate, std::string_view message,
                              std::string_view hint);
  int raised_in_server_ = 0;
  static std::string rate_limit_hint();
  // The checkout's first Query was already counted against the rate limit.
  bool head_counted_ = false;
  // Over the rate limit in reject mode: the server raises 53400 in the statement's place.
  void reject_over_rate(char type, protocol::ByteSpan body, protocol::Bytes& out,
                        std::deque<Expectation>& expect);
  // A Parse (re)defines statement `name`: what shardgate noted about an earlier statement of
  // that name (a session command, a refusal, a rewritten RESET) no longer holds.
  void forget_statement_marks(std::string_view name);
  // A Bind of a statement the guard refused (replaced by a parameterless stand-in): the same
  // Bind without its parameters, in `substitute`. False when the statement was not refused.
  bool strip_refused_bind(protocol::ByteSpan body, protocol::Bytes& substitute);
  bool unnamed_refusal_ = false;
  absl::flat_hash_set<std::string> refused_statements_;
  // A Bind executes a prepared session command: validate it and switch after the checkout.
  void schedule_switch(const routing::SessionCommand& cmd);
  // Extended-protocol messages while no tenant is set: only session commands can run.
  awaitable<Local> answer_without_tenant(char type, protocol::ByteSpan body, size_t size);
  // Its parts: 28000 (and skip to Sync); a Parse of a session command; a Bind of one; the
  // Execute that runs it.
  void refuse_without_tenant(protocol::Bytes& out);
  void parse_without_tenant(protocol::ByteSpan body, protocol::Bytes& out);
  void bind_without_tenant(protocol::ByteSpan body, protocol::Bytes& out);
  void execute_without_tenant(protocol::Bytes& out);

  Stream client_;
  ReadBuffer client_buf_{0};  // storage only while the client has bytes in flight
  SessionServices& services_;
  Worker* worker_;
  RuntimePtr runtime_;
  LogContext log_;
  std::optional<ClientKey> key_;
  std::shared_ptr<CancelSlot> cancel_slot_ = std::make_shared<CancelSlot>();
  protocol::StartupMessage startup_;
  // The end of a successful authentication (AuthenticationOk), sent with the next message to
  // the client: the welcome, or the error that ends the login (client_auth.h).
  protocol::Bytes login_reply_;
  protocol::Bytes take_login_reply() { return std::exchange(login_reply_, {}); }
  const config::UserConfig* user_ = nullptr;
  routing::Identity identity_;
  std::optional<routing::Route> route_;
  // The tenant's shared limits and counters; this session counts as one of its clients.
  std::shared_ptr<TenantState> tenant_state_;
  void drop_tenant_state();
  std::string pool_key_;
  pool::ServerPool* pool_cache_ = nullptr;  // current_pool(), for this route on this worker
  // The client's settings by PostgreSQL's rules (session_settings.h), and the reported
  // parameters as the client was last told them (by index in kTrackedParameters; inline, as
  // every client keeps them: the values fit std::string's in-place storage).
  SessionSettings settings_;
  std::array<std::optional<std::string>, 6> client_seen_;
  // ParameterStatus of a context prefix the client must see (a value it was not told yet).
  protocol::Bytes prefix_reports_;
  // From the startup packet, once the guard has checked it (session_parameters.cc).
  void init_settings();
  // Follows a server message of the client's statements for settings_.
  void track_settings(char type, protocol::ByteSpan body);
  // Writes prefix_reports_ to the client; false when the client is gone.
  awaitable<bool> send_prefix_reports();
  // Extended protocol: a statement changes settings when a portal of it runs (Execute), not
  // when it is parsed, and each time it runs. Kept for the statements that change settings
  // only, by name and by the portals bound to them (session_parameters.cc).
  struct SettingStatements {
    using Info = std::shared_ptr<const routing::StatementInfo>;
    absl::flat_hash_map<std::string, Info> statements;
    absl::flat_hash_map<std::string, Info> portals;
  };
  Boxed<SettingStatements> setting_statements_;
  // A Parse's statement: remembered if it changes settings, forgotten otherwise.
  void note_parsed_settings(std::string_view statement,
                            const std::shared_ptr<const routing::StatementInfo>& info);
  // After a Bind or an Execute is added (`sent`: it went to the server): which portals run
  // such a statement; an Execute of one notes its changes.
  void note_portal_settings(char type, protocol::ByteSpan body, bool sent);
  bool welcomed_ = false;
  std::unique_ptr<pool::ServerConnection> server_;
  pool::ServerPool* server_pool_ = nullptr;
  std::string server_tenant_;  // tenant the attached server was acquired for
  std::optional<asio::steady_timer> shutdown_signal_;
  bool shutdown_requested_ = false;
  int handoff_target_ = -1;
  int handoff_fd_ = -1;
  bool handoff_v6_ = false;
  bool admitted_ = false;  // counted in services_.clients
  // When each request whose ReadyForQuery has not come back yet was sent (latency per
  // tenant, slow-statement log).
  struct RequestTiming {
    std::chrono::steady_clock::time_point started;
    char type = 0;
    // Only while the tier logs slow statements: the text, already cut for the log.
    std::string statement;
    size_t statement_bytes = 0;
    // A request that queued on a busy connection: when the answer before it was read (its
    // turn). Unset otherwise.
    std::chrono::steady_clock::time_point turn{};
  };
  LazyDeque<RequestTiming> request_timing_;
  // The tier's slow_query_threshold; zero = off (nothing is captured).
  std::chrono::milliseconds slow_threshold() const {
    return route_ ? route_->tier->slow_query_threshold : std::chrono::milliseconds(0);
  }
  // While slow statements are logged: the statement text of the extended-protocol batch in
  // progress (from its Parse or Bind), logged against its Sync.
  void note_statement(char type, protocol::ByteSpan body);
  std::string batch_statement_;
  std::string unnamed_statement_;
  // Counts the session as in flight for PAUSE while it has requests outstanding.
  void set_in_flight(bool busy);
  bool in_flight_ = false;
  std::shared_ptr<std::atomic<int>> shard_in_flight_;
  // The session is idle and may go on: marks it in flight; false when a pause holds it back
  // (what admit_at_once asks, without a coroutine frame).
  bool enter_unless_paused();
  // Before a transaction: enter_unless_paused(), waiting while the tenant or its shard is
  // paused (PAUSE); false after the tier's pause_timeout. Leaves the session marked in flight
  // when it returns true.
  awaitable<bool> pass_pause_gate();
  // After a reload or an admin change: the session's tenant routed again under the new
  // directory and config. An error when the tenant is gone (3D000).
  std::optional<routing::RouteError> refresh_runtime();
  uint64_t runtime_generation_ = 0;
  // A Query/FunctionCall/Sync goes to the server; its ReadyForQuery came back.
  void begin_request(char type, protocol::ByteSpan body);
  void finish_request();
  // What the conversation with the server connection is waiting for.
  protocol::Exchange exchange_;
  // After a refused extended-protocol message: drop messages up to the next Sync.
  bool skip_to_sync_ = false;
  // Waiting for a server connection (or a pause) before a checkout.
  bool waiting_ = false;
  std::chrono::steady_clock::time_point connected_at_ = std::chrono::steady_clock::now();
  // Buffers reused by every checkout.
  protocol::Bytes request_out_;
  protocol::Bytes response_out_;
  LazyDeque<Expectation> expect_;
  // This client's named prepared statements (transaction mode).
  ClientStatements statements_;
  // A session command met inside a checkout: end the checkout when idle and answer it here.
  bool stop_for_local_ = false;
  // Extended-protocol SET shardgate.tenant: applied once its checkout is over.
  Boxed<routing::SessionCommand> pending_switch_;
  // The unnamed statement is a session command (extended protocol).
  Boxed<routing::SessionCommand> unnamed_command_;
  // The command a portal was bound to while no tenant was set.
  Boxed<routing::SessionCommand> portal_command_;
};

template <typename Resume>
void ClientSession::when_readable(Resume resume) {
  // The peek first: the reactor is edge-triggered, and an edge it saw while no read was
  // pending (bytes or a close that arrived while the read was being cancelled) would not
  // wake a wait started now.
  if (readable_now(client_.socket())) {
    asio::post(client_.get_executor(), std::move(resume));
    return;
  }
  client_.socket().async_wait(tcp::socket::wait_read,
                              [resume = std::move(resume)](error_code) mutable { resume(); });
}

}  // namespace shardgate::proxy
