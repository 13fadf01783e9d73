// A byte buffer with a read cursor: sockets append at the end, framing consumes at the front.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "protocol/bytes.h"

namespace shardgate {

class ReadBuffer {
 public:
  explicit ReadBuffer(size_t initial = 16 * 1024) : buf_(initial) {}

  protocol::ByteSpan data() const { return {buf_.data() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ >= end_) begin_ = end_ = 0;
  }

  // Writable space of at least `n` bytes after the data; compacts or grows as needed.
  std::span<uint8_t> prepare(size_t n) {
    if (buf_.size() - end_ < n) {
      if (begin_ > 0) {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (buf_.size() - end_ < n) buf_.resize(end_ + n);
    }
    return {buf_.data() + end_, buf_.size() - end_};
  }
  void commit(size_t n) { end_ += n; }

  // Gives memory back after a large message passed through.
  void shrink_if_idle(size_t keep) {
    if (empty() && buf_.size() > keep) {
      buf_.resize(keep);
      buf_.shrink_to_fit();
    }
  }

 private:
  std::vector<uint8_t> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace shardgate
