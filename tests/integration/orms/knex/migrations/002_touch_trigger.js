// A PL/pgSQL trigger function and its trigger, written as raw SQL the way knex apps do.
exports.up = async (knex) => {
  await knex.raw(`CREATE FUNCTION orders_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$`);
  await knex.raw(`CREATE TRIGGER orders_touch BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_touch_updated_at()`);
};

exports.down = async (knex) => {
  await knex.raw('DROP TRIGGER orders_touch ON orders');
  await knex.raw('DROP FUNCTION orders_touch_updated_at()');
};
