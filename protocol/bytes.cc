#include "protocol/bytes.h"

#include <cstring>

namespace shardgate::protocol {

bool Reader::need(size_t n) {
  if (!ok_) return false;
  if (data_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}

uint8_t Reader::u8() {
  if (!need(1)) return 0;
  return data_[pos_++];
}

int16_t Reader::i16() {
  if (!need(2)) return 0;
  const uint16_t v = static_cast<uint16_t>((uint16_t{data_[pos_]} << 8) | data_[pos_ + 1]);
  pos_ += 2;
  return static_cast<int16_t>(v);
}

int32_t Reader::i32() {
  if (!need(4)) return 0;
  const int32_t v = read_i32(data_.data() + pos_);
  pos_ += 4;
  return v;
}

std::string_view Reader::cstr() {
  if (!ok_) return {};
  const uint8_t* begin = data_.data() + pos_;
  const size_t left = data_.size() - pos_;
  const void* nul = left == 0 ? nullptr : std::memchr(begin, 0, left);
  if (nul == nullptr) {
    ok_ = false;
    return {};
  }
  const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nul) - begin);
  pos_ += len + 1;
  return {reinterpret_cast<const char*>(begin), len};
}

ByteSpan Reader::bytes(int64_t n) {
  if (n < 0) {
    ok_ = false;
    return {};
  }
  static_assert(sizeof(size_t) >= sizeof(int64_t));
  if (!need(static_cast<size_t>(n))) return {};
  ByteSpan out = data_.subspan(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return out;
}

ByteSpan Reader::rest() {
  if (!ok_) return {};
  ByteSpan out = data_.subspan(pos_);
  pos_ = data_.size();
  return out;
}

void Writer::begin(char type) {
  if (type != 0) out_.push_back(static_cast<uint8_t>(type));
  start_ = out_.size();
  out_.insert(out_.end(), 4, 0);
}

void Writer::end() {
  if (start_ + 4 > out_.size()) return;  // end() without begin(): nothing to patch
  const uint32_t len = static_cast<uint32_t>(out_.size() - start_);
  out_[start_] = static_cast<uint8_t>(len >> 24);
  out_[start_ + 1] = static_cast<uint8_t>(len >> 16);
  out_[start_ + 2] = static_cast<uint8_t>(len >> 8);
  out_[start_ + 3] = static_cast<uint8_t>(len);
}

void Writer::i16(int16_t v) {
  const auto u = static_cast<uint16_t>(v);
  out_.push_back(static_cast<uint8_t>(u >> 8));
  out_.push_back(static_cast<uint8_t>(u));
}

void Writer::i32(int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  out_.push_back(static_cast<uint8_t>(u >> 24));
  out_.push_back(static_cast<uint8_t>(u >> 16));
  out_.push_back(static_cast<uint8_t>(u >> 8));
  out_.push_back(static_cast<uint8_t>(u));
}

void Writer::cstr(std::string_view s) {
  // A NUL inside s would end the string early on the wire and desynchronise the fields
  // after it, so only the part before the first NUL is written.
  const size_t nul = s.find('\0');
  if (nul != std::string_view::npos) s = s.substr(0, nul);
  uint8_t* at = grow(s.size() + 1);
  if (!s.empty()) std::memcpy(at, s.data(), s.size());
  at[s.size()] = 0;
}

void Writer::raw(std::string_view s) {
  if (!s.empty()) std::memcpy(grow(s.size()), s.data(), s.size());
}

void Writer::raw(ByteSpan s) {
  if (!s.empty()) std::memcpy(grow(s.size()), s.data(), s.size());
}

// Appends are one resize and one copy: vector::insert's general path costs more for these
// small pieces.
uint8_t* Writer::grow(size_t n) {
  const size_t at = out_.size();
  out_.resize(at + n);
  return out_.data() + at;
}

}  // namespace shardgate::protocol
