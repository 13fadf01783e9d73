#include "routing/guard/channel_names.h"

#include <algorithm>
#include <vector>

#include "protocol/digests.h"
#include "routing/tenant_context.h"

namespace shardgate::routing {
namespace {

std::string hashed_name(std::string_view tenant, std::string_view channel) {
  std::string input;
  input.reserve(tenant.size() + 1 + channel.size());
  input.append(tenant).append(".").append(channel);
  const auto digest =
      protocol::sha256(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  std::string out = "#" + protocol::lower_hex(digest);
  out.resize(std::min(out.size(), kMaxChannelBytes));
  return out;
}

}  // namespace

std::string server_channel_name(std::string_view tenant, std::string_view channel) {
  if (channel.empty()) return {};
  if (tenant.size() + 1 + channel.size() <= kMaxChannelBytes) {
    std::string out;
    out.reserve(tenant.size() + 1 + channel.size());
    out.append(tenant).append(".").append(channel);
    return out;
  }
  return hashed_name(tenant, channel);
}

bool is_hashed_channel(std::string_view server_channel) {
  return server_channel.size() == kMaxChannelBytes && server_channel.front() == '#';
}

std::optional<std::string> client_channel_name(std::string_view tenant,
                                               std::string_view server_channel) {
  if (tenant.empty() || server_channel.size() <= tenant.size() + 1 ||
      !server_channel.starts_with(tenant) || server_channel[tenant.size()] != '.') {
    return std::nullopt;
  }
  std::string_view channel = server_channel.substr(tenant.size() + 1);
  // Only the short form is read back: a channel long enough to be hashed never appears so.
  if (server_channel_name(tenant, channel) != server_channel) return std::nullopt;
  return std::string(channel);
}

std::string rewrite_channels(std::string_view sql, const StatementInfo& info,
                             std::string_view tenant) {
  std::vector<const ChannelSite*> sites;
  sites.reserve(info.channel_sites.size());
  for (const auto& s : info.channel_sites) sites.push_back(&s);
  std::sort(sites.begin(), sites.end(),
            [](const ChannelSite* a, const ChannelSite* b) { return a->begin < b->begin; });
  std::string out;
  out.reserve(sql.size() + 64 * sites.size());
  size_t at = 0;
  for (const ChannelSite* s : sites) {
    if (s->begin < at || s->end > sql.size() || s->end < s->begin) continue;  // never: checked
    out.append(sql.substr(at, s->begin - at));
    std::string server = server_channel_name(tenant, s->channel);
    switch (s->kind) {
      case ChannelSite::Kind::kListen:
        out += "LISTEN " + quote_ident(server);
        break;
      case ChannelSite::Kind::kUnlisten:
        out += "UNLISTEN " + quote_ident(server);
        break;
      case ChannelSite::Kind::kUnlistenAll:
        out += "UNLISTEN *";
        break;
      case ChannelSite::Kind::kNotify:
        out += "NOTIFY " + quote_ident(server);
        if (!s->payload.empty()) out += ", " + quote_literal(s->payload);
        break;
      case ChannelSite::Kind::kPgNotify:
        out += quote_literal(server);
        break;
    }
    at = s->end;
  }
  out.append(sql.substr(std::min(at, sql.size())));
  return out;
}

}  // namespace shardgate::routing
