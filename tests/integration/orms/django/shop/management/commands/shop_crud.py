"""`manage.py shop_crud`: what an application does with the models, through the ORM only:
CRUD, a join, transaction.atomic that commits, one that rolls back, a savepoint rolled back
inside a committed block, and an IntegrityError caught inside atomic. Raises (exit code 1)
on any unexpected result; test_orms.py then checks the rows on the shard itself."""
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, connection, transaction

from shop.models import Customer, Order


class Rollback(Exception):
    pass


def expect(what, got, want):
    if got != want:
        raise CommandError(f"{what}: got {got!r}, want {want!r}")


class Command(BaseCommand):
    help = "CRUD and transactions through the ORM"

    def handle(self, *args, **options):
        ada = Customer.objects.create(email="ada@example.com", name="Ada")
        bob = Customer.objects.create(email="bob@example.com", name="Bob")
        order = Order.objects.create(customer=ada, number="A-1", total=Decimal("12.50"))
        order.refresh_from_db()
        expect("trigger set updated_at on insert", order.updated_at is not None, True)
        Order.objects.filter(pk=order.pk).update(total=Decimal("13.00"))
        expect("update", Order.objects.get(pk=order.pk).total, Decimal("13.00"))
        expect("join", list(Order.objects.filter(customer__name="Ada")
                            .select_related("customer").values_list("customer__email", "number")),
               [("ada@example.com", "A-1")])
        bob.delete()

        with transaction.atomic():
            carol = Customer.objects.create(email="carol@example.com", name="Carol")
            Order.objects.create(customer=carol, number="C-1", total=Decimal("1.00"))
            try:
                with transaction.atomic():                        # a savepoint
                    Customer.objects.create(email="dave@example.com", name="Dave")
                    raise Rollback()
            except Rollback:
                pass
            try:
                with transaction.atomic():
                    Customer.objects.create(email="ada@example.com", name="Ada again")
                raise CommandError("unique email: no IntegrityError")
            except IntegrityError:
                pass

        try:
            with transaction.atomic():
                Customer.objects.create(email="eve@example.com", name="Eve")
                Order.objects.create(customer=ada, number="A-2", total=Decimal("2.00"))
                raise Rollback()
        except Rollback:
            pass

        expect("customers", sorted(Customer.objects.values_list("email", flat=True)),
               ["ada@example.com", "carol@example.com"])
        expect("orders", sorted(Order.objects.values_list("number", flat=True)), ["A-1", "C-1"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            self.stdout.write(f"current_schema {cursor.fetchone()[0]}")
