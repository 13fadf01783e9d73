from django.db import models


class Customer(models.Model):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=100, db_index=True)
    updated_at = models.DateTimeField(null=True)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    number = models.CharField(max_length=20)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    updated_at = models.DateTimeField(null=True)   # set by the trigger of migration 0002

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "number"],
                                               name="shop_order_customer_number_uniq")]
        indexes = [models.Index(fields=["number"], name="shop_order_number_idx")]
