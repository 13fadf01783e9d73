#include "routing/guard/setting_rules.h"

#include <iterator>

#include "routing/guard/sql_chars.h"

namespace shardgate::routing {
namespace {

struct EncodingAlias {
  std::string_view cleaned;  // as clean_encoding_name() leaves it
  std::string_view canonical;
};

// PostgreSQL 15's alias table (src/common/encnames.c, pg_encname_tbl), sorted by the cleaned
// name. Keep it in step with PostgreSQL: a name missing here is refused, never let through.
constexpr EncodingAlias kAliases[] = {
    {"abc", "WIN1258"},
    {"alt", "WIN866"},
    {"big5", "BIG5"},
    {"euccn", "EUC_CN"},
    {"eucjis2004", "EUC_JIS_2004"},
    {"eucjp", "EUC_JP"},
    {"euckr", "EUC_KR"},
    {"euctw", "EUC_TW"},
    {"gb18030", "GB18030"},
    {"gbk", "GBK"},
    {"iso88591", "LATIN1"},
    {"iso885910", "LATIN6"},
    {"iso885913", "LATIN7"},
    {"iso885914", "LATIN8"},
    {"iso885915", "LATIN9"},
    {"iso885916", "LATIN10"},
    {"iso88592", "LATIN2"},
    {"iso88593", "LATIN3"},
    {"iso88594", "LATIN4"},
    {"iso88595", "ISO_8859_5"},
    {"iso88596", "ISO_8859_6"},
    {"iso88597", "ISO_8859_7"},
    {"iso88598", "ISO_8859_8"},
    {"iso88599", "LATIN5"},
    {"johab", "JOHAB"},
    {"koi8", "KOI8R"},
    {"koi8r", "KOI8R"},
    {"koi8u", "KOI8U"},
    {"latin1", "LATIN1"},
    {"latin10", "LATIN10"},
    {"latin2", "LATIN2"},
    {"latin3", "LATIN3"},
    {"latin4", "LATIN4"},
    {"latin5", "LATIN5"},
    {"latin6", "LATIN6"},
    {"latin7", "LATIN7"},
    {"latin8", "LATIN8"},
    {"latin9", "LATIN9"},
    {"mskanji", "SJIS"},
    {"muleinternal", "MULE_INTERNAL"},
    {"shiftjis", "SJIS"},
    {"shiftjis2004", "SHIFT_JIS_2004"},
    {"sjis", "SJIS"},
    {"sqlascii", "SQL_ASCII"},
    {"tcvn", "WIN1258"},
    {"tcvn5712", "WIN1258"},
    {"uhc", "UHC"},
    {"unicode", "UTF8"},
    {"utf8", "UTF8"},
    {"vscii", "WIN1258"},
    {"win", "WIN1251"},
    {"win1250", "WIN1250"},
    {"win1251", "WIN1251"},
    {"win1252", "WIN1252"},
    {"win1253", "WIN1253"},
    {"win1254", "WIN1254"},
    {"win1255", "WIN1255"},
    {"win1256", "WIN1256"},
    {"win1257", "WIN1257"},
    {"win1258", "WIN1258"},
    {"win866", "WIN866"},
    {"win874", "WIN874"},
    {"win932", "SJIS"},
    {"win936", "GBK"},
    {"win949", "UHC"},
    {"win950", "BIG5"},
    {"windows1250", "WIN1250"},
    {"windows1251", "WIN1251"},
    {"windows1252", "WIN1252"},
    {"windows1253", "WIN1253"},
    {"windows1254", "WIN1254"},
    {"windows1255", "WIN1255"},
    {"windows1256", "WIN1256"},
    {"windows1257", "WIN1257"},
    {"windows1258", "WIN1258"},
    {"windows866", "WIN866"},
    {"windows874", "WIN874"},
    {"windows932", "SJIS"},
    {"windows936", "GBK"},
    {"windows949", "UHC"},
    {"windows950", "BIG5"},
};
static_assert(std::size(kAliases) == 81, "pg_encname_tbl of PostgreSQL 15 has 81 names");

// PostgreSQL's frontend-only encodings (PG_ENCODING_BE_LAST < id): their multibyte
// characters may hold bytes below 0x80.
bool client_only(std::string_view canonical) {
  for (std::string_view e : {"SJIS", "SHIFT_JIS_2004", "BIG5", "GBK", "UHC", "GB18030", "JOHAB"}) {
    if (canonical == e) return true;
  }
  return false;
}

}  // namespace

std::string setting_key(std::string_view name) { return ascii_lower(name); }

bool is_on(std::string_view v) {
  std::string l = setting_key(v);
  for (std::string_view on : {"on", "true", "yes", "1", "t", "tr", "tru", "y", "ye"}) {
    if (l == on) return true;
  }
  return false;
}

bool same_setting(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(static_cast<unsigned char>(a[i])) !=
        ascii_lower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::optional<ClientEncoding> lookup_client_encoding(std::string_view name) {
  constexpr size_t kNameDataLen = 64;  // longer names are "certainly not in the table"
  if (name.empty() || name.size() >= kNameDataLen) return std::nullopt;
  std::string cleaned;  // clean_encoding_name(): ASCII letters and digits, lower-cased
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) return std::nullopt;
    c = static_cast<unsigned char>(ascii_lower(c));
    if ((c >= 'a' && c <= 'z') || is_ascii_digit(c)) cleaned += static_cast<char>(c);
  }
  for (const auto& alias : kAliases) {
    if (alias.cleaned == cleaned)
      return ClientEncoding{alias.canonical, !client_only(alias.canonical)};
  }
  return std::nullopt;
}

bool is_protected_setting(std::string_view raw_name, SettingChange kind, std::string_view value) {
  std::string name = setting_key(raw_name);
  if (name == "standard_conforming_strings") {
    return kind == SettingChange::kNonConstant || (kind == SettingChange::kValue && !is_on(value));
  }
  if (name == "client_encoding") {
    if (kind == SettingChange::kReset) return false;  // back to the database's encoding
    if (kind == SettingChange::kNonConstant) return true;
    auto encoding = lookup_client_encoding(value);
    return !encoding || !encoding->server_safe;
  }
  return name == "search_path" || name == "role" || name == "session_authorization" ||
         name.starts_with("shardgate.");
}

SettingRefusal explain_protected_setting(std::string_view raw_name, std::string_view tenant) {
  std::string name = setting_key(raw_name);
  std::string quoted_tenant = "\"" + std::string(tenant) + "\"";
  if (name == "client_encoding") {
    return {
        "it sets client_encoding to an encoding under which the guard could misread later "
        "statements (tenant " +
            quoted_tenant + ")",
        "Use UTF8 or another server encoding (LATIN1, EUC_JP, WIN1252, ...); SJIS, BIG5, GBK, "
        "UHC, GB18030, JOHAB and SHIFT_JIS_2004 can hide a backslash inside a character."};
  }
  if (name == "standard_conforming_strings") {
    return {
        "it sets standard_conforming_strings to a value under which the guard could misread "
        "later statements (tenant " +
            quoted_tenant + ")",
        "Leave standard_conforming_strings on."};
  }
  if (name.starts_with("shardgate.")) {
    return {"it changes " + name + ", which shardgate manages for tenant " + quoted_tenant,
            "Send SET shardgate.tenant / RESET shardgate.tenant as a statement of its own, "
            "outside a transaction block."};
  }
  if (name == "search_path") {
    return {"it changes search_path, which shardgate manages for tenant " + quoted_tenant,
            "Use SET search_path TO a list of only the tenant's own schema first and the "
            "shared schemas (guard.shared_schemas; pg_temp only after the tenant's schema), as "
            "a statement of its own; set_config(), function SET clauses and startup settings "
            "cannot change it."};
  }
  return {"it changes " + name + ", which shardgate manages for tenant " + quoted_tenant,
          "shardgate sets " + name +
              " for the tenant itself; connect as the tenant you mean to act for."};
}

}  // namespace shardgate::routing
