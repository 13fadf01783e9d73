#include "pool/tls_buffers.h"

#include <algorithm>
#include <cstring>

namespace shardgate {

namespace {

// One TLS record's worth of ciphertext per socket read.
constexpr size_t kChunk = 16 * 1024 + 512;
// Output capacity kept once a write is done: one full record (TlsLink encrypts one at a
// time), so a stream reuses its buffers. Anything larger (a handshake flight with a long
// certificate chain) is let go once written.
constexpr size_t kKeepOutput = 16 * 1024 + 512;

int create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int destroy(BIO*) { return 1; }  // the buffers belong to the TlsLink, not to the BIO

}  // namespace

int TlsBuffers::read_ex(BIO* bio, char* out, size_t len, size_t* got) {
  auto* self = static_cast<TlsBuffers*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  size_t n = std::min(len, self->in_end_ - self->in_pos_);
  *got = n;
  if (n == 0) {  // nothing yet: OpenSSL answers SSL_ERROR_WANT_READ, never end of stream
    BIO_set_retry_read(bio);
    return 0;
  }
  std::memcpy(out, self->in_.get() + self->in_pos_, n);
  self->in_pos_ += n;
  return 1;
}

int TlsBuffers::write_ex(BIO* bio, const char* in, size_t len, size_t* put) {
  auto* self = static_cast<TlsBuffers*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  *put = 0;
  try {  // nothing may throw through OpenSSL: out of memory is a failed write
    self->out_.insert(self->out_.end(), in, in + len);
  } catch (...) {
    return 0;
  }
  *put = len;
  return 1;
}

long TlsBuffers::ctrl(BIO* bio, int cmd, long, void*) {
  auto* self = static_cast<TlsBuffers*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:  // the caller writes the output out; nothing is held back here
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(self->in_end_ - self->in_pos_);
    case BIO_CTRL_WPENDING:
      return static_cast<long>(self->out_.size());
    default:  // no kTLS, no close flag, no chaining
      return 0;
  }
}

const BIO_METHOD* TlsBuffers::method() {
  // Made once, for the life of the process (a static initializer is thread-safe).
  static BIO_METHOD* const m = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "shardgate tls");
    if (made && BIO_meth_set_read_ex(made, &TlsBuffers::read_ex) == 1 &&
        BIO_meth_set_write_ex(made, &TlsBuffers::write_ex) == 1 &&
        BIO_meth_set_ctrl(made, &TlsBuffers::ctrl) == 1 && BIO_meth_set_create(made, create) == 1 &&
        BIO_meth_set_destroy(made, destroy) == 1)
      return made;
    BIO_meth_free(made);
    return static_cast<BIO_METHOD*>(nullptr);
  }();
  return m;
}

BIO* TlsBuffers::new_bio() {
  const BIO_METHOD* m = method();
  BIO* bio = m ? BIO_new(m) : nullptr;
  if (bio) BIO_set_data(bio, this);
  return bio;
}

std::span<uint8_t> TlsBuffers::input_space() {
  if (in_pos_ == in_end_) in_pos_ = in_end_ = 0;
  if (!in_) {
    in_cap_ = kChunk;
    in_.reset(new uint8_t[in_cap_]);
  }
  if (in_end_ == in_cap_ && in_pos_ > 0) {  // keep what is unread, at the front
    std::memmove(in_.get(), in_.get() + in_pos_, in_end_ - in_pos_);
    in_end_ -= in_pos_;
    in_pos_ = 0;
  }
  // Only a seed bigger than a read grows the buffer: the socket is read once OpenSSL has taken
  // everything, so a read always starts at the front.
  if (in_end_ == in_cap_) {
    size_t cap = in_cap_ * 2;
    auto grown = std::make_unique<uint8_t[]>(cap);
    std::memcpy(grown.get(), in_.get(), in_end_);
    in_ = std::move(grown);
    in_cap_ = cap;
  }
  return {in_.get() + in_end_, in_cap_ - in_end_};
}

void TlsBuffers::add_input(protocol::ByteSpan bytes) {
  while (!bytes.empty()) {
    auto space = input_space();
    size_t n = std::min(space.size(), bytes.size());
    std::memcpy(space.data(), bytes.data(), n);
    input_added(n);
    bytes = bytes.subspan(n);
  }
}

protocol::ByteSpan TlsBuffers::take_output() {
  out_.swap(sending_);
  out_.clear();
  return {sending_.data(), sending_.size()};
}

void TlsBuffers::output_sent() {
  if (sending_.capacity() > kKeepOutput)
    std::vector<uint8_t>().swap(sending_);
  else
    sending_.clear();
}

}  // namespace shardgate
