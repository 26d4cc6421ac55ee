from django.db import migrations

from kubernaut.softdelete import refuse_delete_operations


class Migration(migrations.Migration):
    dependencies = [("teams", "0001_initial")]

    operations = refuse_delete_operations("teams_team", "teams_grant")
