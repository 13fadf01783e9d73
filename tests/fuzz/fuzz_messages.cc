// Every decode_* function over arbitrary bodies, re-encoding what decodes; and the SCRAM
// server over arbitrary client-first / client-final text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/auth.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "routing/guard/channel_names.h"

using namespace shardgate::protocol;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// The body of the single message in `out`.
ByteSpan body_of(const Bytes& out) {
  const Frame f = parse_message(out, kMaxDeclaredMessage);
  check(f.status == FrameStatus::kFrame && f.size == out.size());
  return f.body;
}

bool same(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// ErrorResponse / NoticeResponse, and dropping the PL/pgSQL context from one.
void decode_error(ByteSpan body) {
  Bytes out;
  if (auto e = decode_error_fields(body)) {
    out.clear();
    encode_error_fields(out, 'E', *e);
    check(same(body_of(out), body));
    (void)e->sqlstate();
    (void)e->message();
    // Dropping the context keeps every other field, and leaves no context behind.
    const std::string* where = e->get('W');
    out.clear();
    bool stripped = strip_error_context(body, where ? *where : "", out);
    check(stripped == (where != nullptr));
    if (stripped) {
      auto again = decode_error_fields(body_of(out));
      check(again.has_value() && again->get('W') == nullptr);
    }
  }
}

// Messages a server sends.
void decode_backend(ByteSpan body) {
  Bytes out;
  if (auto a = decode_auth_request(body)) {
    out.clear();
    switch (a->code) {
      case AuthCode::kMd5Password:
        encode_auth_md5(out, a->md5_salt);
        check(same(body_of(out), body));
        break;
      case AuthCode::kSasl:
        encode_auth_sasl(out, a->sasl_mechanisms);
        check(same(body_of(out), body));
        break;
      case AuthCode::kSaslContinue:
        encode_auth_sasl_continue(out, a->data);
        check(same(body_of(out), body));
        break;
      default:
        break;
    }
  }
  if (auto p = decode_parameter_status(body)) {
    out.clear();
    encode_parameter_status(out, p->first, p->second);
    check(same(body_of(out), body));
  }
  if (auto k = decode_backend_key_data(body)) {
    out.clear();
    encode_backend_key_data(out, k->first, k->second);
    check(same(body_of(out), body));
  }
  if (auto z = decode_ready_for_query(body)) {
    out.clear();
    encode_ready_for_query(out, *z);
    check(same(body_of(out), body));
  }
  decode_error(body);
  if (auto c = decode_command_complete(body)) {
    out.clear();
    encode_command_complete(out, *c);
    check(same(body_of(out), body));
  }
  if (auto n = decode_notification(body)) {
    out.clear();
    encode_notification(out, n->pid, n->channel, n->payload);
    check(same(body_of(out), body));
    // What the proxy shows a tenant of a server channel maps back to that very channel.
    if (auto client = shardgate::routing::client_channel_name("acme", n->channel))
      check(shardgate::routing::server_channel_name("acme", *client) == n->channel);
  }
  if (auto t = decode_row_description(body)) {
    out.clear();
    encode_row_description(out, *t);
    check(same(body_of(out), body));
  }
  if (auto d = decode_data_row(body)) {
    out.clear();
    encode_data_row(out, *d);
    check(same(body_of(out), body));
  }
}

// Messages a client sends.
void decode_frontend(ByteSpan body) {
  Bytes out;
  if (auto q = decode_query(body)) {
    out.clear();
    encode_query(out, *q);
    check(same(body_of(out), body));
  }
  if (auto p = decode_password(body)) {
    out.clear();
    encode_password(out, *p);
    check(same(body_of(out), body));
  }
  if (auto s = decode_sasl_initial_response(body)) {
    if (s->data) {
      out.clear();
      encode_sasl_initial_response(out, s->mechanism, *s->data);
      check(same(body_of(out), body));
    }
  }
  if (auto s = decode_sasl_response(body)) {
    out.clear();
    encode_sasl_response(out, *s);
    check(same(body_of(out), body));
  }
  if (auto p = decode_parse(body)) {
    out.clear();
    encode_parse(out, p->name, p->sql, p->param_types);
    check(same(body_of(out), body));
  }
  if (auto b = decode_bind(body)) {
    out.clear();
    encode_bind(out, *b);
    check(same(body_of(out), body));
  }
  if (auto d = decode_describe(body)) {
    out.clear();
    encode_describe(out, d->kind, d->name);
    check(same(body_of(out), body));
  }
  if (auto e = decode_execute(body)) {
    out.clear();
    encode_execute(out, e->portal, e->max_rows);
    check(same(body_of(out), body));
  }
  if (auto f = decode_copy_fail(body)) {
    out.clear();
    encode_copy_fail(out, *f);
    check(same(body_of(out), body));
  }
}

// One verifier for every run: PBKDF2 runs once, at start-up.
const ScramVerifier& verifier() {
  static const ScramVerifier v = make_scram_verifier("pencil", "fuzzsalt", 4096);
  return v;
}

void scram(std::string_view text) {
  (void)parse_scram_verifier(text);
  (void)md5_response_from_hash(text, {1, 2, 3, 4});
  // Input is "client-first\nclient-final"; the first line alone also goes through.
  const size_t nl = text.find('\n');
  const std::string_view first = text.substr(0, nl);
  const std::string_view final_msg = nl == std::string_view::npos ? "" : text.substr(nl + 1);
  ScramServer server(verifier(), "SERVERNONCE");
  std::string error;
  const auto sf = server.client_first(first, &error);
  if (!sf) {
    check(!error.empty());
    return;
  }
  const auto fin = server.client_final(final_msg, &error);
  check(fin.has_value() || !error.empty());
  // A second client-final never succeeds.
  check(!server.client_final(final_msg, &error));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan in(data, size);
  decode_backend(in);
  decode_frontend(in);
  // Also as a whole framed message, so the type byte gets a say.
  const Frame f = parse_message(in, 1 << 20);
  if (f.status == FrameStatus::kFrame) {
    decode_backend(f.body);
    decode_frontend(f.body);
  }
  scram(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
