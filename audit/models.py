"""The audit trail: one row per change, from any door, never updated or removed.

The database refuses UPDATE, DELETE and TRUNCATE on the table (a trigger installed by migration
0002), so not even a hand-typed SQL statement can rewrite history.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """Who did what to which object, when, from where, and what changed.

    `object_type` is "app_label.model" and `object_id` the row's primary key as text, so an
    entry outlives any schema change of the object it names; `object_repr` is how the object read
    at the time.
    """

    at = models.DateTimeField(default=timezone.now, editable=False)
    # PROTECT: users are deactivated, not removed, and the trail must keep naming them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # The name at the time (and for failed sign-ins, the name that was tried).
    actor_name = models.CharField(max_length=150, blank=True)
    door = models.CharField(max_length=16)
    token_name = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    # {"field": [before, after]} for changes; {"field": value} summaries for creations.
    changes = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["actor", "-id"], name="audit_actor_id"),
            # GET /api/audit?actor= filters on the name recorded (it also names shell accounts
            # and the names tried in failed sign-ins).
            models.Index(fields=["actor_name", "-id"], name="audit_actor_name_id"),
            models.Index(fields=["action", "-id"], name="audit_action_id"),
            models.Index(fields=["object_type", "object_id", "-id"], name="audit_object_id"),
            models.Index(fields=["at"], name="audit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.action}"
