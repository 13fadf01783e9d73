// auth: { users: [ { name, password, auth, tenants, require_tls } ] }.
#include <optional>
#include <string>

#include "config/parse_sections.h"

namespace shardgate::config {
namespace {

using yaml::Reader;

bool is_scram_verifier(std::string_view p) { return p.rfind("SCRAM-SHA-256$", 0) == 0; }

// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>".
bool well_formed_scram(std::string_view p) {
  p.remove_prefix(std::string_view("SCRAM-SHA-256$").size());
  size_t colon1 = p.find(':');
  size_t dollar = p.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || dollar < colon1) {
    return false;
  }
  std::string_view iter = p.substr(0, colon1);
  std::string_view salt = p.substr(colon1 + 1, dollar - colon1 - 1);
  std::string_view keys = p.substr(dollar + 1);
  size_t colon2 = keys.find(':');
  if (iter.empty() || salt.empty() || colon2 == std::string_view::npos || colon2 == 0 ||
      colon2 + 1 == keys.size()) {
    return false;
  }
  for (char c : iter) {
    if (c < '0' || c > '9') return false;
  }
  return iter != "0";
}

// Nodes kept for error positions.
struct UserNodes {
  std::optional<YAML::Node> name, password, auth, tenants;
};

void parse_user_tenants(const Reader& r, const YAML::Node& v, const std::string& key,
                        UserConfig& u) {
  if (v.IsScalar()) {
    if (v.Scalar() != "*") {
      r.fail(v, key, "expected \"*\" (any tenant) or a list of tenant IDs");
    }
    u.all_tenants = true;
    return;
  }
  auto list = r.str_list(v, key);
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == "*") {
      u.all_tenants = true;
    } else if (!valid_tenant_id(list[i])) {
      r.fail(v[i], yaml::index(key, i),
             "\"" + Reader::printable(list[i]) +
                 "\" is not a valid tenant ID (1-63 characters of A-Z, a-z, 0-9, _ and -)");
    } else {
      u.tenants.push_back(list[i]);
    }
  }
}

// The password must suit the auth method: none for trust, a SCRAM verifier only for
// scram-sha-256, an md5 hash only for md5.
void check_password(const Reader& r, const YAML::Node& n, const std::string& key,
                    const UserConfig& u, const UserNodes& nodes) {
  std::string pkey = yaml::join(key, "password");
  const YAML::Node& pnode = nodes.password ? *nodes.password : n;
  const YAML::Node& anode = nodes.auth ? *nodes.auth : pnode;
  if (u.method == AuthMethod::kTrust) {
    if (!u.password.empty()) {
      r.fail(pnode, pkey,
             "user \"" + u.name +
                 "\" uses auth: trust, which takes no password; remove it or choose another "
                 "auth method");
    }
  } else if (u.password.empty()) {
    r.fail(pnode, pkey, "user \"" + u.name + "\" needs a password (or auth: trust)");
  } else if (is_scram_verifier(u.password)) {
    if (!well_formed_scram(u.password)) {
      r.fail(pnode, pkey,
             "malformed SCRAM verifier (expected SCRAM-SHA-256$<iterations>:<salt>$"
             "<StoredKey>:<ServerKey>, as in pg_authid)");
    }
    if (u.method == AuthMethod::kMd5) {
      r.fail(anode, yaml::join(key, "auth"),
             "user \"" + u.name +
                 "\": md5 cannot use a SCRAM-SHA-256 verifier; give the plain password or an "
                 "md5 hash, or use auth: scram-sha-256");
    }
  } else if (is_md5_hash(u.password) && u.method == AuthMethod::kScramSha256) {
    r.fail(anode, yaml::join(key, "auth"),
           "user \"" + u.name +
               "\": scram-sha-256 cannot use an md5 hash; give the plain password or a SCRAM "
               "verifier, or use auth: md5");
  }
}

UserConfig parse_user(const Reader& r, const YAML::Node& n, const std::string& key,
                      const std::vector<UserConfig>& earlier, bool tls_enabled) {
  if (!n.IsMap()) r.fail(n, key, "expected a mapping {name, password, auth, tenants}");
  UserConfig u;
  UserNodes nodes;
  r.for_each(n, key, {"name", "password", "auth", "tenants", "require_tls"},
             [&](const std::string& k, const YAML::Node& v, const std::string& fkey) {
               if (k == "require_tls") {
                 u.require_tls = r.boolean(v, fkey);
                 if (u.require_tls && !tls_enabled)
                   r.fail(v, fkey,
                          "this user could never connect: TLS is off (give tls.cert_file and "
                          "tls.key_file)");
               } else if (k == "name") {
                 u.name = r.non_empty_str(v, fkey);
                 nodes.name = v;
               } else if (k == "password") {
                 u.password = r.secret(v, fkey);
                 nodes.password = v;
               } else if (k == "auth") {
                 u.method = r.choice<AuthMethod>(v, fkey,
                                                 {{"scram-sha-256", AuthMethod::kScramSha256},
                                                  {"md5", AuthMethod::kMd5},
                                                  {"plain", AuthMethod::kPlain},
                                                  {"trust", AuthMethod::kTrust}});
                 nodes.auth = v;
               } else {
                 nodes.tenants = v;
                 parse_user_tenants(r, v, fkey, u);
               }
             });
  if (!nodes.name) r.fail(n, yaml::join(key, "name"), "missing (every user needs a name)");
  for (const auto& e : earlier) {
    if (e.name == u.name)
      r.fail(*nodes.name, yaml::join(key, "name"), "user \"" + u.name + "\" is defined twice");
  }
  if (!nodes.tenants) {
    r.fail(n, yaml::join(key, "tenants"),
           "missing for user \"" + u.name + "\": give \"*\" (any tenant) or a list of tenant IDs");
  }
  check_password(r, n, key, u, nodes);
  return u;
}

}  // namespace

std::vector<UserConfig> parse_auth(const Reader& r, const YAML::Node& n, const YAML::Node& root,
                                   bool tls_enabled) {
  std::vector<UserConfig> users;
  YAML::Node users_node;
  r.for_each(n, "auth", {"users"},
             [&](const std::string&, const YAML::Node& v, const std::string& key) {
               users_node = v;
               if (!v.IsSequence()) r.fail(v, key, "expected a list of users");
               for (size_t i = 0; i < v.size(); ++i)
                 users.push_back(parse_user(r, v[i], yaml::index(key, i), users, tls_enabled));
             });
  if (users.empty()) {
    r.fail(users_node.IsDefined() && !users_node.IsNull() ? users_node
           : n.IsNull()                                   ? root
                                                          : n,
           "auth.users",
           "at least one user is required (auth: { users: [ { name: app, password: ..., "
           "tenants: \"*\" } ] })");
  }
  return users;
}

}  // namespace shardgate::config
