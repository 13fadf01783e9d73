"""The attack catalog of issue 4: how tenant `attacker` tries to read or change tenant
`victim`'s data or context when both live on the same shard (schemas tenant_attacker and
tenant_victim, each with items(id, body) and a sequence seq; victim's items hold the row
'VICTIM-SECRET').

Every attack is a list of steps run one after the other on ONE connection (a step is SQL, or
(SQL, params) for bound parameters). test_attacks.py first runs it on a direct connection to
the shard to prove it really leaks there, then through shardgate for each tier and protocol.

Fields of Attack:
- kind "read": it leaks when VICTIM-SECRET comes back (rows, COPY data, error text, notices).
- kind "state": it changes victim's data/context or a setting that reaches other sessions;
  `probe` is SQL run on a direct superuser connection (or, with direct_txn, on the attacking
  direct connection inside its transaction) whose scalar result changes when it worked.
- direct_as: "super" = the shardgate superuser with search_path tenant_attacker (what a
  guard-only tier's server connection is); "role" = the same, then SET ROLE tenant_attacker
  (what a role tier's server connection is); "proxy_app" = through shardgate as user `app`,
  which may act for every tenant (for tenant switching, which means nothing on a raw shard).
- direct_txn: the direct proof runs inside BEGIN ... ROLLBACK (destructive attacks).
- simple_only: multi-statement texts and COPY, which the extended protocol cannot carry.
- refused: the guard must refuse it (SPEC "The guard") -> ERROR 42501 in every tier. When
  False the attack is outside the guard's list (superuser-only functions, statistics) and
  PostgreSQL privileges are the wall: no 42501 is required, only no leak and no damage.
"""
from __future__ import annotations

from dataclasses import dataclass

SECRET = "VICTIM-SECRET"


@dataclass(frozen=True)
class Attack:
    name: str
    steps: tuple
    kind: str = "read"
    probe: str | None = None
    direct_as: str = "super"
    direct_txn: bool = False
    simple_only: bool = False
    refused: bool = True
    note: str = ""
    superuser_only: bool = False  # needs a superuser shard login: a known gap of guard-only tiers


P_ROLE_SETTINGS = ("SELECT count(*) FROM pg_catalog.pg_db_role_setting s "
                   "JOIN pg_catalog.pg_roles r ON r.oid = s.setrole "
                   "WHERE r.rolname IN ('tenant_victim', 'tenant_attacker', 'shardgate')")
P_DB_SETTINGS = ("SELECT count(*) FROM pg_catalog.pg_db_role_setting s "
                 "JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase WHERE d.datname = 'app'")
P_AUTO_CONF = "SELECT count(*) FROM pg_catalog.pg_file_settings WHERE name = 'search_path'"
P_SEQ = "SELECT last_value || '/' || is_called FROM tenant_victim.seq"
P_VICTIM_SCHEMA = ("SELECT coalesce((SELECT string_agg(c.relname || ':' || "
                   "pg_catalog.pg_get_userbyid(c.relowner), ',' ORDER BY c.relname) "
                   "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                   "ON n.oid = c.relnamespace WHERE n.nspname = 'tenant_victim'), 'none') || "
                   "coalesce((SELECT nspacl::text FROM pg_catalog.pg_namespace "
                   "WHERE nspname = 'tenant_victim'), 'no-schema')")
P_VICTIM_ROWS = ("SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                 "ON n.oid = c.relnamespace WHERE n.nspname = 'tenant_victim'")

# The victim's extension (test_attacks.provision installs uuid-ossp into tenant_victim).
P_EXTENSION = ("SELECT coalesce((SELECT n.nspname FROM pg_catalog.pg_extension e "
               "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace "
               "WHERE e.extname = 'uuid-ossp'), 'none')")
VICTIM_ITEMS_OID = ("(SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = 'tenant_victim' "
                    "AND c.relname = 'items')")
VICTIM_SEQ_OID = VICTIM_ITEMS_OID.replace("'items'", "'seq'")

ATTACKS: list[Attack] = [
    # --- search_path by SET / SET LOCAL / SET SESSION / SET SCHEMA -------------------------
    Attack("set_search_path", ("SET search_path = tenant_victim", "SELECT body FROM items")),
    Attack("set_search_path_list_multi",
           ("SET search_path TO tenant_victim, public; SELECT body FROM items",), simple_only=True),
    Attack("set_session_search_path",
           ("SET SESSION search_path = 'tenant_victim'", "SELECT body FROM items")),
    Attack("set_schema", ("SET SCHEMA 'tenant_victim'", "SELECT body FROM items")),
    Attack("set_local_in_transaction",
           ("BEGIN", "SET LOCAL search_path = tenant_victim", "SELECT body FROM items", "COMMIT")),
    Attack("set_local_multi_statement",
           ("BEGIN; SET LOCAL search_path = tenant_victim; SELECT body FROM items; COMMIT",),
           simple_only=True),
    Attack("set_search_path_list_catalog_first",
           ("SET search_path TO pg_catalog, tenant_victim", "SELECT body FROM items"),
           note="every schema of the list counts, not just the first"),
    Attack("set_search_path_quoted_list",
           ('SET search_path = "pg_catalog", "tenant_victim"', "SELECT body FROM items")),
    Attack("set_local_search_path_list",
           ("BEGIN", "SET LOCAL search_path TO pg_catalog, tenant_victim",
            "SELECT body FROM items", "COMMIT")),
    Attack("harmless_then_set_multi",
           ("SELECT 1; SET search_path = tenant_victim; SELECT body FROM items",), simple_only=True),
    Attack("set_standard_conforming_strings_off",
           ("SET standard_conforming_strings = off",
            "SELECT '\\''; SELECT body FROM tenant_victim.items; -- '"), simple_only=True,
           note="with it off the server ends the literal early; a guard reading with it on "
                "sees one long literal"),
    Attack("set_client_encoding_sjis",
           ("SET client_encoding = 'SJIS'",
            "SELECT E'\u8868'; SELECT body FROM tenant_victim.items; -- '"), simple_only=True,
           note="U+8868 is 0x95 0x5C in SJIS: a backslash byte the guard sees, the server not"),
    Attack("set_names_alias_windows_932",
           ("SET NAMES 'windows-932'",
            "SELECT E'\u8868'; SELECT body FROM tenant_victim.items; -- '"), simple_only=True,
           note="PostgreSQL's alias table: windows932 is SJIS"),
    Attack("set_client_encoding_alias_spaced",
           ("SET client_encoding TO 'MS Kanji'",
            "SELECT E'\u8868'; SELECT body FROM tenant_victim.items; -- '"), simple_only=True,
           note="PostgreSQL drops every non-alphanumeric character of an encoding name"),
    Attack("set_config_client_encoding_alias",
           ("SELECT set_config('Client_Encoding', 's.jis', false)",
            "SELECT E'\u8868'; SELECT body FROM tenant_victim.items; -- '"), simple_only=True),
    Attack("set_client_encoding_big5",
           ("SET client_encoding = 'Big-5'",
            "SELECT E'\u529f'; SELECT body FROM tenant_victim.items; -- '"), simple_only=True,
           note="U+529F is 0xA4 0x5C in BIG5"),
    # --- set_config anywhere ------------------------------------------------------------------
    Attack("set_config_select",
           ("SELECT set_config('search_path', 'tenant_victim', false)", "SELECT body FROM items")),
    Attack("set_config_qualified",
           ("SELECT pg_catalog.set_config('search_path', 'tenant_victim', false)",
            "SELECT body FROM items")),
    Attack("set_config_cte",
           ("WITH s AS (SELECT set_config('search_path', 'tenant_victim', false) AS v) "
            "SELECT v FROM s", "SELECT body FROM items")),
    Attack("set_config_subquery",
           ("SELECT (SELECT set_config('search_path', 'tenant_victim', false)) AS x",
            "SELECT body FROM items")),
    Attack("set_config_function_argument",
           ("SELECT length(set_config('search_path', 'tenant_victim', false))",
            "SELECT body FROM items")),
    Attack("set_config_same_statement_local",
           ("BEGIN", "SELECT set_config('search_path', 'tenant_victim', true)",
            "SELECT body FROM items", "COMMIT")),
    Attack("set_config_computed_name",
           ("SELECT set_config('search_' || 'path', 'tenant_' || 'victim', false)",
            "SELECT body FROM items")),
    Attack("set_config_bound_parameters",
           (("SELECT set_config(%s::text, %s::text, false)", ("search_path", "tenant_victim")),
            "SELECT body FROM items")),
    Attack("update_pg_settings",
           ("UPDATE pg_settings SET setting = 'tenant_victim' WHERE name = 'search_path'",
            "SELECT body FROM items")),
    # --- role / session authorization -----------------------------------------------------------
    Attack("set_role_victim",
           ("SET ROLE tenant_victim", "SET search_path = tenant_victim", "SELECT body FROM items"),
           direct_as="role"),
    Attack("reset_role_multi",
           ("RESET ROLE; SET search_path = tenant_victim; SELECT body FROM items",),
           direct_as="role", simple_only=True),
    Attack("set_session_authorization",
           ("SET SESSION AUTHORIZATION tenant_victim; SET search_path = tenant_victim; "
            "SELECT body FROM items",), direct_as="role", simple_only=True),
    Attack("set_config_role",
           ("SELECT set_config('role', 'tenant_victim', false)",
            "SELECT set_config('search_path', 'tenant_victim', false)", "SELECT body FROM items"),
           direct_as="role"),
    # --- tenant switching by a user not allowed to -----------------------------------------------
    Attack("set_shardgate_tenant",
           ("SET shardgate.tenant = 'victim'", "SELECT body FROM items"), direct_as="proxy_app"),
    Attack("set_shardgate_tenant_to",
           ("SET shardgate.tenant TO victim", "SELECT body FROM items"), direct_as="proxy_app"),
    # --- names of the victim's objects ----------------------------------------------------------
    Attack("qualified_name", ("SELECT body FROM tenant_victim.items",)),
    Attack("quoted_name", ('SELECT body FROM "tenant_victim"."items"',)),
    Attack("upper_case_name", ("SELECT body FROM TENANT_VICTIM.ITEMS",)),
    Attack("comment_between_name_parts", ("SELECT body FROM tenant_victim/**/.items",)),
    Attack("whitespace_newline_name",
           ("SELECT body FROM tenant_victim\n   .\titems -- trailing",)),
    Attack("unicode_escape_name", ('SELECT body FROM U&"tenant_\\0076ictim".items',)),
    Attack("qualified_in_cte",
           ("WITH x AS (SELECT body FROM tenant_victim.items) SELECT body FROM x",)),
    Attack("qualified_in_subquery",
           ("SELECT (SELECT string_agg(body, ',') FROM tenant_victim.items) AS b",)),
    Attack("qualified_in_join",
           ("SELECT v.body FROM items a CROSS JOIN tenant_victim.items v",)),
    Attack("harmless_then_qualified_multi",
           ("SELECT 1; SELECT body FROM tenant_victim.items",), simple_only=True),
    Attack("qualified_with_bound_parameter",
           (("SELECT body FROM tenant_victim.items WHERE id > %s", (0,)),)),
    Attack("error_message_leak",
           ("SELECT body::int FROM tenant_victim.items WHERE body = 'VICTIM' || '-SECRET'",),
           note="the secret would come back in the error text"),
    Attack("regclass_literal_table_to_xml",
           ("SELECT table_to_xml('tenant_victim.items'::regclass, true, false, '')",)),
    Attack("regclass_from_catalog_table_to_xml",
           (f"SELECT table_to_xml({VICTIM_ITEMS_OID}::regclass, true, false, '')",)),
    Attack("query_to_xml",
           ("SELECT query_to_xml('select body from tenant_victim.items', true, false, '')",)),
    Attack("query_to_xml_computed_text",
           ("SELECT query_to_xml('select body from tenant_' || 'victim.items', true, false, '')",)),
    Attack("ts_stat_runs_query",
           ("SELECT word FROM ts_stat('SELECT to_tsvector(''simple'', body) "
            "FROM tenant_victim.items')",)),
    # An operator names a function without calling it: its uses would run the function with
    # arguments the guard never reads (here, query text naming the victim's table).
    Attack("operator_over_ts_stat",
           ("CREATE OPERATOR @@@ (RIGHTARG = text, FUNCTION = ts_stat); "
            "SELECT (@@@ 'SELECT array_to_tsvector(array_agg(body)) FROM tenant_victim.items'); "
            "DROP OPERATOR @@@ (NONE, text)",),
           simple_only=True),
    Attack("prepare_execute",
           ("PREPARE sneak AS SELECT body FROM tenant_victim.items", "EXECUTE sneak")),
    Attack("copy_table_to_stdout", ("COPY tenant_victim.items TO STDOUT",), simple_only=True),
    Attack("copy_query_to_stdout",
           ("COPY (SELECT body FROM tenant_victim.items) TO STDOUT",), simple_only=True),
    Attack("create_view_over_victim",
           ("CREATE VIEW tenant_attacker.peek_v AS SELECT body FROM tenant_victim.items",
            "SELECT body FROM tenant_attacker.peek_v")),
    Attack("create_table_as_copy",
           ("CREATE TABLE loot AS SELECT body FROM tenant_victim.items", "SELECT body FROM loot")),
    # --- SQL the guard cannot see --------------------------------------------------------------
    Attack("do_block_sets_search_path",
           ("DO $$BEGIN PERFORM set_config('search_' || 'path', 'tenant_' || 'victim', false); "
            "END$$", "SELECT body FROM items")),
    Attack("do_block_copies_rows",
           ("DO $$BEGIN EXECUTE 'INSERT INTO tenant_attacker.items (body) SELECT body FROM '"
            " || 'tenant_' || 'victim.items'; END$$", "SELECT body FROM items")),
    Attack("create_function_sql",
           ("CREATE FUNCTION tenant_attacker.peek() RETURNS SETOF text LANGUAGE sql "
            "AS 'SELECT body FROM tenant_victim.items'", "SELECT tenant_attacker.peek()")),
    Attack("create_function_plpgsql_execute",
           ("CREATE FUNCTION peek2() RETURNS SETOF text LANGUAGE plpgsql AS $f$BEGIN "
            "RETURN QUERY EXECUTE 'SELECT body FROM ' || 'tenant_' || 'victim.items'; END$f$",
            "SELECT peek2()")),
    Attack("create_procedure",
           ("CREATE PROCEDURE peekp() LANGUAGE sql AS "
            "'INSERT INTO tenant_attacker.items (body) SELECT body FROM tenant_victim.items'",
            "CALL peekp()", "SELECT body FROM items")),
    # --- function bodies and DO blocks: read by the guard, judged like any statement ----------
    Attack("function_body_sql_reads_victim",
           ("CREATE OR REPLACE FUNCTION fb_sql() RETURNS SETOF text LANGUAGE sql "
            "AS 'SELECT body FROM tenant_victim.items'", "SELECT fb_sql()")),
    Attack("function_body_plpgsql_reads_victim",
           ("CREATE OR REPLACE FUNCTION fb_plpgsql() RETURNS SETOF text LANGUAGE plpgsql AS "
            "$f$BEGIN RETURN QUERY SELECT body FROM tenant_victim.items; END$f$",
            "SELECT fb_plpgsql()")),
    Attack("function_body_plpgsql_assignment_reads_victim",
           ("CREATE OR REPLACE FUNCTION fb_assign() RETURNS text LANGUAGE plpgsql AS "
            "$f$DECLARE s text; BEGIN s := string_agg(body, ',') FROM tenant_victim.items; "
            "RETURN s; END$f$", "SELECT fb_assign()")),
    Attack("do_block_copies_victim_rows",
           ("DO $$BEGIN INSERT INTO items (body) SELECT body FROM tenant_victim.items; END$$",
            "SELECT body FROM items")),
    Attack("function_body_creates_view_over_victim",
           ("CREATE OR REPLACE FUNCTION fb_view() RETURNS void LANGUAGE plpgsql AS "
            "$f$BEGIN CREATE VIEW fb_peek AS SELECT body FROM tenant_victim.items; END$f$",
            "SELECT fb_view()", "SELECT body FROM fb_peek")),
    Attack("trigger_function_copies_victim_rows",
           ("CREATE TABLE IF NOT EXISTS fb_log (body text)",
            "CREATE OR REPLACE FUNCTION fb_trg() RETURNS trigger LANGUAGE plpgsql AS "
            "$f$BEGIN NEW.body := (SELECT string_agg(body, ',') FROM tenant_victim.items); "
            "RETURN NEW; END$f$",
            "CREATE TRIGGER fb_trg BEFORE INSERT ON fb_log FOR EACH ROW EXECUTE FUNCTION fb_trg()",
            "INSERT INTO fb_log VALUES ('x')", "SELECT body FROM fb_log")),
    Attack("function_body_execute_format",
           ("CREATE OR REPLACE FUNCTION fb_exec() RETURNS text LANGUAGE plpgsql AS "
            "$f$DECLARE s text; BEGIN EXECUTE format('SELECT string_agg(body, %L) FROM %I.items', "
            "',', 'tenant_' || 'victim') INTO s; RETURN s; END$f$", "SELECT fb_exec()")),
    Attack("security_definer_function",
           ("CREATE OR REPLACE FUNCTION fb_definer() RETURNS SETOF text LANGUAGE sql "
            "SECURITY DEFINER SET search_path = tenant_victim AS 'SELECT body FROM items'",
            "SELECT fb_definer()"),
           note="a definer function carries its own search_path and its owner's rights"),
    Attack("function_set_search_path_clause",
           ("CREATE OR REPLACE FUNCTION fb_setpath() RETURNS SETOF text LANGUAGE sql "
            "SET search_path = tenant_victim AS 'SELECT body FROM items'", "SELECT fb_setpath()")),
    # --- sequences --------------------------------------------------------------------------------
    Attack("nextval_qualified", ("SELECT nextval('tenant_victim.seq')",), kind="state", probe=P_SEQ),
    Attack("setval_quoted", ("SELECT setval('\"tenant_victim\".\"seq\"', 4242)",),
           kind="state", probe=P_SEQ),
    Attack("nextval_bound_parameter", (("SELECT nextval(%s)", ("tenant_victim.seq",)),),
           kind="state", probe=P_SEQ, refused=False,
           note="the sequence name arrives as a bound parameter the guard never sees"),
    Attack("nextval_by_oid_from_catalog", (f"SELECT nextval({VICTIM_SEQ_OID})",),
           kind="state", probe=P_SEQ, refused=False,
           note="the sequence is named by an OID looked up in pg_class at run time"),
    Attack("nextval_to_regclass", ("SELECT nextval(to_regclass('tenant_victim.seq'))",),
           kind="state", probe=P_SEQ, refused=False,
           note="to_regclass() turns text into a sequence at run time"),
    # --- persistent settings that reach other sessions -------------------------------------------
    Attack("alter_role_set",
           ("ALTER ROLE tenant_victim SET search_path = tenant_attacker",),
           kind="state", probe=P_ROLE_SETTINGS, direct_txn=True),
    Attack("alter_role_all_set",
           ("ALTER ROLE ALL SET search_path = tenant_victim",),
           kind="state", probe=("SELECT count(*) FROM pg_catalog.pg_db_role_setting "
                                "WHERE setrole = 0 AND setdatabase = 0"), direct_txn=True),
    Attack("alter_database_set",
           ("ALTER DATABASE app SET search_path = tenant_victim",),
           kind="state", probe=P_DB_SETTINGS, direct_txn=True),
    Attack("alter_system",
           ("ALTER SYSTEM SET search_path = 'tenant_victim'",), kind="state", probe=P_AUTO_CONF),
    # --- objects every tenant of the database shares ---------------------------------------------
    Attack("drop_extension_of_victim", ('DROP EXTENSION "uuid-ossp"',),
           kind="state", probe=P_EXTENSION, direct_txn=True,
           note="extensions are per database: the victim's functions go with it"),
    Attack("move_extension_of_victim", ('ALTER EXTENSION "uuid-ossp" SET SCHEMA tenant_attacker',),
           kind="state", probe=P_EXTENSION, direct_txn=True),
    Attack("drop_extension_cascade_if_exists", ('DROP EXTENSION IF EXISTS "uuid-ossp" CASCADE',),
           kind="state", probe=P_EXTENSION, direct_txn=True),
    # --- DDL on the victim's schema without a qualified name -------------------------------------
    Attack("drop_schema_cascade", ("DROP SCHEMA tenant_victim CASCADE",),
           kind="state", probe=P_VICTIM_ROWS, direct_txn=True),
    Attack("grant_on_victim_schema",
           ("GRANT USAGE ON SCHEMA tenant_victim TO PUBLIC",),
           kind="state", probe=P_VICTIM_SCHEMA, direct_txn=True),
    Attack("alter_schema_owner",
           ("ALTER SCHEMA tenant_victim OWNER TO tenant_attacker",),
           kind="state", probe="SELECT pg_catalog.pg_get_userbyid(nspowner) FROM "
                               "pg_catalog.pg_namespace WHERE nspname = 'tenant_victim'",
           direct_txn=True),
    Attack("move_table_into_victim_schema",
           ("CREATE TABLE trap (id int)", "ALTER TABLE trap SET SCHEMA tenant_victim"),
           kind="state", probe=P_VICTIM_SCHEMA, direct_txn=True),
    Attack("drop_owned_by_victim", ("DROP OWNED BY tenant_victim",),
           kind="state", probe=P_VICTIM_ROWS, direct_txn=True, refused=False,
           note="names only a role; a superuser login drops every object the victim owns"),
    Attack("reassign_owned_by_victim", ("REASSIGN OWNED BY tenant_victim TO tenant_attacker",),
           kind="state", probe=P_VICTIM_SCHEMA, direct_txn=True, refused=False,
           note="names only roles; a superuser login hands the victim's objects to the attacker"),
    # --- superuser-only ways around names (no victim name in the SQL) ----------------------------
    Attack("analyze_then_pg_stats",
           ("ANALYZE", "SELECT most_common_vals::text, histogram_bounds::text FROM pg_stats "
                       "WHERE schemaname = 'tenant_victim' AND tablename = 'items'"),
           refused=False, note="pg_stats shows column values of tables the user may read"),
    Attack("read_relation_file",
           (f"SELECT encode(pg_read_binary_file(pg_relation_filepath({VICTIM_ITEMS_OID})), "
            f"'escape')",),
           refused=False, superuser_only=True,
           note="a superuser reads the heap file of the victim's table"),
    Attack("discard_all_then_read_file",
           ("DISCARD ALL", f"SELECT encode(pg_read_binary_file(pg_relation_filepath("
                           f"{VICTIM_ITEMS_OID})), 'escape')"),
           direct_as="role", refused=False, superuser_only=True,
           note="DISCARD ALL ends SET ROLE (SET SESSION AUTHORIZATION DEFAULT): shardgate must "
                "put the tenant context back before the next statement"),
]

# Startup attacks: (name, startup options beyond the tenant, extra startup parameters,
# query bytes, client encoding for the query). Run with the raw wire client.
STARTUP_ATTACKS = [
    ("startup_options_search_path", "-c search_path=tenant_victim", {},
     b"SELECT body FROM items"),
    ("startup_parameter_search_path", "", {"search_path": "tenant_victim"},
     b"SELECT body FROM items"),
    ("startup_options_role", "-c role=tenant_victim -c search_path=tenant_victim", {},
     b"SELECT body FROM items"),
    ("startup_standard_conforming_strings_off", "-c standard_conforming_strings=off", {},
     b"SELECT '\\''; SELECT body FROM tenant_victim.items; -- '"),
    ("startup_client_encoding_sjis", "", {"client_encoding": "SJIS"},
     b"SELECT E'\x95\x5c'; SELECT body FROM tenant_victim.items; -- '"),
    # Every spelling PostgreSQL accepts, by every form of the options parameter:
    ("startup_options_encoding_alias", "-c client_encoding=windows-932", {},
     b"SELECT E'\x95\x5c'; SELECT body FROM tenant_victim.items; -- '"),
    ("startup_options_encoding_escaped_space", "-c client_encoding=MS\\ Kanji", {},
     b"SELECT E'\x95\x5c'; SELECT body FROM tenant_victim.items; -- '"),
    ("startup_options_encoding_long_form", "--client-encoding=Shift_JIS", {},
     b"SELECT E'\x95\x5c'; SELECT body FROM tenant_victim.items; -- '"),
    ("startup_options_encoding_glued", "-cclient_encoding=s.jis", {},
     b"SELECT E'\x95\x5c'; SELECT body FROM tenant_victim.items; -- '"),
    ("startup_options_encoding_upper_case_name", "-c CLIENT_ENCODING=sjis", {},
     b"SELECT E'\x95\x5c'; SELECT body FROM tenant_victim.items; -- '"),
    ("startup_options_encoding_big5", "-c client_encoding=big5", {},
     b"SELECT E'\xa4\x5c'; SELECT body FROM tenant_victim.items; -- '"),
    ("startup_parameter_encoding_alias", "", {"client_encoding": "Windows_932"},
     b"SELECT E'\x95\x5c'; SELECT body FROM tenant_victim.items; -- '"),
    ("startup_parameter_encoding_mixed_case_name", "", {"Client_Encoding": "SJIS"},
     b"SELECT E'\x95\x5c'; SELECT body FROM tenant_victim.items; -- '"),
    ("startup_options_search_path_list", "-c search_path=pg_catalog,tenant_victim", {},
     b"SELECT body FROM items"),
]
