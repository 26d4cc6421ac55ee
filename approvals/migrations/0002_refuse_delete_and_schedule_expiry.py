"""Decisions are never removed (the database refuses deletes), and the task that ends
deployments nobody approved in time runs every 5 minutes (idempotent)."""

from django.db import migrations

from kubernaut.softdelete import refuse_delete_operations

NAME = "expire unapproved deployments"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "approvals.tasks.expire_awaiting",
            "schedule_type": "I",  # every `minutes` minutes
            "minutes": 5,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_approvals"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        *refuse_delete_operations("approvals_approval"),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
