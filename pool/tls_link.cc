#include "pool/tls_link.h"

#include <openssl/err.h>

#include <algorithm>
#include <boost/asio/ssl/error.hpp>

namespace shardgate {

namespace {

// One record's worth encrypted at a time, then written out: the output buffers stay one
// record large (pool/tls_buffers.cc keeps that much), and a long stream allocates nothing.
constexpr size_t kWriteSlice = 16 * 1024;

// An SSL_* call's failure is read from the thread's error queue, so it must start empty.
// ERR_clear_error() on an empty queue still walks and frees all of its slots (about 900
// instructions, 16 calls to free): it runs only when there is something to clear.
void start_with_no_errors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

}  // namespace

TlsLink::TlsLink(SSL* ssl) : ssl_(ssl) {
  BIO* in = buffers_.new_bio();
  BIO* out = buffers_.new_bio();
  if (!in || !out) {  // out of memory: the handshake fails on the missing BIO, and says so
    BIO_free(in);
    BIO_free(out);
    return;
  }
  SSL_set_bio(ssl_, in, out);  // the SSL object owns both BIOs from here
}

TlsLink::~TlsLink() { SSL_free(ssl_); }

void TlsLink::seed(protocol::ByteSpan ciphertext) { buffers_.add_input(ciphertext); }

error_code TlsLink::failure(int ret) {
  int kind = SSL_get_error(ssl_, ret);
  if (kind == SSL_ERROR_ZERO_RETURN) {
    error_ = "the peer closed the TLS connection";
    return asio::error::eof;
  }
  unsigned long code = ERR_peek_last_error();
  if (code == 0) {
    error_ = kind == SSL_ERROR_WANT_READ ? "TLS renegotiation is not supported"
                                         : "unexpected end of the TLS stream";
    ERR_clear_error();
    return asio::error::connection_aborted;
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  error_ = text;
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    error_ += ": ";
    error_ += X509_verify_cert_error_string(verify);
  }
  ERR_clear_error();
  return error_code(static_cast<int>(code), asio::error::get_ssl_category());
}

asio::mutable_buffer TlsLink::input_buffer() {
  auto space = buffers_.input_space();
  return asio::buffer(space.data(), space.size());
}

awaitable<error_code> TlsLink::fill(tcp::socket& socket) {
  auto [ec, n] = co_await socket.async_read_some(input_buffer(), use_nothrow);
  if (!ec) buffers_.input_added(n);
  co_return ec;
}

awaitable<std::tuple<error_code, size_t>> TlsLink::flush(tcp::socket& socket, Send how,
                                                         size_t written) {
  // The reader and the writer may both have ciphertext to send (an alert, a key update):
  // one writes, the other waits its turn, so records never interleave on the socket.
  while (flushing_) {
    asio::steady_timer wait(socket.get_executor(), asio::steady_timer::time_point::max());
    flush_waiter_ = &wait;
    co_await wait.async_wait(use_nothrow);
    if (flush_waiter_ == &wait) {  // cancelled from outside, not woken by the flusher
      flush_waiter_ = nullptr;
      co_return std::tuple{error_code(asio::error::operation_aborted), written};
    }
  }
  flushing_ = true;
  error_code ec;
  while (!ec && !buffers_.output_empty()) {
    ec = std::get<0>(co_await write_whole(socket, buffers_.take_output(), how));
    buffers_.output_sent();
  }
  flushing_ = false;
  if (auto* waiter = std::exchange(flush_waiter_, nullptr)) waiter->cancel();
  co_return std::tuple{ec, written};
}

awaitable<error_code> TlsLink::handshake(tcp::socket& socket) {
  for (;;) {
    start_with_no_errors();
    int r = SSL_do_handshake(ssl_);
    // OpenSSL's error queue is per thread: read it before any co_await lets another
    // connection on this worker touch it.
    error_code failed;
    if (r != 1 && SSL_get_error(ssl_, r) != SSL_ERROR_WANT_READ) failed = failure(r);
    error_code ec;
    if (!buffers_.output_empty())
      ec = std::get<0>(co_await flush(socket, Send::kAtOnce));  // an alert goes too
    if (r == 1 || failed) co_return failed ? failed : ec;
    if (ec) co_return ec;
    ec = co_await fill(socket);
    if (ec) {
      error_ = "the peer closed the connection during the TLS handshake";
      co_return ec;
    }
  }
}

awaitable<std::tuple<error_code, size_t>> TlsLink::read_some(tcp::socket& socket,
                                                             std::span<uint8_t> out) {
  // With nothing buffered, in OpenSSL or unread in the input, SSL_read could only ask for
  // more: the socket is read first.
  bool need_input = buffers_.input_empty() && SSL_has_pending(ssl_) == 0;
  for (;;) {
    if (need_input) {
      auto [ec, got] = co_await socket.async_read_some(input_buffer(), use_nothrow);
      if (ec) co_return std::tuple{ec, size_t{0}};
      buffers_.input_added(got);
    }
    size_t n = 0;
    start_with_no_errors();
    int r = SSL_read_ex(ssl_, out.data(), out.size(), &n);
    if (r == 1) co_return std::tuple{error_code{}, n};
    bool want_read = SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ;
    error_code ec = want_read ? error_code{} : failure(r);
    // Whatever OpenSSL answered (an alert, a key update) goes out; a writer already
    // flushing takes it along.
    if (!flushing_ && !buffers_.output_empty()) {
      auto fec = std::get<0>(co_await flush(socket));
      if (!ec) ec = fec;
    }
    if (ec) co_return std::tuple{ec, size_t{0}};
    need_input = true;
  }
}

awaitable<std::tuple<error_code, size_t>> TlsLink::write(tcp::socket& socket,
                                                         protocol::ByteSpan bytes, Send how) {
  // Not a coroutine for what fits one record (nearly every write): encrypted here, and the
  // caller awaits the flush itself.
  if (bytes.empty() || bytes.size() > kWriteSlice) return write_slices(socket, bytes, how);
  size_t n = 0;
  start_with_no_errors();
  int r = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n);
  if (r != 1) return failed_write(failure(r));  // the error queue is read now, before any wait
  return flush(socket, how, n);
}

awaitable<std::tuple<error_code, size_t>> TlsLink::failed_write(error_code ec) {
  co_return std::tuple{ec, size_t{0}};
}

awaitable<std::tuple<error_code, size_t>> TlsLink::write_slices(tcp::socket& socket,
                                                                protocol::ByteSpan bytes,
                                                                Send how) {
  size_t written = 0;
  while (written < bytes.size()) {
    size_t slice = std::min(bytes.size() - written, kWriteSlice), n = 0;
    start_with_no_errors();
    int r = SSL_write_ex(ssl_, bytes.data() + written, slice, &n);
    if (r != 1) co_return std::tuple{failure(r), written};
    written += n;
    if (error_code ec = std::get<0>(co_await flush(socket, how))) co_return std::tuple{ec, written};
  }
  co_return std::tuple{error_code{}, written};
}

}  // namespace shardgate
