// tenant: { sources, user_separator, schema_template, database_is_tenant }.
#include <string>

#include "config/parse_sections.h"

namespace shardgate::config {
namespace {

using yaml::Reader;

std::vector<TenantSource> parse_sources(const Reader& r, const YAML::Node& v,
                                        const std::string& key) {
  if (!v.IsSequence()) r.fail(v, key, "expected a list, got " + Reader::kind(v));
  std::vector<TenantSource> sources;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string ikey = yaml::index(key, i);
    TenantSource s = r.choice<TenantSource>(v[i], ikey,
                                            {{"options", TenantSource::kOptions},
                                             {"user_suffix", TenantSource::kUserSuffix},
                                             {"database", TenantSource::kDatabase},
                                             {"session", TenantSource::kSession},
                                             {"search_path", TenantSource::kSearchPath}});
    for (TenantSource seen : sources) {
      if (seen == s) r.fail(v[i], ikey, "listed twice");
    }
    sources.push_back(s);
  }
  if (sources.empty()) {
    r.fail(v, key, "at least one source is required (fail closed: no tenant, no query)");
  }
  return sources;
}

}  // namespace

TenantConfig parse_tenant(const Reader& r, const YAML::Node& n) {
  TenantConfig t;
  YAML::Node sources_node, db_node;
  bool sources_given = false;
  r.for_each(n, "tenant", {"sources", "user_separator", "schema_template", "database_is_tenant"},
             [&](const std::string& k, const YAML::Node& v, const std::string& key) {
               if (k == "sources") {
                 sources_given = true;
                 sources_node = v;
                 t.sources = parse_sources(r, v, key);
               } else if (k == "user_separator") {
                 t.user_separator = r.non_empty_str(v, key);
                 if (t.user_separator.size() > 8) r.fail(v, key, "at most 8 characters");
               } else if (k == "schema_template") {
                 t.schema_template = r.non_empty_str(v, key);
                 if (t.schema_template.find("{tenant}") == std::string::npos) {
                   r.fail(v, key,
                          "must contain {tenant} (e.g. \"tenant_{tenant}\"), or every tenant "
                          "would share one schema");
                 }
               } else {
                 t.database_is_tenant = r.boolean(v, key);
                 db_node = v;
               }
             });
  bool lists_db = false;
  for (TenantSource s : t.sources) lists_db = lists_db || s == TenantSource::kDatabase;
  if (lists_db && !t.database_is_tenant) {
    r.fail(sources_node, "tenant.sources",
           "lists database but tenant.database_is_tenant is false; set it to true or remove "
           "database");
  }
  if (t.database_is_tenant && !lists_db) {
    if (sources_given) {
      r.fail(db_node, "tenant.database_is_tenant",
             "is true but tenant.sources does not list database; add it where it should be "
             "tried");
    }
    // Default order with database in its documented place: options, user_suffix, database,
    // session.
    t.sources = {TenantSource::kOptions, TenantSource::kUserSuffix, TenantSource::kDatabase,
                 TenantSource::kSession};
  }
  return t;
}

}  // namespace shardgate::config
