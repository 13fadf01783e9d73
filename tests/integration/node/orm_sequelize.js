// Sequelize 6 through shardgate (tests/integration/test_orms.py), its models placed in the
// tenant's schema with the `schema` option as a schema-per-tenant Sequelize app does.
// argv: STEP...; steps: sync, crud, migrate. See orm_common.js.
'use strict';
const { Sequelize, DataTypes } = require('sequelize');
const { connection, expect, runSteps } = require('./orm_common');

const c = connection();
const schema = process.env.ORM_SCHEMA;
const sequelize = new Sequelize(c.database, c.user, c.password, {
  host: c.host,
  port: c.port,
  dialect: 'postgres',
  dialectOptions: c.options ? { options: c.options } : {},
  pool: { max: 4, min: 0 },
  logging: (sql) => console.error(`SQL ${sql}`),
});

const Customer = sequelize.define('Customer', {
  email: { type: DataTypes.STRING(200), allowNull: false, unique: true },
  name: { type: DataTypes.STRING(100), allowNull: false },
  plan: { type: DataTypes.ENUM('free', 'pro'), allowNull: false, defaultValue: 'free' },
}, { schema, tableName: 'customers', indexes: [{ fields: ['name'] }] });

const Order = sequelize.define('Order', {
  number: { type: DataTypes.STRING(20), allowNull: false },
  total: { type: DataTypes.DECIMAL(10, 2), allowNull: false },
  status: { type: DataTypes.ENUM('open', 'paid'), allowNull: false, defaultValue: 'open' },
}, { schema, tableName: 'orders', indexes: [{ unique: true, fields: ['CustomerId', 'number'] }] });

Customer.hasMany(Order, { onDelete: 'CASCADE', foreignKey: { allowNull: false } });
Order.belongsTo(Customer);

const steps = {
  async sync() {
    await sequelize.sync();
    await sequelize.sync();          // again: now it finds the tables and enum types in place
  },

  async crud() {
    const ada = await Customer.create({ email: 'ada@example.com', name: 'Ada', plan: 'pro' });
    const bob = await Customer.create({ email: 'bob@example.com', name: 'Bob' });
    const order = await Order.create({ CustomerId: ada.id, number: 'A-1', total: '12.50' });
    await order.update({ total: '13.00', status: 'paid' });
    // findOrCreate inserts through a pg_temp PL/pgSQL function that catches unique_violation.
    const [zoe, created] = await Customer.findOrCreate({ where: { email: 'zoe@example.com' },
      defaults: { name: 'Zoe' } });
    expect('findOrCreate created', created, true);
    const [again, createdAgain] = await Customer.findOrCreate({ where: { email: 'zoe@example.com' },
      defaults: { name: 'Zoe 2' } });
    expect('findOrCreate found', [createdAgain, again.id], [false, zoe.id]);
    const joined = await Order.findAll({ include: Customer, where: { number: 'A-1' } });
    expect('join', joined.map((o) => [o.Customer.email, o.status, o.total]),
      [['ada@example.com', 'paid', '13.00']]);
    await bob.destroy();

    await sequelize.transaction(async (t) => {
      const carol = await Customer.create({ email: 'carol@example.com', name: 'Carol' }, { transaction: t });
      await Order.create({ CustomerId: carol.id, number: 'C-1', total: '1.00' }, { transaction: t });
      await Customer.findOrCreate({ where: { email: 'dave@example.com' }, defaults: { name: 'Dave' },
        transaction: t });
    });
    let rolledBack = false;
    try {
      await sequelize.transaction(async (t) => {
        await Customer.create({ email: 'eve@example.com', name: 'Eve' }, { transaction: t });
        throw new Error('roll back');
      });
    } catch (err) {
      if (err.message !== 'roll back') throw err;
      rolledBack = true;
    }
    expect('rolled back', rolledBack, true);
    const emails = (await Customer.findAll({ order: [['email', 'ASC']] })).map((x) => x.email);
    expect('customers', emails, ['ada@example.com', 'carol@example.com', 'dave@example.com', 'zoe@example.com']);
  },

  // What a Sequelize migration does: queryInterface for tables and columns, raw SQL for a
  // trigger function.
  async migrate() {
    const qi = sequelize.getQueryInterface();
    await qi.createTable({ tableName: 'audit_log', schema }, {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      customer_email: { type: DataTypes.STRING(200), allowNull: false },
      at: { type: DataTypes.DATE, allowNull: false, defaultValue: Sequelize.fn('now') },
    });
    await qi.addColumn({ tableName: 'customers', schema }, 'note', { type: DataTypes.TEXT });
    await qi.addIndex({ tableName: 'audit_log', schema }, ['customer_email']);
    await sequelize.query(`CREATE FUNCTION "${schema}".customers_audit() RETURNS trigger
      LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO "${schema}".audit_log (customer_email) VALUES (NEW.email);
        RETURN NEW;
      END
      $$`);
    await sequelize.query(`CREATE TRIGGER customers_audit AFTER INSERT ON "${schema}".customers
      FOR EACH ROW EXECUTE FUNCTION "${schema}".customers_audit()`);
    await Customer.create({ email: 'gus@example.com', name: 'Gus' });
    const [rows] = await sequelize.query(`SELECT customer_email FROM "${schema}".audit_log`);
    expect('audit trigger', rows.map((r) => r.customer_email), ['gus@example.com']);
  },
};

runSteps(steps, process.argv.slice(2), () => sequelize.close());
