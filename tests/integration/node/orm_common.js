// Shared by orm_knex.js and orm_sequelize.js (tests/integration/test_orms.py): connection
// settings from the environment, and running named steps with a report of the failing one.
// Environment: ORM_HOST, ORM_PORT, ORM_USER, ORM_PASSWORD, ORM_DBNAME, ORM_OPTIONS (libpq-style
// `options`, carrying `-c shardgate.tenant=<tenant>`), ORM_SCHEMA (the tenant's schema).
// Every statement is logged to stderr as "SQL ..."; the last line on stdout is JSON:
// {"ok": true, "steps": [...]} or {"ok": false, "step", "code", "message", "sql"}.
'use strict';

function connection() {
  const c = {
    host: process.env.ORM_HOST,
    port: Number(process.env.ORM_PORT),
    user: process.env.ORM_USER,
    password: process.env.ORM_PASSWORD,
    database: process.env.ORM_DBNAME,
  };
  if (process.env.ORM_OPTIONS) c.options = process.env.ORM_OPTIONS;
  return c;
}

function expect(what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

// Runs steps[name] for each name in argv order; stops at the first failure.
async function runSteps(steps, names, close) {
  const done = [];
  let exitCode = 0;
  for (const name of names) {
    if (!steps[name]) throw new Error(`unknown step ${name}`);
    try {
      await steps[name]();
      done.push(name);
    } catch (err) {
      const pg = err.original || err.parent || err;
      console.log(JSON.stringify({
        ok: false, step: name, done,
        code: pg.code || null,
        message: String(pg.message || err.message),
        sql: err.sql || (pg && pg.sql) || null,
        stack: String(err.stack || '').split('\n').slice(0, 6).join('\n'),
      }));
      exitCode = 1;
      break;
    }
  }
  try { await close(); } catch (err) { /* the report above is what counts */ }
  if (exitCode === 0) console.log(JSON.stringify({ ok: true, steps: done }));
  process.exit(exitCode);
}

module.exports = { connection, expect, runSteps };
