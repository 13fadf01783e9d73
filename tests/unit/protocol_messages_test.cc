#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/messages.h"

namespace shardgate::protocol {
namespace {

// Frames `out` as exactly one message of `type` and returns its body.
ByteSpan only_body(const Bytes& out, char type) {
  const Frame f = parse_message(out);
  EXPECT_EQ(f.status, FrameStatus::kFrame);
  EXPECT_EQ(f.type, type);
  EXPECT_EQ(f.size, out.size());
  return f.body;
}

Bytes with_extra(ByteSpan body, uint8_t extra = 'x') {
  Bytes b(body.begin(), body.end());
  b.push_back(extra);
  return b;
}

// ---- Backend ----

TEST(ProtocolMessages, AuthRequestLiterals) {
  Bytes out;
  encode_auth_ok(out);
  EXPECT_EQ(out, (Bytes{'R', 0, 0, 0, 8, 0, 0, 0, 0}));
  out.clear();
  encode_auth_md5(out, {1, 2, 3, 4});
  EXPECT_EQ(out, (Bytes{'R', 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4}));
  out.clear();
  encode_auth_sasl(out, {"SCRAM-SHA-256"});
  const Bytes sasl = {'R', 0,   0,   0,   23,  0,   0,   0,   10,  'S', 'C', 'R',
                      'A', 'M', '-', 'S', 'H', 'A', '-', '2', '5', '6', 0,   0};
  EXPECT_EQ(out, sasl);
}

TEST(ProtocolMessages, AuthRequestRoundTrips) {
  Bytes out;
  encode_auth_ok(out);
  auto a = decode_auth_request(only_body(out, 'R'));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, AuthCode::kOk);

  out.clear();
  encode_auth_cleartext(out);
  a = decode_auth_request(only_body(out, 'R'));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, AuthCode::kCleartextPassword);

  out.clear();
  encode_auth_md5(out, {0xde, 0xad, 0xbe, 0xef});
  a = decode_auth_request(only_body(out, 'R'));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, AuthCode::kMd5Password);
  EXPECT_EQ(a->md5_salt, (std::array<uint8_t, 4>{0xde, 0xad, 0xbe, 0xef}));

  out.clear();
  encode_auth_sasl(out, {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
  a = decode_auth_request(only_body(out, 'R'));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, AuthCode::kSasl);
  EXPECT_EQ(a->sasl_mechanisms, (std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));

  out.clear();
  encode_auth_sasl_continue(out, "r=abc,s=c2FsdA==,i=4096");
  a = decode_auth_request(only_body(out, 'R'));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, AuthCode::kSaslContinue);
  EXPECT_EQ(a->data, "r=abc,s=c2FsdA==,i=4096");

  out.clear();
  encode_auth_sasl_final(out, "v=xyz");
  a = decode_auth_request(only_body(out, 'R'));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, AuthCode::kSaslFinal);
  EXPECT_EQ(a->data, "v=xyz");
}

TEST(ProtocolMessages, AuthRequestMalformed) {
  EXPECT_FALSE(decode_auth_request(Bytes{}));
  EXPECT_FALSE(decode_auth_request(Bytes{0, 0, 0}));
  EXPECT_FALSE(decode_auth_request(Bytes{0, 0, 0, 0, 0}));        // Ok + trailing
  EXPECT_FALSE(decode_auth_request(Bytes{0, 0, 0, 5, 1, 2, 3}));  // short salt
  EXPECT_FALSE(decode_auth_request(Bytes{0, 0, 0, 5, 1, 2, 3, 4, 5}));
  EXPECT_FALSE(decode_auth_request(Bytes{0, 0, 0, 10, 'S', 'C'}));  // unterminated mech
  EXPECT_FALSE(decode_auth_request(Bytes{0, 0, 0, 10, 'S', 0}));    // no list terminator
  EXPECT_FALSE(decode_auth_request(Bytes{0, 0, 0, 10, 0}));         // no mechanisms
  EXPECT_FALSE(decode_auth_request(Bytes{0, 0, 0, 10, 'S', 0, 0, 1}));
  EXPECT_FALSE(decode_auth_request(Bytes{0, 0, 0, 2}));  // Kerberos: unsupported
  EXPECT_FALSE(decode_auth_request(Bytes{0xff, 0xff, 0xff, 0xff}));
}

TEST(ProtocolMessages, ParameterStatusAndKeyData) {
  Bytes out;
  encode_parameter_status(out, "TimeZone", "UTC");
  EXPECT_EQ(out,
            (Bytes{'S', 0, 0, 0, 17, 'T', 'i', 'm', 'e', 'Z', 'o', 'n', 'e', 0, 'U', 'T', 'C', 0}));
  const auto ps = decode_parameter_status(only_body(out, 'S'));
  ASSERT_TRUE(ps);
  EXPECT_EQ(ps->first, "TimeZone");
  EXPECT_EQ(ps->second, "UTC");
  EXPECT_FALSE(decode_parameter_status(with_extra(only_body(out, 'S'))));
  EXPECT_FALSE(decode_parameter_status(Bytes{'a', 0, 'b'}));
  EXPECT_FALSE(decode_parameter_status(Bytes{0, 'b', 0}));  // empty name

  out.clear();
  encode_backend_key_data(out, 4242, -7);
  EXPECT_EQ(out, (Bytes{'K', 0, 0, 0, 12, 0, 0, 0x10, 0x92, 0xff, 0xff, 0xff, 0xf9}));
  const auto kd = decode_backend_key_data(only_body(out, 'K'));
  ASSERT_TRUE(kd);
  EXPECT_EQ(kd->first, 4242);
  EXPECT_EQ(kd->second, -7);
  EXPECT_FALSE(decode_backend_key_data(with_extra(only_body(out, 'K'))));
  EXPECT_FALSE(decode_backend_key_data(Bytes{0, 0, 0, 1, 0, 0, 0}));
}

TEST(ProtocolMessages, ReadyForQuery) {
  for (char s : {'I', 'T', 'E'}) {
    Bytes out;
    encode_ready_for_query(out, s);
    EXPECT_EQ(out, (Bytes{'Z', 0, 0, 0, 5, static_cast<uint8_t>(s)}));
    EXPECT_EQ(decode_ready_for_query(only_body(out, 'Z')), s);
  }
  EXPECT_FALSE(decode_ready_for_query(Bytes{}));
  EXPECT_FALSE(decode_ready_for_query(Bytes{'X'}));
  EXPECT_FALSE(decode_ready_for_query(Bytes{'I', 'I'}));
}

TEST(ProtocolMessages, ErrorResponseFieldParsing) {
  // What PostgreSQL sends for a missing table, abridged.
  const Bytes body = {'S', 'E', 'R', 'R', 'O', 'R', 0,   'V', 'E', 'R', 'R', 'O', 'R', 0,
                      'C', '4', '2', 'P', '0', '1', 0,   'M', 'n', 'o', 'p', 'e', 0,   'P',
                      '1', '5', 0,   'F', 'x', '.', 'c', 0,   'L', '9', 0,   0};
  const auto e = decode_error_fields(body);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->fields.size(), 7u);
  EXPECT_EQ(*e->get('S'), "ERROR");
  EXPECT_EQ(e->sqlstate(), "42P01");
  EXPECT_EQ(e->message(), "nope");
  EXPECT_EQ(*e->get('P'), "15");
  EXPECT_EQ(*e->get('L'), "9");
  EXPECT_EQ(e->get('H'), nullptr);
  // Empty list is legal.
  const auto empty = decode_error_fields(Bytes{0});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->sqlstate(), "");
  EXPECT_EQ(empty->message(), "");
  // Malformed.
  EXPECT_FALSE(decode_error_fields(Bytes{}));
  EXPECT_FALSE(decode_error_fields(Bytes{'S', 'E'}));           // unterminated value
  EXPECT_FALSE(decode_error_fields(Bytes{'S', 'E', 0}));        // no terminator
  EXPECT_FALSE(decode_error_fields(Bytes{'S', 'E', 0, 0, 0}));  // trailing
}

TEST(ProtocolMessages, StripsOnlyTheNamedErrorContext) {
  ErrorFields f;
  f.fields = {{'S', "ERROR"},
              {'C', "42501"},
              {'M', "refused"},
              {'H', "hint"},
              {'W', "PL/pgSQL function inline_code_block line 1 at RAISE"},
              {'F', "pl_exec.c"},
              {'L', "3889"},
              {'R', "exec_stmt_raise"}};
  Bytes in;
  encode_error_fields(in, 'E', f);
  Bytes out;
  ASSERT_TRUE(strip_error_context(only_body(in, 'E'),
                                  "PL/pgSQL function inline_code_block line 1 at RAISE", out));
  auto e = decode_error_fields(only_body(out, 'E'));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fields.size(), 4u);
  EXPECT_EQ(e->sqlstate(), "42501");
  EXPECT_EQ(*e->get('H'), "hint");
  EXPECT_EQ(e->get('W'), nullptr);
  EXPECT_EQ(e->get('F'), nullptr);
  EXPECT_EQ(e->get('R'), nullptr);
  Bytes untouched;
  EXPECT_FALSE(strip_error_context(only_body(in, 'E'), "another context", untouched));
  EXPECT_TRUE(untouched.empty());
  EXPECT_FALSE(strip_error_context(Bytes{'S', 'E'}, "x", untouched));  // malformed
}

TEST(ProtocolMessages, ErrorAndNoticeRoundTrip) {
  Bytes out;
  encode_error(out, "FATAL", "28P01", "password authentication failed", "check it", "detail!");
  auto e = decode_error_fields(only_body(out, 'E'));
  ASSERT_TRUE(e);
  EXPECT_EQ(*e->get('S'), "FATAL");
  EXPECT_EQ(*e->get('V'), "FATAL");
  EXPECT_EQ(e->sqlstate(), "28P01");
  EXPECT_EQ(e->message(), "password authentication failed");
  EXPECT_EQ(*e->get('H'), "check it");
  EXPECT_EQ(*e->get('D'), "detail!");

  out.clear();
  encode_error(out, "ERROR", "42501", "no");
  e = decode_error_fields(only_body(out, 'E'));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->fields.size(), 4u);
  EXPECT_EQ(e->get('H'), nullptr);

  out.clear();
  encode_notice(out, "NOTICE", "00000", "hello");
  e = decode_error_fields(only_body(out, 'N'));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message(), "hello");

  ErrorFields f;
  f.fields = {{'S', "WARNING"}, {'C', "01000"}, {'M', "m"}, {'W', "ctx"}};
  out.clear();
  encode_error_fields(out, 'N', f);
  e = decode_error_fields(only_body(out, 'N'));
  ASSERT_TRUE(e);
  ASSERT_EQ(e->fields.size(), 4u);
  EXPECT_EQ(e->fields[3].code, 'W');
  EXPECT_EQ(e->fields[3].value, "ctx");
}

TEST(ProtocolMessages, CommandCompleteAndEmptyQuery) {
  Bytes out;
  encode_command_complete(out, "SELECT 1");
  EXPECT_EQ(out, (Bytes{'C', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0}));
  EXPECT_EQ(decode_command_complete(only_body(out, 'C')), "SELECT 1");
  EXPECT_FALSE(decode_command_complete(Bytes{'S'}));
  EXPECT_FALSE(decode_command_complete(Bytes{'S', 0, 0}));
  out.clear();
  encode_empty_query_response(out);
  EXPECT_EQ(out, (Bytes{'I', 0, 0, 0, 4}));
}

TEST(ProtocolMessages, Notification) {
  Bytes out;
  encode_notification(out, 77, "chan", "pay");
  EXPECT_EQ(out, (Bytes{'A', 0, 0, 0, 17, 0, 0, 0, 77, 'c', 'h', 'a', 'n', 0, 'p', 'a', 'y', 0}));
  const auto n = decode_notification(only_body(out, 'A'));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->pid, 77);
  EXPECT_EQ(n->channel, "chan");
  EXPECT_EQ(n->payload, "pay");
  EXPECT_FALSE(decode_notification(with_extra(only_body(out, 'A'))));
  EXPECT_FALSE(decode_notification(Bytes{0, 0, 0, 1, 'c', 0}));
}

TEST(ProtocolMessages, RowDescription) {
  std::vector<ColumnDesc> cols(2);
  cols[0].name = "id";
  cols[0].type_oid = 23;
  cols[0].type_size = 4;
  cols[1].name = "body";
  cols[1].table_oid = 16384;
  cols[1].column = 2;
  cols[1].format = 1;
  Bytes out;
  encode_row_description(out, cols);
  const auto d = decode_row_description(only_body(out, 'T'));
  ASSERT_TRUE(d);
  ASSERT_EQ(d->size(), 2u);
  EXPECT_EQ((*d)[0].name, "id");
  EXPECT_EQ((*d)[0].type_oid, 23);
  EXPECT_EQ((*d)[0].type_size, 4);
  EXPECT_EQ((*d)[0].type_mod, -1);
  EXPECT_EQ((*d)[1].name, "body");
  EXPECT_EQ((*d)[1].table_oid, 16384);
  EXPECT_EQ((*d)[1].column, 2);
  EXPECT_EQ((*d)[1].type_oid, 25);
  EXPECT_EQ((*d)[1].format, 1);
  EXPECT_FALSE(decode_row_description(with_extra(only_body(out, 'T'))));
  const ByteSpan body = only_body(out, 'T');
  EXPECT_FALSE(decode_row_description(body.first(body.size() - 1)));
  EXPECT_FALSE(decode_row_description(Bytes{0xff, 0xff}));  // negative count
  EXPECT_FALSE(decode_row_description(Bytes{0x7f, 0xff}));  // count the body cannot hold
  const auto none = decode_row_description(Bytes{0, 0});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(ProtocolMessages, DataRow) {
  Bytes out;
  encode_data_row(out, {std::string("1"), std::nullopt, std::string("")});
  EXPECT_EQ(out,
            (Bytes{'D', 0, 0, 0, 19, 0, 3, 0, 0, 0, 1, '1', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}));
  const auto d = decode_data_row(only_body(out, 'D'));
  ASSERT_TRUE(d);
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ((*d)[0], "1");
  EXPECT_FALSE((*d)[1]);
  EXPECT_EQ((*d)[2], "");
  EXPECT_FALSE(decode_data_row(with_extra(only_body(out, 'D'))));
  EXPECT_FALSE(decode_data_row(Bytes{0, 1, 0xff, 0xff, 0xff, 0xfe}));  // length -2
  EXPECT_FALSE(decode_data_row(Bytes{0, 1, 0, 0, 0, 5, 'a'}));         // short value
  EXPECT_FALSE(decode_data_row(Bytes{0x80, 0}));                       // negative count
  EXPECT_FALSE(decode_data_row(Bytes{0}));
}

// ---- Frontend ----

TEST(ProtocolMessages, QueryAndPassword) {
  Bytes out;
  encode_query(out, "SELECT 1");
  EXPECT_EQ(out, (Bytes{'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0}));
  EXPECT_EQ(decode_query(only_body(out, 'Q')), "SELECT 1");
  EXPECT_FALSE(decode_query(Bytes{'a'}));
  EXPECT_FALSE(decode_query(Bytes{'a', 0, 'b', 0}));
  EXPECT_FALSE(decode_query(Bytes{}));
  out.clear();
  encode_password(out, "md5abc");
  EXPECT_EQ(decode_password(only_body(out, 'p')), "md5abc");
  EXPECT_FALSE(decode_password(with_extra(only_body(out, 'p'))));
}

TEST(ProtocolMessages, SaslMessages) {
  Bytes out;
  encode_sasl_initial_response(out, "SCRAM-SHA-256", "n,,n=,r=abc");
  const auto s = decode_sasl_initial_response(only_body(out, 'p'));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(s->data, "n,,n=,r=abc");
  EXPECT_FALSE(decode_sasl_initial_response(with_extra(only_body(out, 'p'))));
  const auto no_data = decode_sasl_initial_response(Bytes{'M', 0, 0xff, 0xff, 0xff, 0xff});
  ASSERT_TRUE(no_data);
  EXPECT_FALSE(no_data->data);
  EXPECT_FALSE(decode_sasl_initial_response(Bytes{'M', 0, 0xff, 0xff, 0xff, 0xfe}));
  EXPECT_FALSE(decode_sasl_initial_response(Bytes{'M', 0, 0, 0, 0, 3, 'a'}));
  EXPECT_FALSE(decode_sasl_initial_response(Bytes{'M', 0, 0, 0}));
  EXPECT_FALSE(decode_sasl_initial_response(Bytes{'M'}));

  out.clear();
  encode_sasl_response(out, "c=biws,r=x,p=y");
  EXPECT_EQ(decode_sasl_response(only_body(out, 'p')), "c=biws,r=x,p=y");
}

TEST(ProtocolMessages, EmptyMessages) {
  Bytes out;
  encode_terminate(out);
  encode_sync(out);
  encode_flush(out);
  encode_copy_done(out);
  EXPECT_EQ(out, (Bytes{'X', 0, 0, 0, 4, 'S', 0, 0, 0, 4, 'H', 0, 0, 0, 4, 'c', 0, 0, 0, 4}));
}

TEST(ProtocolMessages, Parse) {
  Bytes out;
  encode_parse(out, "s1", "SELECT $1", {23});
  EXPECT_EQ(out, (Bytes{'P', 0,   0,   0,   23,  's', '1', 0, 'S', 'E', 'L', 'E',
                        'C', 'T', ' ', '$', '1', 0,   0,   1, 0,   0,   0,   23}));
  const auto p = decode_parse(only_body(out, 'P'));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "s1");
  EXPECT_EQ(p->sql, "SELECT $1");
  EXPECT_EQ(p->param_types, (std::vector<int32_t>{23}));
  EXPECT_FALSE(decode_parse(with_extra(only_body(out, 'P'))));
  EXPECT_FALSE(decode_parse(Bytes{0, 'q', 0, 0, 2, 0, 0, 0, 23}));  // count beyond body
  EXPECT_FALSE(decode_parse(Bytes{0, 'q', 0, 0xff, 0xff}));         // negative count
  EXPECT_FALSE(decode_parse(Bytes{0, 'q', 0}));
  const auto none = decode_parse(Bytes{0, 'q', 0, 0, 0});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->param_types.empty());
}

TEST(ProtocolMessages, Bind) {
  BindMessage b;
  b.portal = "p";
  b.statement = "s1";
  b.param_formats = {0, 1};
  b.params = {std::string("42"), std::nullopt};
  b.result_formats = {1};
  Bytes out;
  encode_bind(out, b);
  const Bytes expect = {'B', 0, 0, 0, 31, 'p', 0,   's', '1',  0,    0,    2,    0, 0, 0, 1,
                        0,   2, 0, 0, 0,  2,   '4', '2', 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 1};
  EXPECT_EQ(out, expect);
  const auto d = decode_bind(only_body(out, 'B'));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->portal, "p");
  EXPECT_EQ(d->statement, "s1");
  EXPECT_EQ(d->param_formats, b.param_formats);
  EXPECT_EQ(d->params, b.params);
  EXPECT_EQ(d->result_formats, b.result_formats);
  EXPECT_FALSE(decode_bind(with_extra(only_body(out, 'B'))));
  const ByteSpan body = only_body(out, 'B');
  for (size_t n = 0; n < body.size(); ++n) EXPECT_FALSE(decode_bind(body.first(n))) << n;
  // Two format codes for three parameters.
  EXPECT_FALSE(
      decode_bind(Bytes{0,    0,    0,    2,    0,    0,    0,    0,    0,    3,    0xff, 0xff,
                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,    0}));
  // Parameter length -2.
  EXPECT_FALSE(decode_bind(Bytes{0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0, 0}));
  const auto minimal = decode_bind(Bytes{0, 0, 0, 0, 0, 0, 0, 0});
  ASSERT_TRUE(minimal);
  EXPECT_TRUE(minimal->params.empty());
}

TEST(ProtocolMessages, DescribeExecuteClose) {
  Bytes out;
  encode_describe(out, 'S', "s1");
  EXPECT_EQ(out, (Bytes{'D', 0, 0, 0, 8, 'S', 's', '1', 0}));
  auto d = decode_describe(only_body(out, 'D'));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, 'S');
  EXPECT_EQ(d->name, "s1");
  EXPECT_FALSE(decode_describe(with_extra(only_body(out, 'D'))));
  EXPECT_FALSE(decode_describe(Bytes{'X', 0}));
  EXPECT_FALSE(decode_describe(Bytes{'P'}));

  out.clear();
  encode_close(out, 'P', "");
  EXPECT_EQ(out, (Bytes{'C', 0, 0, 0, 6, 'P', 0}));
  d = decode_describe(only_body(out, 'C'));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, 'P');
  EXPECT_EQ(d->name, "");

  out.clear();
  encode_execute(out, "", 100);
  EXPECT_EQ(out, (Bytes{'E', 0, 0, 0, 9, 0, 0, 0, 0, 100}));
  const auto e = decode_execute(only_body(out, 'E'));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->portal, "");
  EXPECT_EQ(e->max_rows, 100);
  EXPECT_FALSE(decode_execute(with_extra(only_body(out, 'E'))));
  EXPECT_FALSE(decode_execute(Bytes{0, 0, 0, 0}));
}

TEST(ProtocolMessages, Copy) {
  Bytes out;
  const Bytes payload = {'1', '\t', 'a', '\n', 0};
  encode_copy_data(out, payload);
  EXPECT_EQ(out, (Bytes{'d', 0, 0, 0, 9, '1', '\t', 'a', '\n', 0}));
  const ByteSpan body = only_body(out, 'd');
  EXPECT_EQ(Bytes(body.begin(), body.end()), payload);
  out.clear();
  encode_copy_fail(out, "bad");
  EXPECT_EQ(decode_copy_fail(only_body(out, 'f')), "bad");
  EXPECT_FALSE(decode_copy_fail(Bytes{'b'}));
}

}  // namespace
}  // namespace shardgate::protocol
