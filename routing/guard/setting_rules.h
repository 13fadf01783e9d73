// Which settings a tenant may not change, decided once for every path a client can change
// them by: startup parameters, every form of the `options` startup parameter, SET / SET
// SESSION / SET LOCAL / SET NAMES / RESET, set_config() anywhere in a statement, and function
// SET clauses. The guard's statement walk and the session's startup check both ask here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shardgate::routing {

// How a statement changes a setting: to a constant value, back to its default (RESET, SET
// ... TO DEFAULT), or to a value computed at run time.
enum class SettingChange { kValue, kReset, kNonConstant };

// A setting's name as PostgreSQL looks it up: GUC names are case-insensitive (ASCII).
std::string setting_key(std::string_view name);
// Whether two names are the same setting: setting_key(a) == setting_key(b), without the copies.
bool same_setting(std::string_view a, std::string_view b);
// Whether a boolean setting's text means true, as PostgreSQL reads it ("on", "t", "1", ...).
bool is_on(std::string_view value);

// What PostgreSQL's pg_char_to_encoding() makes of an encoding name: its canonical name
// (e.g. "SJIS" for "Shift_JIS", "windows-932" or "MS Kanji") and whether it is one of the
// server-safe encodings. Empty when PostgreSQL would not know the name, or when the name
// holds a byte above 0x7f (PostgreSQL drops or keeps those depending on the server's locale,
// so shardgate cannot know what it would read).
struct ClientEncoding {
  std::string_view canonical;
  // A server-side encoding: every byte of a multibyte character is >= 0x80, so the guard,
  // which reads raw bytes, and the server, which converts first, see the same quotes and
  // backslashes. False for the client-only encodings SJIS, SHIFT_JIS_2004, BIG5, GBK, UHC,
  // GB18030 and JOHAB, whose second bytes can be '\' (0x5c) or a quote.
  bool server_safe = false;
};
std::optional<ClientEncoding> lookup_client_encoding(std::string_view name);

// Whether changing setting `name` (any case) the given way is refused for a tenant:
//  - search_path, role, session_authorization and every shardgate.* setting, any change
//    (shardgate manages them; SET search_path to the tenant's own schemas is answered
//    before this is asked);
//  - standard_conforming_strings to anything but on, or to a computed value (the guard
//    parses with it on);
//  - client_encoding to anything but a known server-safe encoding, or to a computed value.
bool is_protected_setting(std::string_view name, SettingChange kind, std::string_view value);

// Why a protected setting is refused and what to do instead: the message (after
// "shardgate refused ...") and hint, for the guard and the startup check alike.
struct SettingRefusal {
  std::string reason;
  std::string hint;
};
SettingRefusal explain_protected_setting(std::string_view name, std::string_view tenant);

}  // namespace shardgate::routing
