"""A record of each maintenance run: when, what, how long, and the statistics around it."""

from django.db import models
from django.utils import timezone


class MaintenanceRun(models.Model):
    """One ANALYZE pass over Kubernaut's tables (with VACUUM where dead rows piled up).

    `tables` holds, per table, what pg_stat_user_tables said before and after, and what was done.
    """

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        COMMAND = "command"

    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    tables = models.JSONField(default=list)
    vacuumed = models.JSONField(default=list, help_text="Tables that also got VACUUM")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.trigger} run at {self.started_at:%Y-%m-%d %H:%M}"
