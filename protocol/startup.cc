#include "protocol/startup.h"

#include "protocol/frame.h"

namespace shardgate::protocol {

const std::string* StartupMessage::get(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

namespace {

StartupDecode fail(std::string why) {
  StartupDecode d;
  d.error = std::move(why);
  return d;
}

StartupDecode ok(StartupPacket p) {
  StartupDecode d;
  d.packet = std::move(p);
  return d;
}

}  // namespace

StartupDecode decode_startup(ByteSpan body) {
  if (body.size() < 4) return fail("startup packet too short");
  if (body.size() > kMaxStartupPacket - 4) return fail("startup packet too long");
  Reader r(body);
  const int32_t code = r.i32();
  switch (code) {
    case kSslRequestCode:
      if (!r.at_end()) return fail("SSLRequest has trailing bytes");
      return ok(SslRequest{});
    case kGssEncRequestCode:
      if (!r.at_end()) return fail("GSSENCRequest has trailing bytes");
      return ok(GssEncRequest{});
    case kCancelRequestCode: {
      CancelRequest c;
      c.pid = r.i32();
      c.secret = r.i32();
      if (!r.ok()) return fail("CancelRequest too short");
      if (!r.at_end()) return fail("CancelRequest has trailing bytes");
      return ok(c);
    }
    default:
      break;
  }
  const int major = static_cast<int>(static_cast<uint32_t>(code) >> 16);
  if (major == 1234) return fail("unknown startup request code " + std::to_string(code));
  if (major != 3) {
    return fail("unsupported frontend protocol " + std::to_string(major) + "." +
                std::to_string(code & 0xffff) + ": server supports 3.0");
  }
  StartupMessage m;
  m.version = code;
  for (;;) {
    const std::string_view name = r.cstr();
    if (!r.ok()) return fail("invalid startup packet layout: unterminated parameter name");
    if (name.empty()) break;  // the terminating NUL
    const std::string_view value = r.cstr();
    if (!r.ok()) return fail("invalid startup packet layout: unterminated parameter value");
    if (m.params.size() >= kMaxStartupParams) return fail("too many startup parameters");
    if (m.get(name) != nullptr) {
      return fail("duplicate startup parameter \"" + std::string(name) + "\"");
    }
    m.params.emplace_back(std::string(name), std::string(value));
  }
  if (!r.at_end()) return fail("invalid startup packet layout: expected terminator as last byte");
  const std::string* user = m.get("user");
  if (user == nullptr || user->empty()) return fail("no user name specified in startup packet");
  return ok(std::move(m));
}

void encode_startup(Bytes& out, const StartupMessage& m) {
  Writer w(out);
  w.begin(0);
  w.i32(m.version);
  for (const auto& [k, v] : m.params) {
    if (k.empty() || k.find('\0') == 0) continue;  // an empty name would end the list early
    w.cstr(k);
    w.cstr(v);
  }
  w.u8(0);
  w.end();
}

void encode_cancel_request(Bytes& out, const CancelRequest& c) {
  Writer w(out);
  w.begin(0);
  w.i32(kCancelRequestCode);
  w.i32(c.pid);
  w.i32(c.secret);
  w.end();
}

void encode_ssl_request(Bytes& out) {
  Writer w(out);
  w.begin(0);
  w.i32(kSslRequestCode);
  w.end();
}

}  // namespace shardgate::protocol
