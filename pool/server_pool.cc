#include "pool/server_pool.h"

#include "pool/pool_decisions.h"

#include <algorithm>

namespace shardgate::pool {

namespace {
using Clock = std::chrono::steady_clock;
constexpr Millis kMaxBackoff{5000};
constexpr Millis kFirstBackoff{250};
}  // namespace

ServerPool::ServerPool(asio::any_io_executor executor, PoolSettings settings, ConnectTarget target)
    : executor_(std::move(executor)),
      settings_(std::move(settings)),
      target_(std::move(target)),
      concurrency_(settings_.size) {
  maintenance_ = std::make_unique<asio::steady_timer>(executor_);
  asio::co_spawn(executor_, maintain(), asio::detached);
}

ServerPool::~ServerPool() {
  *alive_ = false;
  maintenance_->cancel();
  for (auto& c : idle_) c->close();
}

bool ServerPool::under_cap(std::string_view tenant) const {
  bool others = other_tenant_recent(tenant);
  if (!settings_.per_tenant_cap && !others) return true;
  auto it = tenant_active_.find(std::string(tenant));
  int active = it == tenant_active_.end() ? 0 : it->second;
  return decide::may_take(active, settings_.per_tenant_cap, settings_.size, others);
}

void ServerPool::note_tenant(std::string_view tenant, Clock::time_point now) {
  if (tenant.empty()) return;  // the pool's own opens (min_pool_size, warm)
  if (latest_.tenant != tenant) {
    previous_ = std::move(latest_);
    latest_.tenant.assign(tenant);
  }
  latest_.at = now;
}

bool ServerPool::other_tenant_recent(std::string_view tenant) const {
  const SeenTenant& other = latest_.tenant != tenant ? latest_ : previous_;
  return !other.tenant.empty() && Clock::now() - other.at < kOthersWindow;
}

std::unique_ptr<ServerConnection> ServerPool::take_idle(std::string_view tenant) {
  while (!idle_.empty()) {
    auto pick = decide::idle_pick(
        idle_, tenant, [](const auto& c) -> std::string_view { return c->context_tenant; });
    std::unique_ptr<ServerConnection> conn = std::move(*pick);
    idle_.erase(pick);
    if (conn->idle_ticket != 0) {
      error_code ignored;
      conn->stream().socket().cancel(ignored);  // ends the idle watch
      conn->idle_ticket = 0;
    }
    if (conn->pool_generation == generation_ && usable_now(*conn)) return conn;
    conn->close();  // stale: closed by the server, or from before a reload
    --total_;
  }
  return nullptr;
}

void ServerPool::forget(const std::string& tenant) {
  auto it = tenant_active_.find(tenant);
  if (it != tenant_active_.end() && --it->second <= 0) tenant_active_.erase(it);
}

void ServerPool::dispatch() {
  while (!waiters_.empty()) {
    if (idle_.empty() && total_ >= settings_.size) return;
    Waiter* w = waiters_.pop([this](std::string_view t) { return under_cap(t); });
    if (!w) return;
    ++tenant_active_[w->tenant];
    w->granted = take_idle(w->tenant);
    w->reused = w->granted != nullptr;
    if (!w->granted) {
      if (total_ >= settings_.size) {  // every idle connection was stale and the pool is full
        forget(w->tenant);
        waiters_.push(w);
        return;
      }
      ++total_;
      w->slot = true;
    }
    w->timer->cancel();
  }
}

awaitable<Lease> ServerPool::open(const std::string& tenant) {
  // The caller holds a slot: total_ and tenant_active_ already count this connection.
  if (Clock::now() < down_until_) {
    --total_;
    forget(tenant);
    dispatch();
    co_return Lease{nullptr,
                    {ServerResult::Kind::kUnreachable, "08006",
                     "shard \"" + settings_.shard +
                         "\" is down; shardgate retries its connection with backoff"},
                    {}};
  }
  auto alive = alive_;
  ++connecting_;
  auto conn = std::make_unique<ServerConnection>(executor_);
  ServerResult r = co_await conn->connect(target_, settings_.connect_timeout);
  if (!*alive)
    co_return Lease{nullptr, {ServerResult::Kind::kUnreachable, "08006", "pool closed"}, {}};
  --connecting_;
  counters_.last_connect = r.kind == ServerResult::Kind::kUnreachable ? -1 : 1;
  counters_.last_connect_at = Clock::now();
  if (!r.ok()) {
    --total_;
    forget(tenant);
    ++counters_.connect_failures;
    if (r.kind == ServerResult::Kind::kUnreachable) {
      backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
      down_until_ = Clock::now() + backoff_;
    }
    dispatch();
    co_return Lease{nullptr, r, {}};
  }
  backoff_ = Millis{0};
  conn->pool_generation = generation_;
  if (welcome_.empty()) welcome_ = conn->parameters();
  co_return Lease{std::move(conn), {}, {}};
}

std::optional<Lease> ServerPool::acquire_at_once(const std::string& tenant) {
  auto start = Clock::now();
  note_tenant(tenant, start);
  if (!waiters_.empty() || !under_cap(tenant)) return std::nullopt;
  auto conn = take_idle(tenant);
  if (!conn) return std::nullopt;
  ++tenant_active_[tenant];
  ++counters_.acquired;
  wait_.observe(Clock::now() - start);
  return Lease{std::move(conn), {}, {}, true};
}

awaitable<Lease> ServerPool::acquire(const std::string& tenant, int weight, Millis timeout) {
  if (auto lease = acquire_at_once(tenant)) co_return std::move(*lease);
  auto alive = alive_;
  auto start = Clock::now();
  if (waiters_.empty() && under_cap(tenant)) {
    if (total_ < settings_.size) {
      ++total_;
      ++tenant_active_[tenant];
      Lease lease = co_await open(tenant);
      if (lease.conn) {
        ++counters_.acquired;
        wait_.observe(Clock::now() - start);
      }
      co_return lease;
    }
  }
  asio::steady_timer timer(executor_);
  timer.expires_after(timeout);
  Waiter w{tenant, weight, &timer, nullptr, false};
  waiters_.push(&w);
  dispatch();
  if (!w.granted && !w.slot) co_await timer.async_wait(use_nothrow);
  if (!*alive)
    co_return Lease{nullptr, {ServerResult::Kind::kUnreachable, "08006", "pool closed"}, {}};
  auto waited = std::chrono::duration_cast<Millis>(Clock::now() - start);
  if (w.granted) {
    ++counters_.acquired;
    wait_.observe(Clock::now() - start);
    co_return Lease{std::move(w.granted), {}, waited, w.reused};
  }
  if (w.slot) {
    Lease lease = co_await open(tenant);
    lease.waited = waited;
    if (lease.conn) {
      ++counters_.acquired;
      wait_.observe(Clock::now() - start);
    }
    co_return lease;
  }
  waiters_.remove(&w);
  ++counters_.timeouts;
  co_return Lease{nullptr,
                  {ServerResult::Kind::kRefused, "53300",
                   "pool for tenant \"" + tenant + "\" on shard \"" + settings_.shard +
                       "\" is exhausted: no server connection became free within " +
                       std::to_string(timeout.count()) + " ms"},
                  waited};
}

bool ServerPool::pass_down(std::unique_ptr<ServerConnection>& conn) {
  Pipeline& pipe = conn->pipeline;
  if (pipe.queue.empty()) {
    close_pipeline(*conn);
    pipe.served = 0;
    pipe.unanswered = 0;
    return false;
  }
  --pipe.unanswered;  // the owner's request was answered
  PipelineSlot* next = pipe.queue.front();
  pipe.queue.pop_front();
  next->turn = true;
  next->turn_at = std::chrono::steady_clock::now();
  next->granted = std::move(conn);
  next->wake.cancel();
  return true;
}

void ServerPool::open_pipeline(ServerConnection& conn) {
  if (settings_.pipeline_depth <= 1 || conn.pipeline.open) return;
  conn.pipeline.open = true;
  if (conn.pipeline.queue.empty()) conn.pipeline.unanswered = 1;  // the owner's own request
  pipelines_.push_back(&conn);
}

void ServerPool::close_pipeline(ServerConnection& conn) {
  if (!conn.pipeline.open) return;
  conn.pipeline.open = false;
  std::erase(pipelines_, &conn);
}

ServerConnection* ServerPool::pipeline_for(std::string_view tenant, bool quick) {
  // Never ahead of another tenant's waiting clients; ahead of this tenant's own, whose
  // requests could not queue when they came.
  if (!decide::may_pipeline(!pipelines_.empty(), !idle_.empty(), total_, settings_.size, busy(),
                            concurrency_.limit(), quick,
                            !waiters_.empty() && !waiters_.only_tenant(tenant)))
    return nullptr;
  auto it = decide::pipeline_pick(
      pipelines_, tenant, settings_.pipeline_depth, [](const ServerConnection* c) {
        return decide::PipelineView{c->context_tenant, c->last_tenant, c->pipeline.served,
                                    c->pipeline.queue.size(), c->is_open()};
      });
  return it == pipelines_.end() ? nullptr : *it;
}

void ServerPool::release(std::unique_ptr<ServerConnection> conn, const std::string& tenant) {
  if (settings_.pipeline_depth > 1) concurrency_.answered(Clock::now(), busy());
  if (pass_down(conn)) return;
  forget(tenant);
  if (!decide::keep_after_use(conn->pool_generation == generation_, conn->is_open(),
                              Clock::now() - conn->created_at, settings_.lifetime)) {
    conn->close();
    --total_;
  } else {
    // Watched from the next maintenance tick on: most returns are taken again within
    // microseconds, and arming a watch costs a syscall.
    conn->last_used = Clock::now();
    idle_.push_back(std::move(conn));
  }
  dispatch();
}

bool ServerPool::usable_now(ServerConnection& conn) {
  // Ask the kernel unless the connection came back moments ago: a server that closed it in
  // that window is met by the session's retry (a watch's verdict still queued is covered
  // the same way).
  bool recent = Clock::now() - conn.last_used < settings_.trust_recent;
  return recent ? conn.is_open() : conn.looks_alive();
}

void ServerPool::watch_idle(ServerConnection& conn) {
  conn.idle_ticket = ++idle_tickets_;
  // A peeking receive rather than async_wait(wait_read): Asio re-registers the descriptor with
  // epoll (one epoll_ctl) for every wait, while a receive finds it registered already. Peeked
  // bytes stay in the socket; the connection is closed anyway when any arrive.
  conn.stream().socket().async_receive(
      asio::buffer(&conn.idle_probe, 1), tcp::socket::message_peek,
      [this, alive = alive_, c = &conn, ticket = conn.idle_ticket](error_code ec, size_t) {
        // Cancelled: the connection left the idle list (or the pool is gone). Anything else
        // (a byte, end of stream, a reset) means the server spoke or left while idle.
        if (ec == asio::error::operation_aborted || !*alive) return;
        drop_watched(c, ticket);
      });
}

void ServerPool::drop_watched(ServerConnection* conn, uint64_t ticket) {
  // Only a connection still idle since the watch began: compared by address and ticket, so a
  // connection checked out (or freed) meanwhile is never touched.
  auto it = std::find_if(idle_.begin(), idle_.end(), [&](const auto& c) {
    return c.get() == conn && c->idle_ticket == ticket;
  });
  if (it == idle_.end()) return;
  (*it)->close();
  idle_.erase(it);
  --total_;
  ++counters_.stale_dropped;
  dispatch();
}

void ServerPool::drop_idle_opened_before(std::chrono::steady_clock::time_point since) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    if ((*it)->created_at < since) {
      (*it)->close();
      it = idle_.erase(it);
      --total_;
      ++counters_.stale_dropped;
    } else {
      ++it;
    }
  }
  dispatch();
}

void ServerPool::discard(std::unique_ptr<ServerConnection> conn, const std::string& tenant) {
  if (conn) {
    conn->close();
    if (pass_down(conn)) return;
  }
  forget(tenant);
  --total_;
  dispatch();
}

void ServerPool::update(PoolSettings settings, ConnectTarget target) {
  bool moved = target.host != target_.host || target.port != target_.port ||
               target.user != target_.user || target.password != target_.password ||
               target.database != target_.database;
  settings_ = std::move(settings);
  target_ = std::move(target);
  concurrency_.resize(settings_.size);
  if (moved) {
    ++generation_;
    welcome_.clear();
    welcome_bytes_.clear();
    down_until_ = {};
  }
  dispatch();
}

void ServerPool::close_idle() {
  for (auto& c : idle_) c->close();
  total_ -= static_cast<int>(idle_.size());
  idle_.clear();
  maintenance_->cancel();
}

PoolStats ServerPool::stats() const {
  PoolStats s = counters_;
  s.wait = wait_.snapshot();
  s.idle = static_cast<int>(idle_.size());
  s.connecting = connecting_;
  s.active = busy();
  s.waiting = static_cast<int>(waiters_.size());
  s.concurrency_target = settings_.pipeline_depth > 1 ? concurrency_.limit() : settings_.size;
  return s;
}

void ServerPool::warm(int n) {
  n = std::min(n, settings_.size);
  while (total_ < n && Clock::now() >= down_until_) {
    ++total_;
    ++tenant_active_[""];
    asio::co_spawn(executor_, open_spare(), asio::detached);
  }
}

awaitable<void> ServerPool::open_spare() {
  auto alive = alive_;
  Lease lease = co_await open("");
  if (*alive && lease.conn) release(std::move(lease.conn), "");
}

awaitable<void> ServerPool::maintain() {
  auto alive = alive_;
  for (;;) {
    maintenance_->expires_after(std::chrono::seconds(1));
    auto [ec] = co_await maintenance_->async_wait(use_nothrow);
    if (!*alive || ec) co_return;
    auto now = Clock::now();
    // Retire idle connections past server_idle_timeout (down to min_pool_size) or
    // server_lifetime, oldest first. A watched connection needs no peek (a system call): its
    // watch drops it as soon as the server speaks or closes.
    for (auto it = idle_.begin(); it != idle_.end();) {
      bool server_there = (*it)->idle_ticket != 0 || (*it)->looks_alive();
      if (decide::retire_idle(now - (*it)->last_used, settings_.idle_timeout, total_,
                              settings_.min_size, now - (*it)->created_at, settings_.lifetime,
                              server_there)) {
        (*it)->close();
        it = idle_.erase(it);
        --total_;
      } else {
        if ((*it)->idle_ticket == 0) watch_idle(**it);
        ++it;
      }
    }
    // Keep min_pool_size connections open, one new connection per tick.
    if (total_ < settings_.min_size && total_ < settings_.size && now >= down_until_) {
      ++total_;
      ++tenant_active_[""];
      co_await open_spare();
      if (!*alive) co_return;
    }
    dispatch();
  }
}

}  // namespace shardgate::pool
