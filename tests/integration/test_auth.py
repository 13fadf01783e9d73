"""Client authentication (SCRAM-SHA-256, md5, plain per user) and server authentication
(SCRAM on s1/s2, md5 and trust on the auth shards)."""
import struct

import psycopg
import pytest

import pgwire
from proxyctl import USERS, directory_for

# Authentication request codes: 3 cleartext, 5 md5, 10 SASL.
AUTH_CODES = {"scram-sha-256": 10, "md5": 5, "plain": 3}


def auth_requests(conn: pgwire.RawConnection) -> list[int]:
    return [struct.unpack("!I", m.body[:4])[0] for m in conn.messages if m.type == b"R"]


@pytest.mark.parametrize("user", ["app", "app_md5", "app_plain"])
def test_client_auth_method_right_password(proxy, shards, user):
    password, method, _ = USERS[user]
    with pgwire.RawConnection(proxy.host, proxy.port) as conn:
        conn.startup(user, password, options="-c shardgate.tenant=acme")
        assert auth_requests(conn)[0] == AUTH_CODES[method], conn.messages
        assert auth_requests(conn)[-1] == 0  # AuthenticationOk
        assert conn.query("SELECT current_schema()") == [("tenant_acme",)]
    with proxy.connect(tenant="globex", user=user, password=password) as conn:
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_globex",)
    with proxy.connect(user=f"{user}.initech", password=password) as conn:
        assert conn.execute("SELECT current_schema()").fetchone() == ("tenant_initech",)


@pytest.mark.parametrize("user", ["app", "app_md5", "app_plain"])
def test_client_auth_method_wrong_password(proxy, user):
    err = pgwire.startup_error(proxy.host, proxy.port, user, USERS[user][0] + "x",
                               options="-c shardgate.tenant=acme")
    assert (err.severity, err.sqlstate) == ("FATAL", "28P01"), err.fields
    with pytest.raises(psycopg.OperationalError, match="(?i)auth|password"):
        proxy.connect(tenant="acme", user=user, password="not-" + USERS[user][0]).close()


def test_server_auth_md5_and_trust_shards(start_proxy, launcher, shards, auth_shards):
    config = launcher.config()
    config["shards"]["s_md5"] = auth_shards["s_md5"].config_entry()
    trust_entry = auth_shards["s_trust"].config_entry()
    trust_entry.pop("password")  # trust: no password configured at all
    config["shards"]["s_trust"] = trust_entry
    proxy = start_proxy(config, directory_for({"acme": "s1", "umbrella": "s_md5", "wayne": "s_trust"}))
    for tenant, shard in (("umbrella", auth_shards["s_md5"]), ("wayne", auth_shards["s_trust"]),
                          ("acme", shards["s1"])):
        with proxy.connect(tenant=tenant) as conn:
            assert conn.execute("SELECT current_schema(), inet_server_port()").fetchone() == \
                (f"tenant_{tenant}", shard.port)
            assert [b for (b,) in conn.execute("SELECT body FROM items ORDER BY id")] == \
                [f"{tenant} secret {n}" for n in (1, 2, 3)]
