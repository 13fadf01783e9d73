// Frontend (client -> server) messages.
#include <algorithm>
#include <limits>

#include "protocol/messages.h"

namespace shardgate::protocol {

namespace {

int16_t clamp_count(size_t n) {
  return static_cast<int16_t>(std::min<size_t>(n, std::numeric_limits<int16_t>::max()));
}

void encode_string_message(Bytes& out, char type, std::string_view s) {
  Writer w(out);
  w.begin(type);
  w.cstr(s);
  w.end();
}

void encode_empty_message(Bytes& out, char type) {
  Writer w(out);
  w.begin(type);
  w.end();
}

// A body that is exactly one NUL-terminated string; the view points into `body`.
std::optional<std::string_view> view_one_string(ByteSpan body) {
  Reader r(body);
  const std::string_view s = r.cstr();
  if (!r.at_end()) return std::nullopt;
  return s;
}

// The same, copied out of the message.
std::optional<std::string> decode_one_string(ByteSpan body) {
  auto s = view_one_string(body);
  if (!s) return std::nullopt;
  return std::string(*s);
}

}  // namespace

// ---- Encoders ----

void encode_query(Bytes& out, std::string_view sql) { encode_string_message(out, fe::kQuery, sql); }

void encode_password(Bytes& out, std::string_view password) {
  encode_string_message(out, fe::kPassword, password);
}

void encode_sasl_initial_response(Bytes& out, std::string_view mechanism, std::string_view data) {
  Writer w(out);
  w.begin(fe::kPassword);
  w.cstr(mechanism);
  w.i32(static_cast<int32_t>(data.size()));
  w.raw(data);
  w.end();
}

void encode_sasl_response(Bytes& out, std::string_view data) {
  Writer w(out);
  w.begin(fe::kPassword);
  w.raw(data);
  w.end();
}

void encode_terminate(Bytes& out) { encode_empty_message(out, fe::kTerminate); }

void encode_sync(Bytes& out) { encode_empty_message(out, fe::kSync); }

void encode_flush(Bytes& out) { encode_empty_message(out, fe::kFlush); }

void encode_parse(Bytes& out, std::string_view name, std::string_view sql,
                  const std::vector<int32_t>& param_types) {
  Writer w(out);
  w.begin(fe::kParse);
  w.cstr(name);
  w.cstr(sql);
  const int16_t n = clamp_count(param_types.size());
  w.i16(n);
  for (int16_t i = 0; i < n; ++i) w.i32(param_types[static_cast<size_t>(i)]);
  w.end();
}

void encode_bind(Bytes& out, const BindMessage& b) {
  Writer w(out);
  w.begin(fe::kBind);
  w.cstr(b.portal);
  w.cstr(b.statement);
  const int16_t nf = clamp_count(b.param_formats.size());
  w.i16(nf);
  for (int16_t i = 0; i < nf; ++i) w.i16(b.param_formats[static_cast<size_t>(i)]);
  const int16_t np = clamp_count(b.params.size());
  w.i16(np);
  for (int16_t i = 0; i < np; ++i) {
    const auto& p = b.params[static_cast<size_t>(i)];
    if (!p) {
      w.i32(-1);
    } else {
      w.i32(static_cast<int32_t>(p->size()));
      w.raw(*p);
    }
  }
  const int16_t nr = clamp_count(b.result_formats.size());
  w.i16(nr);
  for (int16_t i = 0; i < nr; ++i) w.i16(b.result_formats[static_cast<size_t>(i)]);
  w.end();
}

void encode_describe(Bytes& out, char kind, std::string_view name) {
  Writer w(out);
  w.begin(fe::kDescribe);
  w.u8(static_cast<uint8_t>(kind));
  w.cstr(name);
  w.end();
}

void encode_execute(Bytes& out, std::string_view portal, int32_t max_rows) {
  Writer w(out);
  w.begin(fe::kExecute);
  w.cstr(portal);
  w.i32(max_rows);
  w.end();
}

void encode_close(Bytes& out, char kind, std::string_view name) {
  Writer w(out);
  w.begin(fe::kClose);
  w.u8(static_cast<uint8_t>(kind));
  w.cstr(name);
  w.end();
}

void encode_copy_data(Bytes& out, ByteSpan data) {
  Writer w(out);
  w.begin(fe::kCopyData);
  w.raw(data);
  w.end();
}

void encode_copy_done(Bytes& out) { encode_empty_message(out, fe::kCopyDone); }

void encode_copy_fail(Bytes& out, std::string_view message) {
  encode_string_message(out, fe::kCopyFail, message);
}

// ---- Decoders ----

std::optional<std::string_view> decode_query(ByteSpan body) { return view_one_string(body); }

std::optional<std::string> decode_password(ByteSpan body) { return decode_one_string(body); }

std::optional<SaslInitialResponse> decode_sasl_initial_response(ByteSpan body) {
  Reader r(body);
  SaslInitialResponse s;
  s.mechanism = r.cstr();
  const int32_t len = r.i32();
  if (!r.ok() || len < -1) return std::nullopt;
  if (len >= 0) {
    const ByteSpan data = r.bytes(len);
    if (!r.ok()) return std::nullopt;
    s.data = std::string(data.begin(), data.end());
  }
  if (!r.at_end()) return std::nullopt;
  return s;
}

std::optional<std::string> decode_sasl_response(ByteSpan body) {
  return std::string(body.begin(), body.end());
}

std::optional<ParseMessage> decode_parse(ByteSpan body) {
  Reader r(body);
  ParseMessage p;
  p.name = r.cstr();
  p.sql = r.cstr();
  const int16_t n = r.i16();
  if (!r.ok() || n < 0) return std::nullopt;
  if (static_cast<size_t>(n) * 4 != r.remaining()) return std::nullopt;
  p.param_types.reserve(static_cast<size_t>(n));
  for (int16_t i = 0; i < n; ++i) p.param_types.push_back(r.i32());
  if (!r.at_end()) return std::nullopt;
  return p;
}

namespace {

bool read_formats(Reader& r, std::vector<int16_t>* out) {
  const int16_t n = r.i16();
  if (!r.ok() || n < 0) return false;
  if (static_cast<size_t>(n) * 2 > r.remaining()) return false;
  out->reserve(static_cast<size_t>(n));
  for (int16_t i = 0; i < n; ++i) out->push_back(r.i16());
  return r.ok();
}

}  // namespace

std::optional<BindMessage> decode_bind(ByteSpan body) {
  Reader r(body);
  BindMessage b;
  b.portal = r.cstr();
  b.statement = r.cstr();
  if (!r.ok() || !read_formats(r, &b.param_formats)) return std::nullopt;
  const int16_t np = r.i16();
  if (!r.ok() || np < 0) return std::nullopt;
  if (static_cast<size_t>(np) * 4 > r.remaining()) return std::nullopt;
  // As PostgreSQL: zero format codes, one for all parameters, or exactly one per parameter.
  if (b.param_formats.size() > 1 && b.param_formats.size() != static_cast<size_t>(np)) {
    return std::nullopt;
  }
  b.params.reserve(static_cast<size_t>(np));
  for (int16_t i = 0; i < np; ++i) {
    const int32_t len = r.i32();
    if (!r.ok() || len < -1) return std::nullopt;
    if (len == -1) {
      b.params.emplace_back(std::nullopt);
      continue;
    }
    const ByteSpan v = r.bytes(len);
    if (!r.ok()) return std::nullopt;
    b.params.emplace_back(std::string(v.begin(), v.end()));
  }
  if (!read_formats(r, &b.result_formats)) return std::nullopt;
  if (!r.at_end()) return std::nullopt;
  return b;
}

std::optional<DescribeMessage> decode_describe(ByteSpan body) {
  Reader r(body);
  DescribeMessage d;
  d.kind = static_cast<char>(r.u8());
  d.name = r.cstr();
  if (!r.at_end()) return std::nullopt;
  if (d.kind != 'S' && d.kind != 'P') return std::nullopt;
  return d;
}

std::optional<ExecuteMessage> decode_execute(ByteSpan body) {
  Reader r(body);
  ExecuteMessage e;
  e.portal = r.cstr();
  e.max_rows = r.i32();
  if (!r.at_end()) return std::nullopt;
  return e;
}

std::optional<std::string> decode_copy_fail(ByteSpan body) { return decode_one_string(body); }

}  // namespace shardgate::protocol
