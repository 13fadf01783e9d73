// Backend (server -> client) messages, plus ErrorFields helpers.
#include <algorithm>
#include <limits>

#include "protocol/messages.h"

namespace shardgate::protocol {

namespace {

std::optional<std::string> read_string(Reader& r) {
  const std::string_view s = r.cstr();
  if (!r.ok()) return std::nullopt;
  return std::string(s);
}

int16_t clamp_count(size_t n) {
  return static_cast<int16_t>(std::min<size_t>(n, std::numeric_limits<int16_t>::max()));
}

}  // namespace

const std::string* ErrorFields::get(char code) const {
  for (const auto& f : fields) {
    if (f.code == code) return &f.value;
  }
  return nullptr;
}

std::string ErrorFields::sqlstate() const {
  const std::string* v = get('C');
  return v != nullptr ? *v : std::string();
}

std::string ErrorFields::message() const {
  const std::string* v = get('M');
  return v != nullptr ? *v : std::string();
}

// ---- Encoders ----

namespace {
void encode_auth_code(Bytes& out, AuthCode code) {
  Writer w(out);
  w.begin(be::kAuthentication);
  w.i32(static_cast<int32_t>(code));
  w.end();
}
void encode_auth_data(Bytes& out, AuthCode code, std::string_view data) {
  Writer w(out);
  w.begin(be::kAuthentication);
  w.i32(static_cast<int32_t>(code));
  w.raw(data);
  w.end();
}
}  // namespace

void encode_auth_ok(Bytes& out) { encode_auth_code(out, AuthCode::kOk); }

void encode_auth_cleartext(Bytes& out) { encode_auth_code(out, AuthCode::kCleartextPassword); }

void encode_auth_md5(Bytes& out, std::array<uint8_t, 4> salt) {
  Writer w(out);
  w.begin(be::kAuthentication);
  w.i32(static_cast<int32_t>(AuthCode::kMd5Password));
  w.raw(ByteSpan(salt));
  w.end();
}

void encode_auth_sasl(Bytes& out, const std::vector<std::string>& mechanisms) {
  Writer w(out);
  w.begin(be::kAuthentication);
  w.i32(static_cast<int32_t>(AuthCode::kSasl));
  for (const auto& m : mechanisms) {
    if (m.empty() || m.front() == '\0') continue;  // an empty name would end the list
    w.cstr(m);
  }
  w.u8(0);
  w.end();
}

void encode_auth_sasl_continue(Bytes& out, std::string_view data) {
  encode_auth_data(out, AuthCode::kSaslContinue, data);
}

void encode_auth_sasl_final(Bytes& out, std::string_view data) {
  encode_auth_data(out, AuthCode::kSaslFinal, data);
}

void encode_parameter_status(Bytes& out, std::string_view name, std::string_view value) {
  Writer w(out);
  w.begin(be::kParameterStatus);
  w.cstr(name);
  w.cstr(value);
  w.end();
}

void encode_backend_key_data(Bytes& out, int32_t pid, int32_t secret) {
  Writer w(out);
  w.begin(be::kBackendKeyData);
  w.i32(pid);
  w.i32(secret);
  w.end();
}

void encode_ready_for_query(Bytes& out, char status) {
  Writer w(out);
  w.begin(be::kReadyForQuery);
  w.u8(static_cast<uint8_t>(status));
  w.end();
}

void encode_error_fields(Bytes& out, char type, const ErrorFields& f) {
  Writer w(out);
  w.begin(type);
  for (const auto& field : f.fields) {
    if (field.code == 0) continue;  // a zero code would terminate the list
    w.u8(static_cast<uint8_t>(field.code));
    w.cstr(field.value);
  }
  w.u8(0);
  w.end();
}

bool strip_error_context(ByteSpan body, std::string_view context, Bytes& out) {
  auto fields = decode_error_fields(body);
  if (!fields) return false;
  const std::string* where = fields->get('W');
  if (!where || *where != context) return false;
  ErrorFields kept;
  for (auto& f : fields->fields) {
    if (f.code != 'W' && f.code != 'F' && f.code != 'L' && f.code != 'R')
      kept.fields.push_back(std::move(f));
  }
  encode_error_fields(out, 'E', kept);
  return true;
}

namespace {
// ErrorResponse and NoticeResponse share one shape: severity (localized and not), SQLSTATE,
// message, then optional detail and hint.
void encode_report(Bytes& out, char type, std::string_view severity, std::string_view sqlstate,
                   std::string_view message, std::string_view hint, std::string_view detail) {
  Writer w(out);
  w.begin(type);
  w.u8('S');
  w.cstr(severity);
  w.u8('V');
  w.cstr(severity);
  w.u8('C');
  w.cstr(sqlstate);
  w.u8('M');
  w.cstr(message);
  if (!detail.empty()) {
    w.u8('D');
    w.cstr(detail);
  }
  if (!hint.empty()) {
    w.u8('H');
    w.cstr(hint);
  }
  w.u8(0);
  w.end();
}
}  // namespace

void encode_error(Bytes& out, std::string_view severity, std::string_view sqlstate,
                  std::string_view message, std::string_view hint, std::string_view detail) {
  encode_report(out, be::kErrorResponse, severity, sqlstate, message, hint, detail);
}

void encode_notice(Bytes& out, std::string_view severity, std::string_view sqlstate,
                   std::string_view message) {
  encode_report(out, be::kNoticeResponse, severity, sqlstate, message, {}, {});
}

void encode_command_complete(Bytes& out, std::string_view tag) {
  Writer w(out);
  w.begin(be::kCommandComplete);
  w.cstr(tag);
  w.end();
}

void encode_empty_query_response(Bytes& out) {
  Writer w(out);
  w.begin(be::kEmptyQueryResponse);
  w.end();
}

void encode_row_description(Bytes& out, const std::vector<ColumnDesc>& cols) {
  Writer w(out);
  w.begin(be::kRowDescription);
  const int16_t n = clamp_count(cols.size());
  w.i16(n);
  for (int16_t i = 0; i < n; ++i) {
    const ColumnDesc& c = cols[static_cast<size_t>(i)];
    w.cstr(c.name);
    w.i32(c.table_oid);
    w.i16(c.column);
    w.i32(c.type_oid);
    w.i16(c.type_size);
    w.i32(c.type_mod);
    w.i16(c.format);
  }
  w.end();
}

void encode_data_row(Bytes& out, const std::vector<std::optional<std::string>>& values) {
  Writer w(out);
  w.begin(be::kDataRow);
  const int16_t n = clamp_count(values.size());
  w.i16(n);
  for (int16_t i = 0; i < n; ++i) {
    const auto& v = values[static_cast<size_t>(i)];
    if (!v) {
      w.i32(-1);
    } else {
      w.i32(static_cast<int32_t>(v->size()));
      w.raw(*v);
    }
  }
  w.end();
}

void encode_notification(Bytes& out, int32_t pid, std::string_view channel,
                         std::string_view payload) {
  Writer w(out);
  w.begin(be::kNotification);
  w.i32(pid);
  w.cstr(channel);
  w.cstr(payload);
  w.end();
}

// ---- Decoders ----

std::optional<AuthRequest> decode_auth_request(ByteSpan body) {
  Reader r(body);
  AuthRequest a;
  const int32_t code = r.i32();
  if (!r.ok()) return std::nullopt;
  switch (code) {
    case static_cast<int32_t>(AuthCode::kOk):
    case static_cast<int32_t>(AuthCode::kCleartextPassword):
    case static_cast<int32_t>(AuthCode::kGss):
    case static_cast<int32_t>(AuthCode::kSspi):
      if (!r.at_end()) return std::nullopt;
      break;
    case static_cast<int32_t>(AuthCode::kMd5Password): {
      const ByteSpan salt = r.bytes(4);
      if (!r.at_end()) return std::nullopt;
      for (size_t i = 0; i < 4; ++i) a.md5_salt[i] = salt[i];
      break;
    }
    case static_cast<int32_t>(AuthCode::kSasl):
      for (;;) {
        const std::string_view m = r.cstr();
        if (!r.ok()) return std::nullopt;
        if (m.empty()) break;
        a.sasl_mechanisms.emplace_back(m);
      }
      if (!r.at_end() || a.sasl_mechanisms.empty()) return std::nullopt;
      break;
    case static_cast<int32_t>(AuthCode::kGssContinue):
    case static_cast<int32_t>(AuthCode::kSaslContinue):
    case static_cast<int32_t>(AuthCode::kSaslFinal): {
      const ByteSpan rest = r.rest();
      a.data.assign(rest.begin(), rest.end());
      break;
    }
    default:
      return std::nullopt;
  }
  a.code = static_cast<AuthCode>(code);
  return a;
}

std::optional<std::pair<std::string, std::string>> decode_parameter_status(ByteSpan body) {
  Reader r(body);
  const std::string_view name = r.cstr();
  const std::string_view value = r.cstr();
  if (!r.at_end() || name.empty()) return std::nullopt;
  return std::make_pair(std::string(name), std::string(value));
}

std::optional<std::pair<int32_t, int32_t>> decode_backend_key_data(ByteSpan body) {
  Reader r(body);
  const int32_t pid = r.i32();
  const int32_t secret = r.i32();
  if (!r.at_end()) return std::nullopt;
  return std::make_pair(pid, secret);
}

std::optional<char> decode_ready_for_query(ByteSpan body) {
  Reader r(body);
  const char s = static_cast<char>(r.u8());
  if (!r.at_end()) return std::nullopt;
  if (s != 'I' && s != 'T' && s != 'E') return std::nullopt;
  return s;
}

std::optional<ErrorFields> decode_error_fields(ByteSpan body) {
  Reader r(body);
  ErrorFields f;
  for (;;) {
    const uint8_t code = r.u8();
    if (!r.ok()) return std::nullopt;  // missing terminator
    if (code == 0) break;
    const std::string_view value = r.cstr();
    if (!r.ok()) return std::nullopt;
    f.fields.push_back(ErrorField{static_cast<char>(code), std::string(value)});
  }
  if (!r.at_end()) return std::nullopt;
  return f;
}

std::optional<std::string> decode_command_complete(ByteSpan body) {
  Reader r(body);
  auto tag = read_string(r);
  if (!r.at_end()) return std::nullopt;
  return tag;
}

std::optional<Notification> decode_notification(ByteSpan body) {
  Reader r(body);
  Notification n;
  n.pid = r.i32();
  n.channel = r.cstr();
  n.payload = r.cstr();
  if (!r.at_end()) return std::nullopt;
  return n;
}

std::optional<std::vector<ColumnDesc>> decode_row_description(ByteSpan body) {
  Reader r(body);
  const int16_t n = r.i16();
  if (!r.ok() || n < 0) return std::nullopt;
  // Each field takes at least 19 bytes; refuse counts the body cannot hold before reserving.
  if (static_cast<size_t>(n) * 19 > r.remaining()) return std::nullopt;
  std::vector<ColumnDesc> cols;
  cols.reserve(static_cast<size_t>(n));
  for (int16_t i = 0; i < n; ++i) {
    ColumnDesc c;
    c.name = r.cstr();
    c.table_oid = r.i32();
    c.column = r.i16();
    c.type_oid = r.i32();
    c.type_size = r.i16();
    c.type_mod = r.i32();
    c.format = r.i16();
    if (!r.ok()) return std::nullopt;
    cols.push_back(std::move(c));
  }
  if (!r.at_end()) return std::nullopt;
  return cols;
}

std::optional<std::vector<std::optional<std::string>>> decode_data_row(ByteSpan body) {
  Reader r(body);
  const int16_t n = r.i16();
  if (!r.ok() || n < 0) return std::nullopt;
  if (static_cast<size_t>(n) * 4 > r.remaining()) return std::nullopt;
  std::vector<std::optional<std::string>> values;
  values.reserve(static_cast<size_t>(n));
  for (int16_t i = 0; i < n; ++i) {
    const int32_t len = r.i32();
    if (!r.ok() || len < -1) return std::nullopt;
    if (len == -1) {
      values.emplace_back(std::nullopt);
      continue;
    }
    const ByteSpan v = r.bytes(len);
    if (!r.ok()) return std::nullopt;
    values.emplace_back(std::string(v.begin(), v.end()));
  }
  if (!r.at_end()) return std::nullopt;
  return values;
}

}  // namespace shardgate::protocol
