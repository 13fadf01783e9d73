#include "pool/tls_link.h"

#include <openssl/err.h>

#include <algorithm>
#include <boost/asio/ssl/error.hpp>

namespace shardgate {

namespace {

// One TLS record's worth of ciphertext per socket read, and at most four records encrypted
// before they are written out.
constexpr size_t kChunk = 16 * 1024 + 512;
constexpr size_t kWriteSlice = 4 * 16 * 1024;

// An SSL_* call's failure is read from the thread's error queue, so it must start empty.
// ERR_clear_error() on an empty queue still walks and frees all of its slots (about 900
// instructions, 16 calls to free): it runs only when there is something to clear.
void start_with_no_errors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

}  // namespace

TlsLink::TlsLink(SSL* ssl) : ssl_(ssl) {
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  // An empty input BIO means "read more from the socket", never end of stream.
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);  // the SSL object owns both BIOs from here
}

TlsLink::~TlsLink() { SSL_free(ssl_); }

void TlsLink::seed(protocol::ByteSpan ciphertext) {
  if (!ciphertext.empty()) BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
}

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

awaitable<error_code> TlsLink::fill(tcp::socket& socket) {
  if (!read_chunk_) read_chunk_.reset(new uint8_t[kChunk]);
  auto [ec, n] =
      co_await socket.async_read_some(asio::buffer(read_chunk_.get(), kChunk), use_nothrow);
  if (ec) co_return ec;
  BIO_write(in_, read_chunk_.get(), static_cast<int>(n));
  co_return error_code{};
}

awaitable<error_code> TlsLink::flush(tcp::socket& socket, Send how) {
  // The reader and the writer may both have ciphertext to send (an alert, a key update):
  // one writes, the other waits its turn, so records never interleave on the socket.
  while (flushing_) {
    asio::steady_timer wait(socket.get_executor(), asio::steady_timer::time_point::max());
    flush_waiter_ = &wait;
    co_await wait.async_wait(use_nothrow);
    if (flush_waiter_ == &wait) {  // cancelled from outside, not woken by the flusher
      flush_waiter_ = nullptr;
      co_return asio::error::operation_aborted;
    }
  }
  flushing_ = true;
  error_code ec;
  if (!write_chunk_) write_chunk_.reset(new uint8_t[kChunk]);
  while (BIO_ctrl_pending(out_) > 0) {
    int n = BIO_read(out_, write_chunk_.get(), static_cast<int>(kChunk));
    if (n <= 0) break;
    auto [wec, written] =
        co_await write_whole(socket, {write_chunk_.get(), static_cast<size_t>(n)}, how);
    (void)written;
    if (wec) {
      ec = wec;
      break;
    }
  }
  flushing_ = false;
  if (auto* waiter = std::exchange(flush_waiter_, nullptr)) waiter->cancel();
  co_return ec;
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
    if (BIO_ctrl_pending(out_) > 0)
      ec = co_await flush(socket, Send::kAtOnce);  // an alert goes too
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
  for (;;) {
    size_t n = 0;
    start_with_no_errors();
    int r = SSL_read_ex(ssl_, out.data(), out.size(), &n);
    if (r == 1) co_return std::tuple{error_code{}, n};
    bool want_read = SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ;
    error_code ec = want_read ? error_code{} : failure(r);
    // Whatever OpenSSL answered (an alert, a key update) goes out; a writer already
    // flushing takes it along.
    if (!flushing_ && BIO_ctrl_pending(out_) > 0) {
      auto fec = co_await flush(socket);
      if (!ec) ec = fec;
    }
    if (!ec) ec = co_await fill(socket);
    if (ec) co_return std::tuple{ec, size_t{0}};
  }
}

awaitable<std::tuple<error_code, size_t>> TlsLink::write(tcp::socket& socket,
                                                         protocol::ByteSpan bytes, Send how) {
  size_t written = 0;
  while (written < bytes.size()) {
    size_t slice = std::min(bytes.size() - written, kWriteSlice), n = 0;
    start_with_no_errors();
    int r = SSL_write_ex(ssl_, bytes.data() + written, slice, &n);
    if (r != 1) co_return std::tuple{failure(r), written};
    written += n;
    if (error_code ec = co_await flush(socket, how)) co_return std::tuple{ec, written};
  }
  co_return std::tuple{error_code{}, written};
}

}  // namespace shardgate
