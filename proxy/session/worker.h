// One worker thread: its io_context, its acceptor, the sessions running on it and the server
// pools it owns. Everything here is touched only from the worker's own thread.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <unordered_set>

#include "absl/container/flat_hash_map.h"
#include "pool/asio.h"
#include "pool/server_pool.h"
#include "proxy/session/prepared_statements.h"
#include "routing/guard/statement_cache.h"

namespace shardgate::proxy {

class ClientSession;

struct Worker {
  int index = 0;
  // Sockets are only ever used from this worker's thread (handed-off client sockets are
  // re-created here), so the reactor needs no locking; posting from other threads stays safe.
  asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unordered_set<ClientSession*> sessions;
  absl::flat_hash_map<std::string, std::unique_ptr<pool::ServerPool>> pools;
  StatementRegistry statements;
  routing::StatementCache statement_cache;
  // Sequential checkouts waiting on their server, and the tick they started waiting at: a
  // 5 ms ticker hands the ones still waiting after two ticks to the concurrent relay.
  struct SequentialWatch {
    uint64_t tick = 0;
    absl::flat_hash_map<ClientSession*, uint64_t> waiting;
    std::unique_ptr<asio::steady_timer> timer;
    bool running = false;
  } sequential_watch;
  std::thread thread;
};

}  // namespace shardgate::proxy
