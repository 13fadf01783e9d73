// Big-endian readers and writers for PostgreSQL wire messages. Pure, never throws:
// a Reader that runs past its end turns "not ok" and returns zero values from then on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shardgate::protocol {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

class Reader {
 public:
  explicit Reader(ByteSpan data) : data_(data) {}

  uint8_t u8();
  int16_t i16();
  int32_t i32();
  // A NUL-terminated string; fails when no terminator is left in the data.
  std::string_view cstr();
  // The next n bytes; fails when fewer remain or n is negative.
  ByteSpan bytes(int64_t n);
  ByteSpan rest();

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  bool at_end() const { return ok_ && pos_ == data_.size(); }

 private:
  bool need(size_t n);
  ByteSpan data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Appends to a byte vector. begin()/end() bracket one typed message and patch its length.
class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}

  // Starts a message with a type byte (type 0 = untyped startup-phase packet).
  void begin(char type);
  void end();

  void u8(uint8_t v) { out_.push_back(v); }
  void i16(int16_t v);
  void i32(int32_t v);
  void cstr(std::string_view s);  // string plus NUL terminator
  void raw(std::string_view s);
  void raw(ByteSpan s);

 private:
  // The n bytes just added at the end, for the caller to fill.
  uint8_t* grow(size_t n);
  Bytes& out_;
  size_t start_ = 0;
};

inline int32_t read_i32(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                              (uint32_t{p[2]} << 8) | uint32_t{p[3]});
}

}  // namespace shardgate::protocol
