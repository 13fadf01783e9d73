// Writing a whole buffer to a socket without a trip through the io_context's queue.
//
// Asio's async_write tries the send at once too, but even when it completes there it posts
// its completion to the io_context's queue, and the worker polls epoll (a system call)
// before it runs the coroutine on. write_all() sends straight away and waits for the socket
// only for what did not fit its buffer.
#pragma once

#include <tuple>

#include "pool/asio.h"
#include "protocol/bytes.h"

namespace shardgate {

// How a write leaves: through the io_context's queue like any asio::async_write (the
// default: under load the worker gathers other sockets' events on the way, and measured
// fewer system calls per transaction that way), or at once with write_all(). Logins send at
// once: nothing else is in flight on a connection still logging in, and there is no batch
// to wait for.
enum class Send { kQueued, kAtOnce };

// Callers never have two writes in flight on one socket (as with asio::async_write).
awaitable<std::tuple<error_code, size_t>> write_all(tcp::socket& socket, protocol::ByteSpan bytes);

// The whole buffer, the way `how` says. Not a coroutine: a queued write is asio's own
// awaitable, with no frame of ours around it.
inline awaitable<std::tuple<error_code, size_t>> write_whole(tcp::socket& socket,
                                                             protocol::ByteSpan bytes, Send how) {
  if (how == Send::kAtOnce) return write_all(socket, bytes);
  return asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()), use_nothrow);
}

}  // namespace shardgate
