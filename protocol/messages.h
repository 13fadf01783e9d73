// Encode and decode of PostgreSQL v3 typed messages, both directions. Pure; decoders return
// std::nullopt on malformed bodies and never throw. Encoders append one whole message.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/bytes.h"

namespace shardgate::protocol {

// Frontend (client -> server) message types.
namespace fe {
inline constexpr char kQuery = 'Q', kParse = 'P', kBind = 'B', kDescribe = 'D', kExecute = 'E',
                      kClose = 'C', kSync = 'S', kFlush = 'H', kTerminate = 'X',
                      kPassword = 'p',  // also SASLInitialResponse / SASLResponse / GSSResponse
    kCopyData = 'd', kCopyDone = 'c', kCopyFail = 'f', kFunctionCall = 'F';
}
// Backend (server -> client) message types.
namespace be {
inline constexpr char kAuthentication = 'R', kParameterStatus = 'S', kBackendKeyData = 'K',
                      kReadyForQuery = 'Z', kErrorResponse = 'E', kNoticeResponse = 'N',
                      kNotification = 'A', kRowDescription = 'T', kDataRow = 'D',
                      kCommandComplete = 'C', kEmptyQueryResponse = 'I', kParseComplete = '1',
                      kBindComplete = '2', kCloseComplete = '3', kNoData = 'n',
                      kParameterDescription = 't', kPortalSuspended = 's', kCopyInResponse = 'G',
                      kCopyOutResponse = 'H', kCopyBothResponse = 'W', kCopyData = 'd',
                      kCopyDone = 'c', kFunctionCallResponse = 'V', kNegotiateProtocolVersion = 'v';
}

// Authentication request codes (the int32 after 'R').
enum class AuthCode : int32_t {
  kOk = 0,
  kCleartextPassword = 3,
  kMd5Password = 5,
  kGss = 7,
  kGssContinue = 8,
  kSspi = 9,
  kSasl = 10,
  kSaslContinue = 11,
  kSaslFinal = 12,
};

// ---- Error and notice fields ----
struct ErrorField {
  char code;  // 'S' severity, 'V' non-localized severity, 'C' SQLSTATE, 'M' message, 'D', 'H', ...
  std::string value;
};
struct ErrorFields {
  std::vector<ErrorField> fields;
  const std::string* get(char code) const;
  std::string sqlstate() const;  // "" if absent
  std::string message() const;
};

// ---- Backend messages ----
void encode_auth_ok(Bytes& out);
void encode_auth_cleartext(Bytes& out);
void encode_auth_md5(Bytes& out, std::array<uint8_t, 4> salt);
void encode_auth_sasl(Bytes& out, const std::vector<std::string>& mechanisms);
void encode_auth_sasl_continue(Bytes& out, std::string_view data);
void encode_auth_sasl_final(Bytes& out, std::string_view data);
void encode_parameter_status(Bytes& out, std::string_view name, std::string_view value);
void encode_backend_key_data(Bytes& out, int32_t pid, int32_t secret);
void encode_ready_for_query(Bytes& out, char status);  // 'I', 'T' or 'E'
// severity e.g. "ERROR"/"FATAL"; hint may be empty.
void encode_error(Bytes& out, std::string_view severity, std::string_view sqlstate,
                  std::string_view message, std::string_view hint = {},
                  std::string_view detail = {});
void encode_notice(Bytes& out, std::string_view severity, std::string_view sqlstate,
                   std::string_view message);
void encode_error_fields(Bytes& out, char type, const ErrorFields& f);  // 'E' or 'N'
// An ErrorResponse body whose context field ('W') is exactly `context`, written to `out` as
// a whole ErrorResponse without its context and source-location fields (W, F, L, R). False
// (nothing written) for any other body.
bool strip_error_context(ByteSpan body, std::string_view context, Bytes& out);
void encode_command_complete(Bytes& out, std::string_view tag);
void encode_empty_query_response(Bytes& out);
struct ColumnDesc {
  std::string name;
  int32_t table_oid = 0;
  int16_t column = 0;
  int32_t type_oid = 25;  // text
  int16_t type_size = -1;
  int32_t type_mod = -1;
  int16_t format = 0;
};
void encode_row_description(Bytes& out, const std::vector<ColumnDesc>& cols);
// nullopt values encode SQL NULL.
void encode_data_row(Bytes& out, const std::vector<std::optional<std::string>>& values);
void encode_notification(Bytes& out, int32_t pid, std::string_view channel,
                         std::string_view payload);

struct AuthRequest {
  AuthCode code = AuthCode::kOk;
  std::array<uint8_t, 4> md5_salt{};
  std::vector<std::string> sasl_mechanisms;  // kSasl
  std::string data;                          // kSaslContinue / kSaslFinal payload
};
std::optional<AuthRequest> decode_auth_request(ByteSpan body);
std::optional<std::pair<std::string, std::string>> decode_parameter_status(ByteSpan body);
std::optional<std::pair<int32_t, int32_t>> decode_backend_key_data(ByteSpan body);
std::optional<char> decode_ready_for_query(ByteSpan body);
std::optional<ErrorFields> decode_error_fields(ByteSpan body);  // ErrorResponse / NoticeResponse
std::optional<std::string> decode_command_complete(ByteSpan body);
struct Notification {
  int32_t pid = 0;
  std::string channel, payload;
};
std::optional<Notification> decode_notification(ByteSpan body);
std::optional<std::vector<ColumnDesc>> decode_row_description(ByteSpan body);
std::optional<std::vector<std::optional<std::string>>> decode_data_row(ByteSpan body);

// ---- Frontend messages ----
void encode_query(Bytes& out, std::string_view sql);
void encode_password(Bytes& out, std::string_view password);  // cleartext or md5 hash
void encode_sasl_initial_response(Bytes& out, std::string_view mechanism, std::string_view data);
void encode_sasl_response(Bytes& out, std::string_view data);
void encode_terminate(Bytes& out);
void encode_sync(Bytes& out);
void encode_flush(Bytes& out);
void encode_parse(Bytes& out, std::string_view name, std::string_view sql,
                  const std::vector<int32_t>& param_types = {});
struct BindMessage {
  std::string portal, statement;
  std::vector<int16_t> param_formats;
  std::vector<std::optional<std::string>> params;
  std::vector<int16_t> result_formats;
};
void encode_bind(Bytes& out, const BindMessage& b);
void encode_describe(Bytes& out, char kind, std::string_view name);  // kind 'S' or 'P'
void encode_execute(Bytes& out, std::string_view portal, int32_t max_rows = 0);
void encode_close(Bytes& out, char kind, std::string_view name);
void encode_copy_data(Bytes& out, ByteSpan data);
void encode_copy_done(Bytes& out);
void encode_copy_fail(Bytes& out, std::string_view message);

// The Query's text, viewing into `body` (every request carries one: no copy).
std::optional<std::string_view> decode_query(ByteSpan body);
std::optional<std::string> decode_password(ByteSpan body);  // PasswordMessage (cleartext/md5)
struct SaslInitialResponse {
  std::string mechanism;
  std::optional<std::string> data;  // nullopt when length is -1
};
std::optional<SaslInitialResponse> decode_sasl_initial_response(ByteSpan body);
std::optional<std::string> decode_sasl_response(ByteSpan body);
struct ParseMessage {
  std::string name, sql;
  std::vector<int32_t> param_types;
};
std::optional<ParseMessage> decode_parse(ByteSpan body);
std::optional<BindMessage> decode_bind(ByteSpan body);
struct DescribeMessage {
  char kind = 'S';
  std::string name;
};
std::optional<DescribeMessage> decode_describe(ByteSpan body);  // also decodes Close
struct ExecuteMessage {
  std::string portal;
  int32_t max_rows = 0;
};
std::optional<ExecuteMessage> decode_execute(ByteSpan body);
std::optional<std::string> decode_copy_fail(ByteSpan body);

}  // namespace shardgate::protocol
