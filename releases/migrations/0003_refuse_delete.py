from django.db import migrations

from kubernaut.softdelete import refuse_delete_operations


class Migration(migrations.Migration):
    dependencies = [("releases", "0002_drop_duplicate_indexes")]

    operations = refuse_delete_operations("releases_release")
