#include "config/yaml_reader.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace shardgate::config::yaml {

std::string join(std::string_view parent, std::string_view child) {
  if (parent.empty()) return std::string(child);
  std::string out(parent);
  out += '.';
  out += child;
  return out;
}

std::string index(std::string_view parent, size_t i) {
  return std::string(parent) + "[" + std::to_string(i) + "]";
}

std::string Reader::where(const YAML::Node& node) const {
  int line = last_line_;
  if (node.IsDefined()) {
    YAML::Mark m = node.Mark();
    if (!m.is_null() && m.line >= 0) line = m.line + 1;
  }
  return source_ + ":" + std::to_string(line);
}

void Reader::fail(const YAML::Node& node, std::string_view key, std::string_view problem) const {
  std::string msg = where(node);
  msg += ": ";
  msg += key.empty() ? std::string_view("(top level)") : key;
  msg += ": ";
  msg += problem;
  throw YamlError(msg);
}

void Reader::note(const YAML::Node& n) const {
  if (!n.IsDefined()) return;
  YAML::Mark m = n.Mark();
  if (!m.is_null() && m.line >= 0) last_line_ = m.line + 1;
}

std::string Reader::kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "nothing (null)";
    default:
      return "nothing";
  }
}

std::string Reader::printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= 64) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f || c == '"' || c == '\\') ? '?' : c;
  }
  return out;
}

bool Reader::contains(std::initializer_list<std::string_view> allowed, std::string_view name) {
  for (auto a : allowed) {
    if (a == name) return true;
  }
  return false;
}

namespace {
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string Reader::unknown_key_message(std::string_view name,
                                        std::initializer_list<std::string_view> allowed) {
  std::string msg = "unknown key \"" + printable(name) + "\"";
  std::string_view best;
  size_t best_d = 3;  // suggest only close matches
  if (name.size() < 64) {
    for (auto a : allowed) {
      size_t d = edit_distance(name, a);
      if (d < best_d) {
        best_d = d;
        best = a;
      }
    }
  }
  if (!best.empty()) {
    msg += " (did you mean \"" + std::string(best) + "\"?)";
  } else {
    msg += "; allowed keys: ";
    bool first = true;
    for (auto a : allowed) {
      if (!first) msg += ", ";
      msg += a;
      first = false;
    }
  }
  return msg;
}

std::string Reader::str(const YAML::Node& n, std::string_view key) const {
  if (n.IsNull()) fail(n, key, "missing value");
  if (!n.IsScalar()) fail(n, key, "expected a string, got " + kind(n));
  return n.Scalar();
}

std::optional<std::string> Reader::opt_str(const YAML::Node& n, std::string_view key) const {
  if (n.IsNull()) return std::nullopt;
  return str(n, key);
}

std::string Reader::non_empty_str(const YAML::Node& n, std::string_view key) const {
  std::string s = str(n, key);
  if (s.empty()) fail(n, key, "must not be empty");
  return s;
}

int64_t Reader::integer(const YAML::Node& n, std::string_view key, int64_t min, int64_t max) const {
  std::string s = str(n, key);
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) fail(n, key, "\"" + printable(s) + "\" is not a whole number");
  if (v < min || v > max) {
    fail(n, key,
         std::to_string(v) + " is out of range (" + std::to_string(min) + ".." +
             std::to_string(max) + ")");
  }
  return v;
}

double Reader::number(const YAML::Node& n, std::string_view key, double min, double max) const {
  std::string s = str(n, key);
  double v = 0;
  if (!absl::SimpleAtod(s, &v) || !std::isfinite(v)) {
    fail(n, key, "\"" + printable(s) + "\" is not a number");
  }
  if (v < min || v > max) {
    std::ostringstream os;
    os << v << " is out of range (" << min << ".." << max << ")";
    fail(n, key, os.str());
  }
  return v;
}

bool Reader::boolean(const YAML::Node& n, std::string_view key) const {
  std::string s = absl::AsciiStrToLower(str(n, key));
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  fail(n, key, "\"" + printable(s) + "\" is not true or false");
}

Duration Reader::duration(const YAML::Node& n, std::string_view key) const {
  std::string s = str(n, key);
  auto d = parse_duration(s);
  if (!d) {
    fail(n, key,
         "\"" + printable(s) + "\" is not a duration (use e.g. 200ms, 5s, 1m, 1h; a bare number " +
             "is milliseconds)");
  }
  return *d;
}

Endpoint Reader::endpoint(const YAML::Node& n, std::string_view key) const {
  std::string s = str(n, key);
  Endpoint e;
  std::string_view port_text = s;
  if (!s.empty() && s[0] == '[') {  // [::1]:6432
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      fail(n, key, "\"" + printable(s) + "\" is not host:port (IPv6 as [addr]:port)");
    }
    e.host = s.substr(1, close - 1);
    port_text = std::string_view(s).substr(close + 2);
  } else if (size_t colon = s.rfind(':'); colon != std::string::npos) {
    if (s.find(':') != colon) {
      fail(n, key, "\"" + printable(s) + "\" is not host:port (write IPv6 as [addr]:port)");
    }
    if (colon > 0) e.host = s.substr(0, colon);
    port_text = std::string_view(s).substr(colon + 1);
  }
  uint32_t port = 0;
  if (!absl::SimpleAtoi(std::string(port_text), &port) || port == 0 || port > 65535) {
    fail(n, key, "\"" + printable(s) + "\" is not host:port with a port in 1..65535");
  }
  if (e.host.empty()) fail(n, key, "host must not be empty");
  e.port = static_cast<uint16_t>(port);
  return e;
}

std::vector<std::string> Reader::str_list(const YAML::Node& n, std::string_view key) const {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  if (!n.IsSequence()) fail(n, key, "expected a list, got " + kind(n));
  for (size_t i = 0; i < n.size(); ++i) out.push_back(str(n[i], index(key, i)));
  return out;
}

std::string Reader::secret(const YAML::Node& n, std::string_view key) const {
  std::string s = str(n, key);
  auto r = resolve_secret(s, where(n) + ": " + std::string(key));
  if (!r.ok()) throw YamlError(std::string(r.status().message()));
  return *std::move(r);
}

RateConfig Reader::rate(const YAML::Node& n, std::string_view key, RateConfig base) const {
  for_each(n, key, {"queries_per_second", "burst", "action", "max_delay"},
           [&](const std::string& k, const YAML::Node& v, const std::string& dotted) {
             if (k == "queries_per_second") {
               base.queries_per_second = number(v, dotted, 0, 1e9);
             } else if (k == "burst") {
               base.burst = number(v, dotted, 0, 1e9);
             } else if (k == "action") {
               base.action = choice<RateAction>(
                   v, dotted,
                   {{"throttle", RateAction::kThrottle}, {"reject", RateAction::kReject}});
             } else {
               base.max_delay = duration(v, dotted);
             }
           });
  return base;
}

absl::StatusOr<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(path + ": file does not exist");
    return absl::FailedPreconditionError(path + ": cannot open: " + std::strerror(err));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::FailedPreconditionError(path + ": read error");
  return ss.str();
}

}  // namespace shardgate::config::yaml
