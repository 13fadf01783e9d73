// The pure parts of tenant provisioning and the atomic directory write.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "proxy/admin/directory_store.h"
#include "proxy/tenants/provisioning.h"

namespace shardgate::proxy {
namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Provisioning, TemplateQuotesIdentifiersAndLiterals) {
  EXPECT_EQ(expand_provisioning_sql("CREATE SCHEMA {schema}; GRANT USAGE ON SCHEMA {schema} TO "
                                    "{role}; SELECT {tenant};",
                                    "acme", "tenant_acme", "tenant_acme"),
            "CREATE SCHEMA \"tenant_acme\"; GRANT USAGE ON SCHEMA \"tenant_acme\" TO "
            "\"tenant_acme\"; SELECT 'acme';");
  // Quotes inside names cannot end the identifier or literal early.
  EXPECT_EQ(expand_provisioning_sql("{schema} {tenant}", "o'neil", "we\"ird", ""),
            "\"we\"\"ird\" 'o''neil'");
  EXPECT_EQ(expand_provisioning_sql("no placeholders {other}", "a", "b", "c"),
            "no placeholders {other}");
}

TEST(Provisioning, TenantRoleFollowsTheTier) {
  config::TierConfig plain;
  EXPECT_EQ(tenant_role(plain, "acme"), "");
  config::TierConfig role;
  role.role = "tenant_{tenant}";
  EXPECT_EQ(tenant_role(role, "acme"), "tenant_acme");
  config::TierConfig shared_role;
  shared_role.role = "sg_rls_tenant";
  EXPECT_EQ(tenant_role(shared_role, "acme"), "sg_rls_tenant");
  config::TierConfig login;
  login.login = config::Login::kTenant;
  EXPECT_EQ(tenant_role(login, "acme"), "tenant_acme");
}

TEST(DirectoryStore, ReplacesTheFileWholeAndLeavesNoTempFiles) {
  auto dir = std::filesystem::temp_directory_path() /
             ("sg-store-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  auto file = dir / "directory.yaml";
  ASSERT_TRUE(write_file_atomically(file.string(), "tenants: {a: 1}\n").ok());
  EXPECT_EQ(read_all(file), "tenants: {a: 1}\n");
  ASSERT_TRUE(write_file_atomically(file.string(), "tenants: {b: 2}\n").ok());
  EXPECT_EQ(read_all(file), "tenants: {b: 2}\n");
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u);  // no temp file left behind
  auto refused = write_file_atomically((dir / "missing" / "d.yaml").string(), "x");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("cannot create"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shardgate::proxy
