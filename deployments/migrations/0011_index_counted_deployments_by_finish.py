"""The DORA metrics (metrics/) read the deployments that changed a namespace by when they
finished: a partial covering index, and a copy of each one's release registration time (for the
lead time, filled in for the deployments made before it)."""

from django.db import migrations, models

BACKFILL = """
UPDATE deployments_deployment d SET release_created_at = r.created_at
FROM releases_release r
WHERE r.id = d.release_id AND d.release_created_at IS NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0010_index_awaiting_approval"),
        ("releases", "0004_service_team"),
    ]

    operations = [
        migrations.AddField(
            model_name="deployment",
            name="release_created_at",
            field=models.DateTimeField(
                blank=True, editable=False, help_text="When its release was registered", null=True
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop, elidable=True),
        migrations.AddIndex(
            model_name="deployment",
            index=models.Index(
                condition=models.Q(
                    ("deleted_at__isnull", True),
                    ("status__in", ["succeeded", "failed", "timed_out"]),
                ),
                fields=["namespace", "finished_at"],
                include=("service", "release", "status", "id", "release_created_at"),
                name="deployment_counted_finished",
            ),
        ),
    ]
