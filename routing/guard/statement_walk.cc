// The parse-tree walk behind inspect_statement(). libpg_query hands the tree over as
// protobuf-c messages; the walk visits every message through protobuf-c's reflection
// (descriptors), so no node type can be skipped by omission, and looks closer at the node
// types that carry names, settings or dynamic SQL.
#include "routing/guard/statement_walk.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "routing/guard/function_body.h"
#include "routing/guard/statement_scope.h"

namespace shardgate::routing::internal {
namespace {

std::string_view sv(const char* s) { return s ? std::string_view(s) : std::string_view(); }

bool is_sequence_function(std::string_view name) {
  return name == "nextval" || name == "currval" || name == "setval" ||
         name == "pg_sequence_last_value";
}

bool is_cross_tenant_view(std::string_view name) {
  return name == "pg_stats" || name == "pg_statistic" || name == "pg_stats_ext" ||
         name == "pg_stats_ext_exprs" || name == "pg_statistic_ext_data" ||
         name == "pg_stat_activity" || name == "pg_stat_statements" ||
         name == "pg_stat_get_activity" || name == "pg_stat_statements_info" ||
         // server files (a privileged login could read any tenant's table files) and large
         // objects (shared by the whole database)
         name == "pg_read_file" || name == "pg_read_binary_file" || name == "pg_stat_file" ||
         name.starts_with("pg_ls_") || name.starts_with("lo_") || name == "pg_file_write";
}

void add_unique(std::vector<std::string>& v, std::string_view s) {
  for (const auto& e : v) {
    if (e == s) return;
  }
  v.emplace_back(s);
}

const PgQuery__String* string_node(const PgQuery__Node* n) {
  return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string : nullptr;
}

class Walker {
 public:
  Walker(StatementInfo& info, std::string_view text, const ProtobufCMessage* root,
         StatementSpan span)
      : info_(info), text_(text), root_(root), span_(span) {}

  void walk(const ProtobufCMessage* root) {
    std::vector<const ProtobufCMessage*> stack;
    stack.reserve(64);
    stack.push_back(root);
    while (!stack.empty()) {
      const ProtobufCMessage* m = stack.back();
      stack.pop_back();
      visit(m);
      // Children are pushed in field order and reversed so they pop in field order: findings
      // come out roughly in source order (the first one names the refusal).
      size_t before = stack.size();
      push_children(m, stack);
      std::reverse(stack.begin() + static_cast<std::ptrdiff_t>(before), stack.end());
    }
  }

 private:
  void schema(std::string_view s) {
    if (!s.empty()) add_unique(info_.qualified_schemas, s);
  }

  // A qualified name as a list of String nodes: the schema is the element at
  // n - 1 - trailing (trailing: members after the object's own name, e.g. a trigger's name
  // after its table), when there is one before it beyond `leading` non-name elements.
  void name_list(PgQuery__Node* const* items, size_t n, size_t trailing = 0, size_t leading = 0) {
    for (size_t i = 0; i < n; ++i) {
      if (!string_node(items[i])) {
        // Lists of names (AlterTSConfigurationStmt.dicts): each inner list is a name.
        if (items[i] && items[i]->node_case == PG_QUERY__NODE__NODE_LIST && items[i]->list) {
          name_list(items[i]->list->items, items[i]->list->n_items, trailing, leading);
        }
        continue;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (!string_node(items[i])) return;
    }
    if (n < leading + trailing + 2) return;
    schema(sv(items[n - 2 - trailing]->string->sval));
  }

  void name_list_fields(const ProtobufCMessage* m) {
    const ProtobufCMessageDescriptor* d = m->descriptor;
    const char* base = reinterpret_cast<const char*>(m);
    for (unsigned i = 0; i < d->n_fields; ++i) {
      const ProtobufCFieldDescriptor& f = d->fields[i];
      if (f.type != PROTOBUF_C_TYPE_MESSAGE || f.label != PROTOBUF_C_LABEL_REPEATED ||
          f.descriptor != &pg_query__node__descriptor || !is_name_list_field(sv(f.name))) {
        continue;
      }
      size_t n;
      std::memcpy(&n, base + f.quantifier_offset, sizeof n);
      PgQuery__Node* const* items;
      std::memcpy(&items, base + f.offset, sizeof items);
      name_list(items, n);
    }
  }

  // The `object` of DROP, COMMENT ON, ALTER ... OWNER/RENAME/SET SCHEMA, SECURITY LABEL,
  // GRANT: its shape depends on the object type.
  void object(PgQuery__ObjectType type, const PgQuery__Node* node) {
    if (!node) return;
    if (const PgQuery__String* s = string_node(node)) {
      if (type == PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA) schema(sv(s->sval));
      return;
    }
    if (node->node_case != PG_QUERY__NODE__NODE_LIST || !node->list) return;
    const PgQuery__List* l = node->list;
    switch (type) {
      case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER:
      case PG_QUERY__OBJECT_TYPE__OBJECT_POLICY:
      case PG_QUERY__OBJECT_TYPE__OBJECT_RULE:
      case PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT:
      case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN:
        name_list(l->items, l->n_items, /*trailing=*/1);
        break;
      case PG_QUERY__OBJECT_TYPE__OBJECT_OPCLASS:
      case PG_QUERY__OBJECT_TYPE__OBJECT_OPFAMILY:
        name_list(l->items, l->n_items, 0, /*leading=*/1);
        break;
      default:
        name_list(l->items, l->n_items);
        break;
    }
  }

  // A name written in a string constant that PostgreSQL reads as an object name.
  void name_in_string(std::string_view text, std::string_view type) {
    std::vector<std::string> parts;
    if (type == "regnamespace") {
      if (split_qualified_name(text, "", parts) && parts.size() == 1) schema(parts[0]);
      return;
    }
    std::string_view stop;
    if (type == "regprocedure" || type == "regoperator") stop = "(";
    if (type == "regtype") stop = "([%";
    if (!split_qualified_name(text, stop, parts) || parts.size() < 2) return;
    schema(parts[parts.size() - 2]);
  }

  void dynamic(std::string what) {
    if (!info_.dynamic_sql) info_.dynamic_sql_what = std::move(what);
    info_.dynamic_sql = true;
  }

  void persistent(std::string what) {
    if (!info_.persistent_settings) info_.persistent_what = std::move(what);
    info_.persistent_settings = true;
  }

  void setting(std::string_view raw_name, SettingChange kind, std::string_view value) {
    std::string name = ascii_lower(raw_name);
    if (is_protected_setting(name, kind, value)) add_unique(info_.protected_settings, name);
  }

  void variable_set(const PgQuery__VariableSetStmt& v) {
    switch (v.kind) {
      case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL:
        // As a statement of its own: StatementInfo::reset_all (statement.cc). Inside CREATE or
        // ALTER FUNCTION/ROLE/DATABASE it changes the object, not the session.
        return;
      case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE: {
        std::string value;
        bool constant = v.n_args >= 1;
        for (size_t i = 0; i < v.n_args && constant; ++i) {
          std::string part;
          constant = constant_text(v.args[i], part);
          if (i == 0) value = std::move(part);
        }
        setting(sv(v.name), constant ? SettingChange::kValue : SettingChange::kNonConstant, value);
        return;
      }
      case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI:  // SET TRANSACTION ...: not a setting
        return;
      default:  // DEFAULT, RESET, FROM CURRENT
        setting(sv(v.name), SettingChange::kReset, {});
        return;
    }
  }

  // Argument `pos` of a call, or the one named `name` (name => value).
  static const PgQuery__Node* argument(const PgQuery__FuncCall& f, size_t pos,
                                       std::string_view name) {
    for (size_t i = 0; i < f.n_args; ++i) {
      const PgQuery__Node* a = f.args[i];
      if (a && a->node_case == PG_QUERY__NODE__NODE_NAMED_ARG_EXPR && a->named_arg_expr &&
          sv(a->named_arg_expr->name) == name) {
        return a->named_arg_expr->arg;
      }
    }
    if (pos < f.n_args && f.args[pos] &&
        f.args[pos]->node_case != PG_QUERY__NODE__NODE_NAMED_ARG_EXPR) {
      return f.args[pos];
    }
    return nullptr;
  }

  void func_call(const PgQuery__FuncCall& f) {
    if (f.n_funcname == 0 || !string_node(f.funcname[f.n_funcname - 1])) return;
    std::string_view name = sv(f.funcname[f.n_funcname - 1]->string->sval);
    if (name == "set_config") {
      std::string setting_name;
      if (!constant_text(argument(f, 0, "setting_name"), setting_name)) {
        info_.unknown_setting = true;
        return;
      }
      std::string value;
      bool constant = constant_text(argument(f, 1, "new_value"), value);
      setting(setting_name, constant ? SettingChange::kValue : SettingChange::kNonConstant, value);
      // Whether the call runs, and with which value, shardgate cannot tell: the setting is
      // unknown afterwards (a reported one is then known again from the server's report).
      std::string local;
      if (!constant_text(argument(f, 2, "is_local"), local) || !is_on(local))
        info_.setting_writes.push_back({ascii_lower(setting_name), false, false, {}});
    } else if (is_cross_tenant_view(name)) {
      if (info_.cross_tenant_view.empty()) info_.cross_tenant_view = std::string(name);
    } else if (is_dynamic_function(name)) {
      dynamic("function " + std::string(name));
    } else if (is_sequence_function(name)) {
      std::string seq;
      const PgQuery__Node* arg = f.n_args >= 1 ? f.args[0] : nullptr;
      const PgQuery__FuncCall* inner =
          arg && arg->node_case == PG_QUERY__NODE__NODE_FUNC_CALL ? arg->func_call : nullptr;
      std::string table;
      if (inner && inner->n_funcname > 0 && string_node(inner->funcname[inner->n_funcname - 1]) &&
          sv(inner->funcname[inner->n_funcname - 1]->string->sval) == "pg_get_serial_sequence" &&
          inner->n_args >= 1 && constant_text(inner->args[0], table)) {
        name_in_string(table, "regclass");  // the sequence of a named table: check the table
      } else if (arg && !constant_text(arg, seq)) {
        // A sequence named at run time ($1, a subquery, to_regclass(...)): fail closed.
        schema("(a sequence named at run time)");
      } else if (arg) {
        bool oid = !seq.empty() && seq.find_first_not_of("0123456789") == std::string::npos;
        if (oid) {
          schema("(sequence by OID " + seq + ")");
        } else {
          name_in_string(seq, "regclass");
        }
      }
    }
  }

  void visit(const ProtobufCMessage* m) {
    note_statement_scope(m, info_);
    const WalkHook* hook = walk_hook(m->descriptor);
    if (!hook) return;
    if (visit_names(*hook, m) || visit_effects(*hook, m)) return;
    visit_objects(*hook, m);
  }

  // Names: relations, functions, types, reg* literals, qualified name lists.
  bool visit_names(WalkHook hook, const ProtobufCMessage* m) {
    switch (hook) {
      case WalkHook::kRangeVar: {
        const auto* r = reinterpret_cast<const PgQuery__RangeVar*>(m);
        if (is_cross_tenant_view(sv(r->relname)) && info_.cross_tenant_view.empty())
          info_.cross_tenant_view = std::string(sv(r->relname));
        schema(sv(r->schemaname));
        return true;
      }
      case WalkHook::kFuncCall: {
        const auto* f = reinterpret_cast<const PgQuery__FuncCall*>(m);
        name_list(f->funcname, f->n_funcname);
        func_call(*f);
        channel_function(*f, info_);
        return true;
      }
      case WalkHook::kTypeName: {
        const auto* t = reinterpret_cast<const PgQuery__TypeName*>(m);
        name_list(t->names, t->n_names, t->pct_type ? 1 : 0);  // tbl.col%TYPE: col trails
        return true;
      }
      case WalkHook::kTypeCast: {
        const auto* c = reinterpret_cast<const PgQuery__TypeCast*>(m);
        const PgQuery__TypeName* t = c->type_name;
        if (!t || t->n_names == 0 || t->n_names > 2) return true;
        for (size_t i = 0; i < t->n_names; ++i) {
          if (!string_node(t->names[i])) return true;
        }
        if (t->n_names == 2 && sv(t->names[0]->string->sval) != "pg_catalog") return true;
        std::string_view type = sv(t->names[t->n_names - 1]->string->sval);
        std::string text;
        if (is_reg_type(type) && t->n_array_bounds == 0 && constant_text(c->arg, text)) {
          name_in_string(text, type);
        }
        return true;
      }
      case WalkHook::kNameList:
        name_list_fields(m);
        return true;
      default:
        return false;
    }
  }

  // What a statement does beyond its names: settings, function bodies, persistent changes,
  // session resets, COPY to or from the server, transaction control, channels.
  bool visit_effects(WalkHook hook, const ProtobufCMessage* m) {
    switch (hook) {
      case WalkHook::kVariableSet:
        variable_set(*reinterpret_cast<const PgQuery__VariableSetStmt*>(m));
        return true;
      case WalkHook::kDoStmt:
        inspect_do(*reinterpret_cast<const PgQuery__DoStmt*>(m), text_, info_);
        return true;
      case WalkHook::kCreateFunction: {
        const auto* f = reinterpret_cast<const PgQuery__CreateFunctionStmt*>(m);
        name_list(f->funcname, f->n_funcname);
        inspect_create_function(*f, text_, info_);
        return true;
      }
      case WalkHook::kCreateTrigger:
        name_list_fields(m);
        inspect_create_trigger(*reinterpret_cast<const PgQuery__CreateTrigStmt*>(m), info_);
        return true;
      case WalkHook::kAlterFunction:
        inspect_alter_function(*reinterpret_cast<const PgQuery__AlterFunctionStmt*>(m), info_);
        return true;
      case WalkHook::kAlterRoleSet:
        persistent("ALTER ROLE ... SET");
        return true;
      case WalkHook::kAlterDatabaseSet:
        persistent("ALTER DATABASE ... SET");
        return true;
      case WalkHook::kAlterSystem:
        persistent("ALTER SYSTEM");
        return true;
      case WalkHook::kDeallocate: {
        std::string_view name = sv(reinterpret_cast<const PgQuery__DeallocateStmt*>(m)->name);
        if (name.empty())
          info_.deallocate_all = true;
        else
          info_.deallocated.emplace_back(name);
        return true;
      }
      case WalkHook::kCopy: {
        const auto* c = reinterpret_cast<const PgQuery__CopyStmt*>(m);
        if ((c->is_program || !sv(c->filename).empty()) && info_.cross_tenant_view.empty())
          info_.cross_tenant_view = c->is_program ? "COPY ... PROGRAM" : "COPY ... a server file";
        return true;
      }
      case WalkHook::kOwnedBy:
        // DROP OWNED / REASSIGN OWNED act on everything a role owns, any schema.
        persistent(m->descriptor == &pg_query__drop_owned_stmt__descriptor ? "DROP OWNED"
                                                                           : "REASSIGN OWNED");
        return true;
      case WalkHook::kTransaction:
        info_.transaction_control = true;
        return true;
      case WalkHook::kUpdate: {
        // pg_settings' update rule calls set_config(): which setting is data, not syntax.
        const PgQuery__RangeVar* r = reinterpret_cast<const PgQuery__UpdateStmt*>(m)->relation;
        if (r && sv(r->relname) == "pg_settings" &&
            (sv(r->schemaname).empty() || sv(r->schemaname) == "pg_catalog")) {
          info_.unknown_setting = true;
        }
        return true;
      }
      case WalkHook::kChannel:
        channel_statement(m, m == root_, span_, info_);
        return true;
      default:
        return false;
    }
  }

  // A statement about one object (COMMENT ON, SECURITY LABEL, ALTER ... OWNER, ...).
  template <class Stmt>
  void named_object(const ProtobufCMessage* m) {
    const auto* s = reinterpret_cast<const Stmt*>(m);
    if constexpr (requires { s->objtype; })
      object(s->objtype, s->object);
    else
      object(s->object_type, s->object);
  }

  void create_schema(const PgQuery__CreateSchemaStmt* s) {
    if (!sv(s->schemaname).empty()) {
      schema(sv(s->schemaname));
    } else if (s->authrole) {  // CREATE SCHEMA AUTHORIZATION r: the schema is named r
      schema(s->authrole->roletype == PG_QUERY__ROLE_SPEC_TYPE__ROLESPEC_CSTRING
                 ? sv(s->authrole->rolename)
                 : std::string_view("(schema named after a role)"));
    }
  }

  // Options that name schemas or objects: CREATE EXTENSION ... SCHEMA s, ALTER DEFAULT
  // PRIVILEGES IN SCHEMA a, b, a sequence's OWNED BY s.t.col.
  void def_elem(const PgQuery__DefElem* e) {
    std::string_view name = sv(e->defname);
    const PgQuery__Node* arg = e->arg;
    if (!arg) return;
    bool list = arg->node_case == PG_QUERY__NODE__NODE_LIST && arg->list;
    if (name == "schema") {
      if (const PgQuery__String* s = string_node(arg)) schema(sv(s->sval));
    } else if (name == "schemas" && list) {
      for (size_t i = 0; i < arg->list->n_items; ++i) {
        if (const PgQuery__String* s = string_node(arg->list->items[i])) schema(sv(s->sval));
      }
    } else if (name == "owned_by" && list) {
      name_list(arg->list->items, arg->list->n_items, /*trailing=*/1);
    }
  }

  // Objects named by a statement that creates, alters, drops, comments on or grants them,
  // and the schemas they are in.
  bool visit_objects(WalkHook hook, const ProtobufCMessage* m) {
    switch (hook) {
      case WalkHook::kCreateSchema:
        create_schema(reinterpret_cast<const PgQuery__CreateSchemaStmt*>(m));
        return true;
      case WalkHook::kAlterObjectSchema: {
        const auto* s = reinterpret_cast<const PgQuery__AlterObjectSchemaStmt*>(m);
        schema(sv(s->newschema));
        object(s->object_type, s->object);
        return true;
      }
      case WalkHook::kDrop: {
        const auto* s = reinterpret_cast<const PgQuery__DropStmt*>(m);
        for (size_t i = 0; i < s->n_objects; ++i) object(s->remove_type, s->objects[i]);
        return true;
      }
      case WalkHook::kComment:
        named_object<PgQuery__CommentStmt>(m);
        return true;
      case WalkHook::kSecLabel:
        named_object<PgQuery__SecLabelStmt>(m);
        return true;
      case WalkHook::kAlterOwner:
        named_object<PgQuery__AlterOwnerStmt>(m);
        return true;
      case WalkHook::kRename: {
        const auto* s = reinterpret_cast<const PgQuery__RenameStmt*>(m);
        if (s->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA) {
          schema(sv(s->subname));
          schema(sv(s->newname));
        }
        object(s->rename_type, s->object);
        return true;
      }
      case WalkHook::kAlterExtensionContents:
        named_object<PgQuery__AlterExtensionContentsStmt>(m);
        return true;
      case WalkHook::kAlterObjectDepends:
        named_object<PgQuery__AlterObjectDependsStmt>(m);
        return true;
      case WalkHook::kGrant: {
        const auto* s = reinterpret_cast<const PgQuery__GrantStmt*>(m);
        PgQuery__ObjectType type =
            s->targtype == PG_QUERY__GRANT_TARGET_TYPE__ACL_TARGET_ALL_IN_SCHEMA
                ? PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA
                : s->objtype;
        for (size_t i = 0; i < s->n_objects; ++i) object(type, s->objects[i]);
        return true;
      }
      case WalkHook::kDefElem:
        def_elem(reinterpret_cast<const PgQuery__DefElem*>(m));
        return true;
      case WalkHook::kReindex: {
        const auto* s = reinterpret_cast<const PgQuery__ReindexStmt*>(m);
        if (s->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SCHEMA) schema(sv(s->name));
        return true;
      }
      case WalkHook::kImportForeignSchema:
        schema(sv(reinterpret_cast<const PgQuery__ImportForeignSchemaStmt*>(m)->local_schema));
        return true;
      case WalkHook::kPublicationObjSpec: {
        const auto* s = reinterpret_cast<const PgQuery__PublicationObjSpec*>(m);
        if (s->pubobjtype == PG_QUERY__PUBLICATION_OBJ_SPEC_TYPE__PUBLICATIONOBJ_TABLES_IN_SCHEMA) {
          schema(sv(s->name));
        }
        return true;
      }
      default:
        return false;
    }
  }

  StatementInfo& info_;
  std::string_view text_;
  const ProtobufCMessage* root_;
  StatementSpan span_;
};

}  // namespace

void walk_statement(const PgQuery__Node& stmt, StatementInfo& info, std::string_view text,
                    StatementSpan span) {
  // The root is the Node wrapper; the statement itself is its one child.
  const ProtobufCMessage* root = &stmt.base;
  if (stmt.node_case == PG_QUERY__NODE__NODE_LISTEN_STMT && stmt.listen_stmt)
    root = &stmt.listen_stmt->base;
  if (stmt.node_case == PG_QUERY__NODE__NODE_UNLISTEN_STMT && stmt.unlisten_stmt)
    root = &stmt.unlisten_stmt->base;
  if (stmt.node_case == PG_QUERY__NODE__NODE_NOTIFY_STMT && stmt.notify_stmt)
    root = &stmt.notify_stmt->base;
  Walker(info, text, root, span).walk(&stmt.base);
}

bool judged_by_arguments(std::string_view name) {
  return name == "set_config" || is_sequence_function(name) || name == "pg_notify" ||
         is_cross_tenant_view(name) || is_dynamic_function(name);
}

}  // namespace shardgate::routing::internal
