"""Deploy locks: "nobody deploys to prod/web (or only its billing service) until I say so".

A lock is active while it is not deleted (unlocked) and its `until`, if any, is in the future:
an expired lock stops blocking without anyone deleting it. Rows are never removed: unlocking
soft-deletes the lock (`deleted_at`, `deleted_by`), so the history of locks stays readable.
"""

from datetime import UTC

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from kubernaut.softdelete import AliveManager, SoftDeleteModel, SoftDeleteQuerySet

MAX_REASON_LENGTH = 500


class LockQuerySet(SoftDeleteQuerySet):
    def active(self, now=None) -> "LockQuerySet":
        """Locks that block: not unlocked, and not past their `until`."""
        now = now or timezone.now()
        return self.alive().filter(Q(until__isnull=True) | Q(until__gt=now))

    def blocking(self, namespace_id: int, service_id: int | None) -> "LockQuerySet":
        """The active locks that stop `service_id` from being deployed to the namespace: a lock
        of the whole namespace, or one of that service there. The namespace's own comes first."""
        return (
            self.active()
            .filter(namespace_id=namespace_id)
            .filter(Q(service__isnull=True) | Q(service_id=service_id))
            .order_by(F("service_id").asc(nulls_first=True), "id")
        )


class LockManager(AliveManager.from_queryset(LockQuerySet)):
    pass


class Lock(SoftDeleteModel):
    """A namespace (every service in it), or one service in a namespace, closed to deployments.

    Lifecycle: active -> unlocked (soft-deleted by someone), or active -> expired (its `until`
    passed; it stops blocking by itself, and is soft-deleted without `deleted_by` when a new lock
    takes its place).
    """

    namespace = models.ForeignKey(
        "clusters.Namespace", on_delete=models.PROTECT, related_name="locks", db_index=False
    )
    service = models.ForeignKey(
        "releases.Service",
        on_delete=models.PROTECT,
        related_name="locks",
        null=True,
        blank=True,
        help_text="Lock only this service in the namespace. Empty: every service there",
    )
    reason = models.CharField(max_length=MAX_REASON_LENGTH)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    until = models.DateTimeField(
        null=True, blank=True, help_text="The lock ends by itself then. Empty: until unlocked"
    )

    objects = LockManager()
    all_objects = models.Manager.from_queryset(LockQuerySet)()

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-id"]
        indexes = [
            # What every deployment asks: the alive locks of its namespace.
            models.Index(
                fields=["namespace", "service"],
                condition=Q(deleted_at__isnull=True),
                name="lock_alive_target",
            ),
        ]
        constraints = [
            # Two, because NULL services are distinct in a plain unique constraint.
            models.UniqueConstraint(
                fields=["namespace"],
                condition=Q(deleted_at__isnull=True, service__isnull=True),
                name="lock_one_per_namespace",
                violation_error_message="This namespace is locked already.",
            ),
            models.UniqueConstraint(
                fields=["namespace", "service"],
                condition=Q(deleted_at__isnull=True, service__isnull=False),
                name="lock_one_per_service",
                violation_error_message="This service is locked in this namespace already.",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="lock_reason_not_blank",
                violation_error_message="A lock needs a reason.",
            ),
        ]

    def __str__(self) -> str:
        return f"lock #{self.pk} on {self.target}"

    @property
    def target(self) -> str:
        """What is locked, as people write it: `sandbox/web` or `billing in sandbox/web`."""
        place = f"{self.namespace.cluster.name}/{self.namespace.name}"
        return f"{self.service.name} in {place}" if self.service_id else place

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.deleted_at is None and (self.until is None or self.until > now)

    def sentence(self) -> str:
        """Who locked what, since when and why: the first part of every refusal."""
        until = f" until {utc(self.until)}" if self.until else ""
        return (
            f"{self.target} is locked by {self.created_by.get_username()} since "
            f"{utc(self.created_at)}{until}: {self.reason}"
        )


def utc(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
