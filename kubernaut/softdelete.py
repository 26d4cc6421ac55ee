"""Soft delete, shared by releases, clusters, namespaces and deployments.

Rows are never removed: `objects` hides deleted rows, `all_objects` shows them all.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)


class AliveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """The default manager: rows that are not soft-deleted."""

    def get_queryset(self):
        return super().get_queryset().alive()


AllManager = models.Manager.from_queryset(SoftDeleteQuerySet)


class SoftDeleteModel(models.Model):
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    objects = AliveManager()
    all_objects = AllManager()

    class Meta:
        abstract = True
        # The admin and related lookups must see deleted rows too.
        base_manager_name = "all_objects"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def soft_delete(self, by) -> bool:
        """Mark the row deleted; False if it already was (another request got there first)."""
        now = timezone.now()
        updated = (
            type(self)
            .all_objects.filter(pk=self.pk, deleted_at__isnull=True)
            .update(deleted_at=now, deleted_by=by)
        )
        if updated:
            self.deleted_at, self.deleted_by = now, by
        return bool(updated)

    def restore(self) -> None:
        """Bring a deleted row back. Raises IntegrityError if a unique name was taken again."""
        type(self).all_objects.filter(pk=self.pk).update(deleted_at=None, deleted_by=None)
        self.deleted_at, self.deleted_by = None, None
