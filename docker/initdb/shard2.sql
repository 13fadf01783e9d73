-- Sample tenants of shard2 (docker/directory.yaml places globex and umbrella here).
-- Run once by the postgres image on an empty data volume, as POSTGRES_USER in POSTGRES_DB.
-- Same layout as scripts/pgshards.py provision_tenant(): one schema per tenant with items.
CREATE SCHEMA tenant_globex;
CREATE TABLE tenant_globex.items (id serial PRIMARY KEY, body text);
INSERT INTO tenant_globex.items (body) VALUES ('globex secret 1'), ('globex secret 2'), ('globex secret 3');

CREATE SCHEMA tenant_umbrella;
CREATE TABLE tenant_umbrella.items (id serial PRIMARY KEY, body text);
INSERT INTO tenant_umbrella.items (body) VALUES ('umbrella secret 1'), ('umbrella secret 2'), ('umbrella secret 3');
