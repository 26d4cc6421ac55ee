from django.db import migrations

from kubernaut.softdelete import refuse_delete_operations


class Migration(migrations.Migration):
    dependencies = [("locks", "0001_locks")]

    operations = refuse_delete_operations("locks_lock")
