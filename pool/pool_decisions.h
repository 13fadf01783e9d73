// The pool's choices, kept apart from sockets and timers so each can be tested alone
// (tests/unit/pool_decisions_test.cc). ServerPool asks these; it only does the I/O.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace shardgate::pool::decide {

using Duration = std::chrono::steady_clock::duration;

// Which idle connection a tenant gets: the most recently used one already carrying the
// tenant's context (no context switch needed), else the most recently used of all. `idle` is
// ordered oldest first; `tenant_of(element)` is the context a connection carries.
template <class Range, class TenantOf>
auto idle_pick(Range& idle, std::string_view tenant, TenantOf tenant_of) -> decltype(idle.end()) {
  if (idle.begin() == idle.end()) return idle.end();
  for (auto it = idle.end(); it != idle.begin();) {
    --it;
    if (tenant_of(*it) == tenant) return it;
  }
  return std::prev(idle.end());
}

// Connections of a pool that one tenant may not take while another tenant has used the pool
// within the last second: a tenant flooding a shared pool leaves them to the others, whose
// requests then find one free instead of waiting for the flood's next release. About a tenth
// of the pool; none for pools under 4.
inline int headroom(int size) { return size >= 4 ? std::max(1, size / 10) : 0; }

// May a tenant holding `active` connections take one more? Never past its cap
// (max_server_connections_per_tenant); not into the headroom while others are about.
inline bool may_take(int active, std::optional<int> cap, int size, bool others_recent) {
  if (cap && active >= *cap) return false;
  return !(others_recent && active >= size - headroom(size));
}

// After a checkout: keep the connection for the next client, or close it (it predates a
// reload that moved the pool, the server closed it, or it outlived server_lifetime).
inline bool keep_after_use(bool same_generation, bool open, Duration age, Duration lifetime) {
  return same_generation && open && age <= lifetime;
}

// At a maintenance tick, for one idle connection: retire it when it idled past
// server_idle_timeout while the pool holds more than min_pool_size, outlived
// server_lifetime, or was closed by the server.
inline bool retire_idle(Duration idle_for, Duration idle_timeout, int total, int min_size,
                        Duration age, Duration lifetime, bool looks_alive) {
  return (idle_for > idle_timeout && total > min_size) || age > lifetime || !looks_alive;
}

// May a request queue behind another on a busy connection at all? When the pool is full and
// nothing is idle; or, for a tenant whose statements are quick (`quick_statements`), once
// `busy` connections reach the pool's concurrency target (concurrency_target.h; the size
// unless measurements lowered it). Never ahead of another tenant's waiting clients: fair
// queuing decides for them.
inline bool may_pipeline(bool any_pipelines, bool idle_available, int total, int size, int busy,
                         int target, bool quick, bool others_waiting) {
  if (!any_pipelines || others_waiting) return false;
  return (!idle_available && total >= size) || (quick && busy >= target);
}

// Below the pool's size a request queues on a busy connection only for a tenant whose queued
// requests the server answers quickly: under `kQuickStatement` on average, each measured from
// its turn on the connection (the answer before it read) to its ReadyForQuery, which is the
// server's own time for it even on a busy machine. Statements that wait (on I/O, locks,
// sleeps) run better side by side on connections of their own. A measure older than
// `kQuickMeasureKept` is not trusted: the tenant's load may have changed, so it is tried again.
inline constexpr Duration kQuickStatement = std::chrono::milliseconds(1);
inline constexpr Duration kQuickMeasureKept = std::chrono::seconds(10);

inline bool quick_statements(Duration average_turn, Duration since_measured) {
  return since_measured >= kQuickMeasureKept || average_turn < kQuickStatement;
}

// The average after one more measure: a moving average over about the last 32, so a tenant
// with one slow statement in ten stays slow on average (a request queued behind one waits for
// it) instead of flipping with each.
inline Duration next_turn_average(Duration average, Duration took) {
  return average + (took - average) / 32;
}

// Pipelining is on by default (tier pipeline_depth 16). A tenant that ran a long statement
// lately (one that took `kLongStatement` or more from reaching the server to its
// ReadyForQuery) does not pipeline for `kLongStatementHold`: its requests wait for a free
// connection, where a short one is not stuck behind a report. Shorter slow statements are
// left to the slow-statement watch, which stops new requests queueing behind a statement
// after 5-10 ms; a hold on those would switch pipelining off whenever a saturated machine
// delays a statement a few milliseconds, which is when pipelining helps most.
inline constexpr Duration kLongStatement = std::chrono::milliseconds(100);
inline constexpr Duration kLongStatementHold = std::chrono::seconds(10);

inline bool pipelining_after_long_statement(Duration since_long_statement) {
  return since_long_statement >= kLongStatementHold;
}

// A request others may queue behind is not held back to be sent again if its connection
// proves closed by the server at its first answer (the session's retry): that wait would keep
// the queue closed. Instead, a connection that sat idle for `kTrustedIdle` or more is peeked
// (one non-blocking receive) before the request is written; a server that closed it while it
// was idle (a restart, a failover) shows there, and the request goes to a fresh connection.
// Under a saturated pool, where requests queue, connections pass from one client to the
// next within microseconds and skip the peek.
inline constexpr Duration kTrustedIdle = std::chrono::microseconds(100);

inline bool peek_before_pipelining(bool reused, Duration idle_for) {
  return reused && idle_for >= kTrustedIdle;
}

// One busy connection as the pipelining choice sees it.
struct PipelineView {
  std::string_view context_tenant;  // whose search_path the connection carries
  std::string_view last_tenant;     // who ran on it last
  int served = 0;                   // requests served since its lease began
  size_t queued = 0;                // requests waiting behind the one running
  bool open = true;
};

// The busy connection a tenant's request queues behind: one carrying that tenant (context
// and last use), open, with room under `depth` and under the served budget (depth * 4, so a
// lease goes back to the pool where other tenants' clients get their turn), shortest queue
// first. `view_of(element)` gives the PipelineView. end() when none qualifies.
template <class Range, class ViewOf>
auto pipeline_pick(Range& busy, std::string_view tenant, int depth, ViewOf view_of)
    -> decltype(busy.end()) {
  const int max_served = depth * 4;
  auto best = busy.end();
  size_t best_queued = 0;
  for (auto it = busy.begin(); it != busy.end(); ++it) {
    const PipelineView v = view_of(*it);
    if (v.served >= max_served || static_cast<int>(v.queued) + 1 >= depth || !v.open) continue;
    // The names are compared only for a connection that would be the new shortest.
    if (best != busy.end() && v.queued >= best_queued) continue;
    if (v.context_tenant != tenant || v.last_tenant != tenant) continue;
    best = it;
    best_queued = v.queued;
    if (best_queued == 0) break;  // nothing is shorter
  }
  return best;
}

}  // namespace shardgate::pool::decide
