// The Asio pieces shardgate uses, in one place. Boost 1.81 wants <utility> first.
#pragma once

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace shardgate {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
using error_code = boost::system::error_code;

}  // namespace shardgate
