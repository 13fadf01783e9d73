// The ciphertext between a TLS connection's socket and OpenSSL, handed to OpenSSL as BIOs of
// our own.
//
// OpenSSL's memory BIO copies each record into a buffer of its own on the way in and out
// again on the way out, and answers a dozen BIO_ctrl calls per request through its generic
// code. Here the socket reads into the buffer OpenSSL reads records from, and what OpenSSL
// encrypts is written to the socket from where OpenSSL put it.
//
// Output is two vectors: OpenSSL appends to one while the other is on its way to the socket
// (the reader may answer an alert or a key update while a write is in flight), so bytes under
// a write in progress never move.
#pragma once

#include <openssl/bio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "protocol/bytes.h"

namespace shardgate {

class TlsBuffers {
 public:
  TlsBuffers() = default;
  TlsBuffers(const TlsBuffers&) = delete;
  TlsBuffers& operator=(const TlsBuffers&) = delete;

  // A new BIO over these buffers, for SSL_set_bio (once as the read BIO, once as the write
  // BIO): OpenSSL reads the peer's ciphertext from the input and appends its own to the
  // output. Null if OpenSSL cannot make one. The buffers must outlive it.
  BIO* new_bio();

  // Input: bytes read from the socket that OpenSSL has not taken yet.
  bool input_empty() const { return in_pos_ == in_end_; }
  // Where the next socket read goes: after what is still unread, at least one byte.
  std::span<uint8_t> input_space();
  void input_added(size_t n) { in_end_ += n; }
  void add_input(protocol::ByteSpan bytes);

  // Output: ciphertext OpenSSL produced that has not gone to the socket yet.
  bool output_empty() const { return out_.empty(); }
  // Hands the pending output over for sending; OpenSSL may append more meanwhile. Call
  // output_sent() once the socket has taken it (or failed), before the next take_output().
  protocol::ByteSpan take_output();
  void output_sent();

 private:
  static const BIO_METHOD* method();
  static int read_ex(BIO* bio, char* out, size_t len, size_t* got);
  static int write_ex(BIO* bio, const char* in, size_t len, size_t* put);
  static long ctrl(BIO* bio, int cmd, long num, void* ptr);

  std::unique_ptr<uint8_t[]> in_;  // allocated on the first read, never zero-filled
  size_t in_cap_ = 0, in_pos_ = 0, in_end_ = 0;
  std::vector<uint8_t> out_, sending_;
};

}  // namespace shardgate
