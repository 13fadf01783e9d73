// Config sections parsed in files of their own (config/parse_<section>.cc).
#pragma once

#include <string_view>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace shardgate::config {

// tcp_keepalive: true | false | { enabled, idle, interval, count } (parse_keepalive.cc).
KeepAliveConfig parse_keepalive(const yaml::Reader& r, const YAML::Node& node,
                                std::string_view key);

}  // namespace shardgate::config
