#include "config/parse_sections.h"

namespace shardgate::config {

KeepAliveConfig parse_keepalive(const yaml::Reader& r, const YAML::Node& node,
                                std::string_view key) {
  KeepAliveConfig k;
  if (node.IsScalar()) {  // tcp_keepalive: false turns it off, with the default timings
    k.enabled = r.boolean(node, key);
    return k;
  }
  auto positive = [&](const YAML::Node& n, const std::string& at) {
    Duration d = r.duration(n, at);
    if (d.count() < 1000) r.fail(n, at, "must be at least 1s (TCP counts keepalive in seconds)");
    return d;
  };
  r.for_each(node, key, {"enabled", "idle", "interval", "count"},
             [&](const std::string& name, const YAML::Node& v, const std::string& at) {
               if (name == "enabled")
                 k.enabled = r.boolean(v, at);
               else if (name == "idle")
                 k.idle = positive(v, at);
               else if (name == "interval")
                 k.interval = positive(v, at);
               else
                 k.count = static_cast<int>(r.integer(v, at, 1, 127));
             });
  return k;
}

}  // namespace shardgate::config
