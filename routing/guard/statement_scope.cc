#include "routing/guard/statement_scope.h"

#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace shardgate::routing::internal {
namespace {

// Objects with no schema: shared by every tenant of one database, or of the whole server.
enum class Reach { kDatabase, kServer };

struct Shared {
  std::string_view what;
  Reach reach;
};

const absl::flat_hash_map<const ProtobufCMessageDescriptor*, Shared>& shared_statements() {
  static const auto* table = new absl::flat_hash_map<const ProtobufCMessageDescriptor*, Shared>{
      {&pg_query__create_extension_stmt__descriptor, {"CREATE EXTENSION", Reach::kDatabase}},
      {&pg_query__alter_extension_stmt__descriptor, {"ALTER EXTENSION", Reach::kDatabase}},
      {&pg_query__alter_extension_contents_stmt__descriptor, {"ALTER EXTENSION", Reach::kDatabase}},
      {&pg_query__createdb_stmt__descriptor, {"CREATE DATABASE", Reach::kServer}},
      {&pg_query__alter_database_stmt__descriptor, {"ALTER DATABASE", Reach::kServer}},
      {&pg_query__alter_database_refresh_coll_stmt__descriptor, {"ALTER DATABASE", Reach::kServer}},
      {&pg_query__dropdb_stmt__descriptor, {"DROP DATABASE", Reach::kServer}},
      {&pg_query__create_role_stmt__descriptor, {"CREATE ROLE", Reach::kServer}},
      {&pg_query__alter_role_stmt__descriptor, {"ALTER ROLE", Reach::kServer}},
      {&pg_query__drop_role_stmt__descriptor, {"DROP ROLE", Reach::kServer}},
      {&pg_query__grant_role_stmt__descriptor, {"GRANT/REVOKE of a role", Reach::kServer}},
      {&pg_query__create_table_space_stmt__descriptor, {"CREATE TABLESPACE", Reach::kServer}},
      {&pg_query__drop_table_space_stmt__descriptor, {"DROP TABLESPACE", Reach::kServer}},
      {&pg_query__alter_table_space_options_stmt__descriptor, {"ALTER TABLESPACE", Reach::kServer}},
      {&pg_query__alter_table_move_all_stmt__descriptor,
       {"ALTER ... ALL IN TABLESPACE", Reach::kServer}},
      {&pg_query__create_publication_stmt__descriptor, {"CREATE PUBLICATION", Reach::kDatabase}},
      {&pg_query__alter_publication_stmt__descriptor, {"ALTER PUBLICATION", Reach::kDatabase}},
      {&pg_query__create_subscription_stmt__descriptor, {"CREATE SUBSCRIPTION", Reach::kDatabase}},
      {&pg_query__alter_subscription_stmt__descriptor, {"ALTER SUBSCRIPTION", Reach::kDatabase}},
      {&pg_query__drop_subscription_stmt__descriptor, {"DROP SUBSCRIPTION", Reach::kDatabase}},
      {&pg_query__create_event_trig_stmt__descriptor, {"CREATE EVENT TRIGGER", Reach::kDatabase}},
      {&pg_query__alter_event_trig_stmt__descriptor, {"ALTER EVENT TRIGGER", Reach::kDatabase}},
      {&pg_query__create_cast_stmt__descriptor, {"CREATE CAST", Reach::kDatabase}},
      {&pg_query__create_plang_stmt__descriptor, {"CREATE LANGUAGE", Reach::kDatabase}},
      {&pg_query__create_fdw_stmt__descriptor, {"CREATE FOREIGN DATA WRAPPER", Reach::kDatabase}},
      {&pg_query__alter_fdw_stmt__descriptor, {"ALTER FOREIGN DATA WRAPPER", Reach::kDatabase}},
      {&pg_query__create_foreign_server_stmt__descriptor, {"CREATE SERVER", Reach::kDatabase}},
      {&pg_query__alter_foreign_server_stmt__descriptor, {"ALTER SERVER", Reach::kDatabase}},
      {&pg_query__create_user_mapping_stmt__descriptor, {"CREATE USER MAPPING", Reach::kDatabase}},
      {&pg_query__alter_user_mapping_stmt__descriptor, {"ALTER USER MAPPING", Reach::kDatabase}},
      {&pg_query__drop_user_mapping_stmt__descriptor, {"DROP USER MAPPING", Reach::kDatabase}},
      {&pg_query__create_am_stmt__descriptor, {"CREATE ACCESS METHOD", Reach::kDatabase}},
      {&pg_query__create_transform_stmt__descriptor, {"CREATE TRANSFORM", Reach::kDatabase}},
  };
  return *table;
}

// Object types of DROP / ALTER ... RENAME / OWNER / COMMENT ON / SECURITY LABEL / GRANT ON
// that name a shared object.
const Shared* shared_object(PgQuery__ObjectType type) {
  static const Shared kExtension{"an extension", Reach::kDatabase};
  static const Shared kDatabase{"a database", Reach::kServer};
  static const Shared kRole{"a role", Reach::kServer};
  static const Shared kTablespace{"a tablespace", Reach::kServer};
  static const Shared kParameter{"a server parameter", Reach::kServer};
  static const Shared kPublication{"a publication", Reach::kDatabase};
  static const Shared kSubscription{"a subscription", Reach::kDatabase};
  static const Shared kEventTrigger{"an event trigger", Reach::kDatabase};
  static const Shared kCast{"a cast", Reach::kDatabase};
  static const Shared kLanguage{"a language", Reach::kDatabase};
  static const Shared kForeign{"a foreign data wrapper or server", Reach::kDatabase};
  static const Shared kAccessMethod{"an access method", Reach::kDatabase};
  static const Shared kTransform{"a transform", Reach::kDatabase};
  static const Shared kLargeObject{"a large object", Reach::kDatabase};
  switch (type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_EXTENSION:
      return &kExtension;
    case PG_QUERY__OBJECT_TYPE__OBJECT_DATABASE:
      return &kDatabase;
    case PG_QUERY__OBJECT_TYPE__OBJECT_ROLE:
      return &kRole;
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLESPACE:
      return &kTablespace;
    case PG_QUERY__OBJECT_TYPE__OBJECT_PARAMETER_ACL:
      return &kParameter;
    case PG_QUERY__OBJECT_TYPE__OBJECT_PUBLICATION:
    case PG_QUERY__OBJECT_TYPE__OBJECT_PUBLICATION_NAMESPACE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_PUBLICATION_REL:
      return &kPublication;
    case PG_QUERY__OBJECT_TYPE__OBJECT_SUBSCRIPTION:
      return &kSubscription;
    case PG_QUERY__OBJECT_TYPE__OBJECT_EVENT_TRIGGER:
      return &kEventTrigger;
    case PG_QUERY__OBJECT_TYPE__OBJECT_CAST:
      return &kCast;
    case PG_QUERY__OBJECT_TYPE__OBJECT_LANGUAGE:
      return &kLanguage;
    case PG_QUERY__OBJECT_TYPE__OBJECT_FDW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_SERVER:
    case PG_QUERY__OBJECT_TYPE__OBJECT_USER_MAPPING:
      return &kForeign;
    case PG_QUERY__OBJECT_TYPE__OBJECT_ACCESS_METHOD:
      return &kAccessMethod;
    case PG_QUERY__OBJECT_TYPE__OBJECT_TRANSFORM:
      return &kTransform;
    case PG_QUERY__OBJECT_TYPE__OBJECT_LARGEOBJECT:
      return &kLargeObject;
    default:
      return nullptr;
  }
}

// The object type a statement acts on, for the statements that act on objects of any type.
bool object_type_of(const ProtobufCMessage* m, PgQuery__ObjectType& type, std::string& verb) {
  const ProtobufCMessageDescriptor* d = m->descriptor;
  if (d == &pg_query__drop_stmt__descriptor) {
    type = reinterpret_cast<const PgQuery__DropStmt*>(m)->remove_type;
    verb = "DROP of ";
  } else if (d == &pg_query__rename_stmt__descriptor) {
    type = reinterpret_cast<const PgQuery__RenameStmt*>(m)->rename_type;
    verb = "ALTER ... RENAME of ";
  } else if (d == &pg_query__alter_owner_stmt__descriptor) {
    type = reinterpret_cast<const PgQuery__AlterOwnerStmt*>(m)->object_type;
    verb = "ALTER ... OWNER of ";
  } else if (d == &pg_query__comment_stmt__descriptor) {
    type = reinterpret_cast<const PgQuery__CommentStmt*>(m)->objtype;
    verb = "COMMENT ON ";
  } else if (d == &pg_query__sec_label_stmt__descriptor) {
    type = reinterpret_cast<const PgQuery__SecLabelStmt*>(m)->objtype;
    verb = "SECURITY LABEL on ";
  } else if (d == &pg_query__grant_stmt__descriptor) {
    type = reinterpret_cast<const PgQuery__GrantStmt*>(m)->objtype;
    verb = "GRANT/REVOKE on ";
  } else if (d == &pg_query__alter_object_schema_stmt__descriptor) {
    type = reinterpret_cast<const PgQuery__AlterObjectSchemaStmt*>(m)->object_type;
    verb = "ALTER ... SET SCHEMA of ";
  } else if (d == &pg_query__alter_object_depends_stmt__descriptor) {
    type = reinterpret_cast<const PgQuery__AlterObjectDependsStmt*>(m)->object_type;
    verb = "ALTER ... DEPENDS ON EXTENSION of ";
  } else {
    return false;
  }
  return true;
}

// ALTER DEFAULT PRIVILEGES without IN SCHEMA changes the privileges of objects a role will
// create in any schema, other tenants' included.
bool default_privileges_everywhere(const ProtobufCMessage* m) {
  if (m->descriptor != &pg_query__alter_default_privileges_stmt__descriptor) return false;
  const auto* s = reinterpret_cast<const PgQuery__AlterDefaultPrivilegesStmt*>(m);
  for (size_t i = 0; i < s->n_options; ++i) {
    const PgQuery__Node* o = s->options[i];
    if (o && o->node_case == PG_QUERY__NODE__NODE_DEF_ELEM && o->def_elem && o->def_elem->defname &&
        std::string_view(o->def_elem->defname) == "schemas") {
      return false;
    }
  }
  return true;
}

void shared(StatementInfo& info, std::string what, Reach reach) {
  std::string& slot = reach == Reach::kServer ? info.server_wide : info.database_wide;
  if (slot.empty()) slot = std::move(what);
}

}  // namespace

void note_statement_scope(const ProtobufCMessage* m, StatementInfo& info) {
  if (auto it = shared_statements().find(m->descriptor); it != shared_statements().end()) {
    shared(info, std::string(it->second.what), it->second.reach);
    return;
  }
  PgQuery__ObjectType type;
  std::string verb;
  if (object_type_of(m, type, verb)) {
    if (const Shared* s = shared_object(type)) shared(info, verb + std::string(s->what), s->reach);
    return;
  }
  if (default_privileges_everywhere(m)) {
    shared(info, "ALTER DEFAULT PRIVILEGES without IN SCHEMA", Reach::kDatabase);
    return;
  }
  if (m->descriptor == &pg_query__declare_cursor_stmt__descriptor) {
    constexpr int32_t kCursorOptHold = 0x0020;  // CURSOR_OPT_HOLD in PostgreSQL's parsenodes.h
    if ((reinterpret_cast<const PgQuery__DeclareCursorStmt*>(m)->options & kCursorOptHold) &&
        info.outlives_transaction.empty()) {
      info.outlives_transaction = "DECLARE ... WITH HOLD";
    }
  }
}

}  // namespace shardgate::routing::internal
