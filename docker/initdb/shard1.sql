-- Sample tenants of shard1 (docker/directory.yaml places acme and initech here).
-- Run once by the postgres image on an empty data volume, as POSTGRES_USER in POSTGRES_DB.
-- Same layout as scripts/pgshards.py provision_tenant(): one schema per tenant with items.
CREATE SCHEMA tenant_acme;
CREATE TABLE tenant_acme.items (id serial PRIMARY KEY, body text);
INSERT INTO tenant_acme.items (body) VALUES ('acme secret 1'), ('acme secret 2'), ('acme secret 3');

CREATE SCHEMA tenant_initech;
CREATE TABLE tenant_initech.items (id serial PRIMARY KEY, body text);
INSERT INTO tenant_initech.items (body) VALUES ('initech secret 1'), ('initech secret 2'), ('initech secret 3');
