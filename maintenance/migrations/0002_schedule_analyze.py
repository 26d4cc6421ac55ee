"""Schedule the periodic ANALYZE (idempotent: running it again changes nothing).

The schedule fires every 5 minutes; the task itself decides, from KUBERNAUT_ANALYZE_MINUTES, whether
a run is due, so changing the interval needs no new migration.
"""

from django.db import migrations

NAME = "analyze database"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "maintenance.tasks.analyze_if_due",
            "schedule_type": "I",  # every `minutes` minutes
            "minutes": 5,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("maintenance", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
