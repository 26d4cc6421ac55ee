from django.db import migrations

from kubernaut.softdelete import refuse_delete_operations


class Migration(migrations.Migration):
    dependencies = [("delivery", "0001_auto_deploys")]

    operations = refuse_delete_operations("delivery_autodeploy")
