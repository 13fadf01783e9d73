#include "pool/wire_io.h"

namespace shardgate {

awaitable<error_code> read_at_least(tcp::socket& socket, ReadBuffer& buf, size_t n) {
  while (buf.size() < n) {
    auto space = space_toward(buf, n);
    auto [ec, got] =
        co_await socket.async_read_some(asio::buffer(space.data(), space.size()), use_nothrow);
    if (ec) co_return ec;
    buf.commit(got);
  }
  co_return error_code{};
}

namespace {

template <typename Socket, typename Parse>
awaitable<FrameRead> read_frame(Socket& socket, ReadBuffer& buf, Parse parse) {
  for (;;) {
    protocol::Frame f = parse(buf.data());
    if (f.status != protocol::FrameStatus::kNeedMore) co_return FrameRead{error_code{}, f};
    size_t want = f.needed > buf.size() ? f.needed : buf.size() + 1;
    if (error_code ec = co_await read_at_least(socket, buf, want)) co_return FrameRead{ec, f};
  }
}

}  // namespace

awaitable<FrameRead> read_message(tcp::socket& socket, ReadBuffer& buf, size_t max_len) {
  co_return co_await read_frame(socket, buf, [max_len](protocol::ByteSpan in) {
    return protocol::parse_message(in, max_len);
  });
}

awaitable<FrameRead> read_startup_packet(tcp::socket& socket, ReadBuffer& buf) {
  co_return co_await read_frame(
      socket, buf, [](protocol::ByteSpan in) { return protocol::parse_startup_packet(in); });
}

awaitable<error_code> write_bytes(tcp::socket& socket, protocol::ByteSpan bytes) {
  auto [ec, n] = co_await write_whole(socket, bytes, Send::kQueued);
  (void)n;
  co_return ec;
}

awaitable<error_code> read_at_least(Stream& stream, ReadBuffer& buf, size_t n) {
  while (buf.size() < n) {
    auto space = space_toward(buf, n);
    auto [ec, got] = co_await stream.read_some(space);
    if (ec) co_return ec;
    buf.commit(got);
  }
  co_return error_code{};
}

awaitable<FrameRead> read_message(Stream& stream, ReadBuffer& buf, size_t max_len) {
  co_return co_await read_frame(stream, buf, [max_len](protocol::ByteSpan in) {
    return protocol::parse_message(in, max_len);
  });
}

awaitable<FrameRead> read_startup_packet(Stream& stream, ReadBuffer& buf) {
  co_return co_await read_frame(
      stream, buf, [](protocol::ByteSpan in) { return protocol::parse_startup_packet(in); });
}

awaitable<error_code> write_bytes(Stream& stream, protocol::ByteSpan bytes, Send how) {
  auto [ec, n] = co_await stream.write(bytes, how);
  (void)n;
  co_return ec;
}

}  // namespace shardgate
