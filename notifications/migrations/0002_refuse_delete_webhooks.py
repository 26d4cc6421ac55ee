from django.db import migrations

from kubernaut.softdelete import refuse_delete_operations


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_webhooks_and_deliveries")]

    operations = refuse_delete_operations("notifications_webhook")
