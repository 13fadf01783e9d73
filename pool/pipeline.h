// Requests of several clients of one tenant in flight on one server connection at once
// (transaction mode, a tier's pipeline_depth > 1, only while the pool is exhausted).
//
// The connection's owner runs its own request; clients that join write theirs behind it and
// queue here in write order. PostgreSQL answers them in that order, each ending with its own
// ReadyForQuery, so when the owner has read its answer the connection passes to the first
// queued client, which reads its own, and so on. The connection goes back to the pool only
// when nobody is queued: ServerPool::release/discard hand it down instead while someone is.
//
// Lifetime rule: a connection with a queued client is never destroyed; it always passes
// down, so a queued client may write to it and wait on it without holding it.
#pragma once

#include <chrono>
#include <deque>
#include <memory>

#include "pool/asio.h"
#include "protocol/bytes.h"

namespace shardgate::pool {

class ServerConnection;

// One queued request's place: lives in the queued client's coroutine frame.
struct PipelineSlot {
  explicit PipelineSlot(asio::any_io_executor executor)
      : wake(executor, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;  // cancelled at the slot's turn
  std::unique_ptr<ServerConnection> granted;
  bool turn = false;
  // When the answer before it was read, so the server began this request: the server's time
  // for it is measured from here (its own wake-up may come later on a busy machine).
  std::chrono::steady_clock::time_point turn_at{};
};

struct Pipeline {
  // Listed by the pool as joinable: the owner runs a request others may queue behind.
  bool open = false;
  std::deque<PipelineSlot*> queue;  // after the owner's request, in write order
  int served = 0;                   // requests on this lease so far (bounded by the pool)
  protocol::Bytes outbox;           // joined requests not written yet (the owner writes them)
  int outbox_requests = 0;          // how many requests `outbox` holds
  protocol::Bytes sending;          // the part being written
  int unanswered = 0;               // written requests whose answers were not read to the end
};

}  // namespace shardgate::pool
