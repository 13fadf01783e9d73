// knex through shardgate (tests/integration/test_orms.py).
// argv: MIGRATIONS_DIR STEP...; steps: latest, crud, searchpath, rollback (all batches).
// See orm_common.js.
'use strict';
const path = require('path');
const { connection, expect, runSteps } = require('./orm_common');

const knex = require('knex')({
  client: 'pg',
  connection: connection(),
  pool: { min: 0, max: 4 },
  migrations: { directory: path.resolve(process.argv[2]), loadExtensions: ['.js'] },
});
knex.on('query', (q) => console.error(`SQL ${q.sql}`));

const steps = {
  async latest() {
    const [, applied] = await knex.migrate.latest();
    expect('migrations applied', applied.map((f) => path.basename(f)),
      ['001_customers_orders.js', '002_touch_trigger.js']);
  },

  async rollback() {
    const [, undone] = await knex.migrate.rollback(undefined, true);
    expect('migrations undone', undone.map((f) => path.basename(f)).sort(),
      ['001_customers_orders.js', '002_touch_trigger.js']);
  },

  async crud() {
    const [ada] = await knex('customers').insert({ email: 'ada@example.com', name: 'Ada', plan: 'pro' }).returning('*');
    const [bob] = await knex('customers').insert({ email: 'bob@example.com', name: 'Bob' }).returning('id');
    const [order] = await knex('orders').insert({ customer_id: ada.id, number: 'A-1', total: '12.50' }).returning('*');
    expect('trigger set updated_at on insert', order.updated_at !== null, true);
    await knex('orders').where({ id: order.id }).update({ total: '13.00' });
    const joined = await knex('orders').join('customers', 'customers.id', 'orders.customer_id')
      .select('customers.email', 'customers.plan', 'orders.number', 'orders.total');
    expect('join', joined, [{ email: 'ada@example.com', plan: 'pro', number: 'A-1', total: '13.00' }]);
    await knex('customers').where({ id: bob.id }).del();

    await knex.transaction(async (trx) => {
      const [carol] = await trx('customers').insert({ email: 'carol@example.com', name: 'Carol' }).returning('id');
      await trx('orders').insert({ customer_id: carol.id, number: 'C-1', total: '1.00' });
    });
    let rolledBack = false;
    try {
      await knex.transaction(async (trx) => {
        await trx('customers').insert({ email: 'eve@example.com', name: 'Eve' });
        throw new Error('roll back');
      });
    } catch (err) {
      if (err.message !== 'roll back') throw err;
      rolledBack = true;
    }
    expect('rolled back', rolledBack, true);
    const trx = await knex.transaction();                 // unmanaged, with a rolled back savepoint
    await trx('customers').insert({ email: 'dave@example.com', name: 'Dave' });
    try {
      await trx.transaction(async (inner) => {
        await inner('customers').insert({ email: 'frank@example.com', name: 'Frank', plan: 'nope' });
      });
    } catch (err) {
      if (err.code !== '22P02') throw err;                // invalid input value for enum
    }
    await trx.commit();

    const emails = (await knex('customers').orderBy('email').pluck('email'));
    expect('customers', emails, ['ada@example.com', 'carol@example.com', 'dave@example.com']);
    const { rows } = await knex.raw('SELECT current_schema() AS s');
    console.error(`current_schema ${rows[0].s}`);
  },

  // knex's own schema-per-tenant setting: every new pool connection first runs
  // `set search_path to "<schema>"` (SPEC: a search_path of only the tenant's schema is
  // accepted). Two connections, so the setting runs on more than one.
  async searchpath() {
    const scoped = require('knex')({
      client: 'pg', connection: connection(), pool: { min: 0, max: 2 },
      searchPath: [process.env.ORM_SCHEMA],
    });
    scoped.on('query', (q) => console.error(`SQL ${q.sql}`));
    try {
      const results = await Promise.all([1, 2].map(() => scoped.transaction(async (trx) => {
        const { rows } = await trx.raw('SELECT current_schema() AS s, count(*)::int AS n FROM customers');
        await trx.raw('SELECT pg_sleep(0.05)');      // both transactions open at once
        return rows[0];
      })));
      expect('search_path', results, [1, 2].map(() => ({ s: process.env.ORM_SCHEMA, n: 3 })));
    } finally {
      await scoped.destroy();
    }
  },
};

runSteps(steps, process.argv.slice(3), () => knex.destroy());
