// What the parse-tree walk looks at: which message types it looks closer at, which fields
// hold qualified names, and how it finds a message's children (protobuf-c reflection).
#include <algorithm>
#include <array>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "routing/guard/statement_walk.h"

namespace shardgate::routing::internal {

const WalkHook* walk_hook(const ProtobufCMessageDescriptor* descriptor) {
  static const auto* table = new absl::flat_hash_map<const ProtobufCMessageDescriptor*, WalkHook>{
      {&pg_query__range_var__descriptor, WalkHook::kRangeVar},
      {&pg_query__func_call__descriptor, WalkHook::kFuncCall},
      {&pg_query__type_name__descriptor, WalkHook::kTypeName},
      {&pg_query__type_cast__descriptor, WalkHook::kTypeCast},
      {&pg_query__a__expr__descriptor, WalkHook::kNameList},
      {&pg_query__collate_clause__descriptor, WalkHook::kNameList},
      {&pg_query__object_with_args__descriptor, WalkHook::kNameList},
      {&pg_query__define_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_trig_stmt__descriptor, WalkHook::kCreateTrigger},
      {&pg_query__create_event_trig_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_domain_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__alter_domain_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_plang_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_conversion_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_op_class_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_op_family_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__alter_op_family_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__alter_type_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_enum_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_range_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__alter_enum_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__alter_tsdictionary_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__alter_tsconfiguration_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_am_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__create_stats_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__alter_stats_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__alter_collation_stmt__descriptor, WalkHook::kNameList},
      {&pg_query__index_elem__descriptor, WalkHook::kNameList},
      {&pg_query__partition_elem__descriptor, WalkHook::kNameList},
      {&pg_query__variable_set_stmt__descriptor, WalkHook::kVariableSet},
      {&pg_query__do_stmt__descriptor, WalkHook::kDoStmt},
      {&pg_query__create_function_stmt__descriptor, WalkHook::kCreateFunction},
      {&pg_query__alter_function_stmt__descriptor, WalkHook::kAlterFunction},
      {&pg_query__alter_role_set_stmt__descriptor, WalkHook::kAlterRoleSet},
      {&pg_query__alter_database_set_stmt__descriptor, WalkHook::kAlterDatabaseSet},
      {&pg_query__alter_system_stmt__descriptor, WalkHook::kAlterSystem},
      {&pg_query__deallocate_stmt__descriptor, WalkHook::kDeallocate},
      {&pg_query__drop_owned_stmt__descriptor, WalkHook::kOwnedBy},
      {&pg_query__copy_stmt__descriptor, WalkHook::kCopy},
      {&pg_query__reassign_owned_stmt__descriptor, WalkHook::kOwnedBy},
      {&pg_query__transaction_stmt__descriptor, WalkHook::kTransaction},
      {&pg_query__update_stmt__descriptor, WalkHook::kUpdate},
      {&pg_query__create_schema_stmt__descriptor, WalkHook::kCreateSchema},
      {&pg_query__alter_object_schema_stmt__descriptor, WalkHook::kAlterObjectSchema},
      {&pg_query__drop_stmt__descriptor, WalkHook::kDrop},
      {&pg_query__comment_stmt__descriptor, WalkHook::kComment},
      {&pg_query__sec_label_stmt__descriptor, WalkHook::kSecLabel},
      {&pg_query__alter_owner_stmt__descriptor, WalkHook::kAlterOwner},
      {&pg_query__rename_stmt__descriptor, WalkHook::kRename},
      {&pg_query__alter_extension_contents_stmt__descriptor, WalkHook::kAlterExtensionContents},
      {&pg_query__alter_object_depends_stmt__descriptor, WalkHook::kAlterObjectDepends},
      {&pg_query__grant_stmt__descriptor, WalkHook::kGrant},
      {&pg_query__def_elem__descriptor, WalkHook::kDefElem},
      {&pg_query__reindex_stmt__descriptor, WalkHook::kReindex},
      {&pg_query__import_foreign_schema_stmt__descriptor, WalkHook::kImportForeignSchema},
      {&pg_query__publication_obj_spec__descriptor, WalkHook::kPublicationObjSpec},
      {&pg_query__listen_stmt__descriptor, WalkHook::kChannel},
      {&pg_query__unlisten_stmt__descriptor, WalkHook::kChannel},
      {&pg_query__notify_stmt__descriptor, WalkHook::kChannel},
  };
  auto it = table->find(descriptor);
  return it == table->end() ? nullptr : &it->second;
}

bool is_name_list_field(std::string_view field) {
  static constexpr std::array<std::string_view, 19> kFields = {
      "name",        "collname",     "objname",  "defnames",    "funcname",        "domainname",
      "type_name",   "plhandler",    "plinline", "plvalidator", "conversion_name", "func_name",
      "opclassname", "opfamilyname", "dictname", "cfgname",     "dicts",           "handler_name",
      "opclass",
  };
  for (std::string_view f : kFields) {
    if (f == field) return true;
  }
  return false;
}

void push_children(const ProtobufCMessage* m, std::vector<const ProtobufCMessage*>& stack) {
  const ProtobufCMessageDescriptor* d = m->descriptor;
  const char* base = reinterpret_cast<const char*>(m);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const ProtobufCFieldDescriptor& f = d->fields[i];
    if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      uint32_t which;
      std::memcpy(&which, base + f.quantifier_offset, sizeof which);
      if (which != f.id) continue;
    }
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n;
      std::memcpy(&n, base + f.quantifier_offset, sizeof n);
      ProtobufCMessage* const* items;
      std::memcpy(&items, base + f.offset, sizeof items);
      for (size_t j = 0; j < n; ++j) {
        if (items[j]) stack.push_back(items[j]);
      }
    } else {
      const ProtobufCMessage* child;
      std::memcpy(&child, base + f.offset, sizeof child);
      if (child) stack.push_back(child);
    }
  }
}

}  // namespace shardgate::routing::internal
