// Tables with a foreign key, a unique constraint, indexes and a native enum type.
exports.up = async (knex) => {
  await knex.schema.createTable('customers', (t) => {
    t.increments('id');
    t.string('email', 200).notNullable().unique();
    t.string('name', 100).notNullable().index();
    t.enu('plan', ['free', 'pro'], { useNative: true, enumName: 'customer_plan' })
      .notNullable().defaultTo('free');
    t.timestamp('updated_at', { useTz: true });
  });
  await knex.schema.createTable('orders', (t) => {
    t.increments('id');
    t.integer('customer_id').notNullable().references('id').inTable('customers').onDelete('CASCADE');
    t.string('number', 20).notNullable();
    t.decimal('total', 10, 2).notNullable();
    t.timestamp('updated_at', { useTz: true });
    t.unique(['customer_id', 'number']);
    t.index(['customer_id']);
  });
};

exports.down = async (knex) => {
  await knex.schema.dropTable('orders');
  await knex.schema.dropTable('customers');
  await knex.raw('DROP TYPE customer_plan');   // knex leaves a native enum behind its table
};
