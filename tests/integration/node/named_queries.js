// node-postgres (npm `pg`) named queries through shardgate in transaction mode.
// Used by tests/integration/test_txn_prepared.py; connection settings come from PGHOST,
// PGPORT, PGUSER, PGPASSWORD, PGDATABASE; argv: CLIENTS ITERATIONS TENANT[,TENANT...].
// Each client (its tenant passed as user suffix app.<tenant>) runs ITERATIONS rounds of named
// queries, half of them inside BEGIN..COMMIT. Names collide on purpose: every client prepares
// 'q_mult' with its own SQL text, so a proxy that shares server-side names would mix them up.
// Prints one JSON line: {"ok": <checked results>, "failures": [...]}; exit code 0 either way.
'use strict';
const { Client } = require('pg');

const [clients, iterations] = [Number(process.argv[2] || 6), Number(process.argv[3] || 50)];
const tenants = (process.argv[4] || 'acme').split(',');
const baseUser = process.env.PGUSER || 'app';

async function runClient(index) {
  const tenant = tenants[index % tenants.length];
  const client = new Client({ user: `${baseUser}.${tenant}` });
  const failures = [];
  let ok = 0;
  const check = (what, got, want) => {
    if (JSON.stringify(got) === JSON.stringify(want)) ok += 1;
    else failures.push({ client: index, tenant, what, got, want });
  };
  await client.connect();
  try {
    for (let i = 0; i < iterations; i++) {
      const inTxn = i % 2 === 1;
      try {
        if (inTxn) await client.query('BEGIN');
        const id = (i % 3) + 1;
        let r = await client.query({ name: 'q1', text: 'SELECT body FROM items WHERE id = $1', values: [id] });
        check('q1', r.rows.map((x) => x.body), [`${tenant} secret ${id}`]);
        r = await client.query({ name: 'q_mult', text: `SELECT $1::int * ${index + 2} AS v`, values: [i] });
        check('q_mult', r.rows[0].v, i * (index + 2));
        r = await client.query({
          name: 'q_ctx',
          text: "SELECT current_setting('shardgate.tenant') AS t, current_schema() AS s, $1::text AS echo",
          values: [`c${index}-${i}`],
        });
        check('q_ctx', [r.rows[0].t, r.rows[0].s, r.rows[0].echo], [tenant, `tenant_${tenant}`, `c${index}-${i}`]);
        if (inTxn) await client.query('COMMIT');
      } catch (err) {
        failures.push({ client: index, tenant, iteration: i, error: `${err.code || ''} ${err.message}` });
        if (inTxn) await client.query('ROLLBACK').catch(() => {});
      }
    }
  } finally {
    await client.end().catch(() => {});
  }
  return { ok, failures };
}

(async () => {
  const results = await Promise.all(Array.from({ length: clients }, (_, i) =>
    runClient(i).catch((err) => ({ ok: 0, failures: [{ client: i, error: `connect: ${err.code || ''} ${err.message}` }] }))));
  const out = { ok: 0, failures: [] };
  for (const r of results) {
    out.ok += r.ok;
    out.failures.push(...r.failures);
  }
  console.log(JSON.stringify(out));
})();
