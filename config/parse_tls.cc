// The `tls` block: the certificate shardgate shows clients, whether clients must use TLS,
// and the CA that client certificates are checked against.
#include <filesystem>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace shardgate::config {

std::string resolve_config_path(const std::string& path, const std::string& config_file) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  std::filesystem::path base = std::filesystem::path(config_file).parent_path();
  if (base.empty()) return path;
  return (base / p).lexically_normal().string();
}

TlsConfig parse_tls(const yaml::Reader& r, const YAML::Node& n, const std::string& config_file) {
  TlsConfig t;
  std::optional<YAML::Node> mode_node;
  r.for_each(n, "tls", {"mode", "cert_file", "key_file", "ca_file", "min_version", "ciphers"},
             [&](const std::string& k, const YAML::Node& v, const std::string& key) {
               if (k == "mode") {
                 mode_node = v;
                 t.mode = r.choice<TlsMode>(v, key,
                                            {{"disable", TlsMode::kDisable},
                                             {"allow", TlsMode::kAllow},
                                             {"require", TlsMode::kRequire}});
               } else if (k == "min_version") {
                 t.min_version = r.choice<TlsVersion>(
                     v, key, {{"1.2", TlsVersion::k1_2}, {"1.3", TlsVersion::k1_3}});
               } else if (k == "ciphers") {
                 t.ciphers = r.non_empty_str(v, key);
               } else {
                 std::string path = resolve_config_path(r.non_empty_str(v, key), config_file);
                 (k == "cert_file" ? t.cert_file : k == "key_file" ? t.key_file : t.ca_file) = path;
               }
             });
  // A CA asks every TLS client for a certificate, which plaintext cannot carry: unless told
  // `allow`, plaintext clients are refused so that none walks past the check.
  if (!mode_node && !t.cert_file.empty())
    t.mode = t.ca_file.empty() ? TlsMode::kAllow : TlsMode::kRequire;
  if (t.mode == TlsMode::kDisable) return t;
  if (t.cert_file.empty() || t.key_file.empty()) {
    r.fail(mode_node ? *mode_node : n, "tls",
           "TLS needs a certificate and its key: give tls.cert_file and tls.key_file (or set "
           "tls.mode: disable)");
  }
  return t;
}

}  // namespace shardgate::config

namespace shardgate::config {

void parse_shard_tls_key(const yaml::Reader& r, const std::string& name, const YAML::Node& v,
                         const std::string& key, ShardConfig& s, const std::string& config_file) {
  if (name == "sslmode") {
    s.sslmode = std::string(r.choice<std::string_view>(v, key,
                                                       {{"disable", "disable"},
                                                        {"prefer", "prefer"},
                                                        {"require", "require"},
                                                        {"verify-ca", "verify-ca"},
                                                        {"verify-full", "verify-full"}}));
    return;
  }
  std::string path = resolve_config_path(r.non_empty_str(v, key), config_file);
  (name == "sslrootcert" ? s.sslrootcert : name == "sslcert" ? s.sslcert : s.sslkey) = path;
}

void check_shard_tls(const yaml::Reader& r, const YAML::Node& n, const std::string& key,
                     const ShardConfig& s) {
  if (s.sslcert.empty() != s.sslkey.empty())
    r.fail(n, yaml::join(key, s.sslcert.empty() ? "sslcert" : "sslkey"),
           "a client certificate needs both sslcert and sslkey");
  if ((s.sslmode == "verify-ca" || s.sslmode == "verify-full") && s.sslrootcert.empty())
    r.fail(n, yaml::join(key, "sslrootcert"),
           "sslmode " + s.sslmode +
               " checks the shard's certificate against a CA: give the CA "
               "file in sslrootcert");
  if (s.sslmode == "disable" && (!s.sslrootcert.empty() || !s.sslcert.empty()))
    r.fail(n, yaml::join(key, "sslmode"),
           "is disable, so sslrootcert/sslcert would never be used: set sslmode (verify-full "
           "checks the shard's certificate and host name)");
}

}  // namespace shardgate::config
