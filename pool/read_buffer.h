// A byte buffer with a read cursor: sockets append at the end, framing consumes at the front.
//
// Storage is taken on the first prepare() and can be given back while the buffer is empty
// (release()): an idle client holds no read buffer at all. New storage is not zero-filled,
// as only bytes a socket wrote are ever read from it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "protocol/bytes.h"

namespace shardgate {

class ReadBuffer {
 public:
  explicit ReadBuffer(size_t initial = 16 * 1024) { reserve(initial); }

  protocol::ByteSpan data() const { return {buf_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  // Bytes of storage held (0 after release()).
  size_t capacity() const { return capacity_; }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ >= end_) begin_ = end_ = 0;
  }

  // Writable space of at least `n` bytes after the data; compacts or grows as needed.
  std::span<uint8_t> prepare(size_t n) {
    if (capacity_ - end_ < n) {
      if (begin_ > 0) {
        std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      // Doubling, so a message that arrives in many reads is copied O(log n) times.
      if (capacity_ - end_ < n) grow(std::max(end_ + n, capacity_ * 2));
    }
    return {buf_.get() + end_, capacity_ - end_};
  }
  void commit(size_t n) { end_ += n; }

  // Gives memory back after a large message passed through.
  void shrink_if_idle(size_t keep) {
    if (empty() && capacity_ > keep) {
      buf_.reset();
      capacity_ = 0;
      reserve(keep);
    }
  }
  // Gives all storage back while nothing is buffered (the next prepare() takes it again).
  void release() {
    if (!empty() || capacity_ == 0) return;
    buf_.reset();
    capacity_ = 0;
  }

 private:
  void reserve(size_t n) {
    if (n == 0) return;
    buf_.reset(new uint8_t[n]);
    capacity_ = n;
  }
  void grow(size_t n) {
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[n]);
    if (end_ > begin_) std::memcpy(bigger.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    buf_ = std::move(bigger);
    capacity_ = n;
  }

  std::unique_ptr<uint8_t[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace shardgate
