# A hand-written migration of the kind applications keep next to generated ones: a PL/pgSQL
# trigger function and its trigger, with the SQL that undoes them.
from django.db import migrations

FORWARD = [
    """CREATE FUNCTION shop_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$""",
    "CREATE TRIGGER shop_order_touch BEFORE INSERT OR UPDATE ON shop_order "
    "FOR EACH ROW EXECUTE FUNCTION shop_touch_updated_at()",
]
REVERSE = [
    "DROP TRIGGER shop_order_touch ON shop_order",
    "DROP FUNCTION shop_touch_updated_at()",
]


class Migration(migrations.Migration):

    dependencies = [("shop", "0001_initial")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=REVERSE)]
