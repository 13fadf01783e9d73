#include "proxy/session/idle_timeouts.h"

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>

#include "protocol/messages.h"
#include "proxy/session/client_session.h"

namespace shardgate::proxy {

namespace {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
// Sessions parked in one sweep that make giving memory back worth its walk over the heap.
constexpr size_t kTrimAfterParked = 64;

// Under AddressSanitizer the sanitizer's allocator owns the heap and glibc's malloc is never
// initialised; glibc's malloc_trim (which ASan does not intercept) would initialise it, without
// a lock, from both workers at once, and glibc then aborts at thread exit.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)  // clang's spelling
#define SHARDGATE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(SHARDGATE_ASAN)
constexpr bool kSanitizerHeap = true;
#else
constexpr bool kSanitizerHeap = false;
#endif

// Hands the pages of freed memory to the kernel: jemalloc's purge of every arena when the
// proxy runs on jemalloc (looked up once), else glibc's malloc_trim (glibc returns only the
// heap's top by itself).
void release_free_memory() {
  if (kSanitizerHeap) return;
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  static const auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  constexpr const char* kPurgeAllArenas = "arena.4096.purge";  // 4096: MALLCTL_ARENAS_ALL
  if (mallctl) {
    mallctl(kPurgeAllArenas, nullptr, nullptr, nullptr, 0);
    return;
  }
  malloc_trim(0);
}

// A few looks per shortest limit, so a session ends within about a fifth of its limit late.
milliseconds sweep_interval(const config::Config& c) {
  milliseconds shortest{1000};
  for (milliseconds t : {c.client_idle_timeout, c.idle_transaction_timeout})
    if (t.count() > 0) shortest = std::min(shortest, t / 5);
  return std::clamp(shortest, milliseconds(10), milliseconds(1000));
}
}  // namespace

awaitable<void> sweep_idle_clients(Worker& worker, RuntimeHolder& runtime) {
  asio::steady_timer timer(worker.io);
  size_t parked = 0;
  for (;;) {
    auto rt = runtime.get();
    const config::Config& config = *rt->config;
    timer.expires_after(sweep_interval(config));
    auto [ec] = co_await timer.async_wait(use_nothrow);
    if (ec) co_return;
    bool timeouts =
        config.client_idle_timeout.count() != 0 || config.idle_transaction_timeout.count() != 0;
    auto now = Clock::now();
    // What the sessions parked last time gave back: hand its pages to the kernel.
    if (parked >= kTrimAfterParked) release_free_memory();
    parked = 0;
    for (ClientSession* s : worker.sessions) {
      if (timeouts) s->check_idle(now, config);
      parked += s->park_if_idle(now) ? 1 : 0;
    }
  }
}

void ClientSession::note_activity() { last_activity_ = Clock::now(); }

void ClientSession::check_idle(Clock::time_point now, const config::Config& config) {
  // Idle: past its welcome, nothing asked of a server, not waiting for a pool or a pause.
  if (!welcomed_ || idle_expired_ != IdleExpiry::kNone || !exchange_.quiet() || waiting_) return;
  bool in_transaction = exchange_.in_transaction();
  auto limit = in_transaction ? config.idle_transaction_timeout : config.client_idle_timeout;
  if (limit.count() == 0 || now - last_activity_ < limit) return;
  idle_expired_ = in_transaction ? IdleExpiry::kTransaction : IdleExpiry::kIdle;
  log_event(spdlog::level::info,
            in_transaction ? "idle in transaction too long: session ended"
                           : "client idle too long: session ended",
            &log_, {{"idle_ms", std::to_string(limit.count())}});
  error_code ignored;
  client_.cancel(ignored);  // the pending client read ends; the session sends the FATAL
}

awaitable<void> ClientSession::send_idle_fatal() {
  if (idle_expired_ == IdleExpiry::kTransaction) {
    co_await send_error("FATAL", "25P03",
                        "terminating connection due to idle-in-transaction timeout",
                        "The transaction was rolled back: a client may stay idle inside a "
                        "transaction for at most idle_transaction_timeout.");
  } else {
    co_await send_error("FATAL", "57P05", "terminating connection due to idle-session timeout",
                        "Reconnect; a client may stay idle for at most client_idle_timeout.");
  }
}

}  // namespace shardgate::proxy
