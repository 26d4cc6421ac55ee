from django.db import migrations

from kubernaut.softdelete import refuse_delete_operations


class Migration(migrations.Migration):
    dependencies = [("deployments", "0003_registry_url_allows_single_label_hosts")]

    operations = refuse_delete_operations(
        "deployments_cluster", "deployments_namespace", "deployments_deployment"
    )
