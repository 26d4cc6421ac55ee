"""Deployments of releases to namespaces of clusters, with their logs."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clusters.models import Namespace, timeout_validators
from kubernaut.softdelete import SoftDeleteModel
from releases.models import Release, Service


class Deployment(SoftDeleteModel):
    """A release shipped to a namespace of a cluster.

    Status transitions, each made by one atomic UPDATE:
        pending -> running                    (a worker claims it)
        running -> succeeded | failed | timed_out
        pending -> failed                     (it could not start, e.g. the release was deleted)
    A running deployment picked up again after its worker died stays running (it resumes).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        TIMED_OUT = "timed_out", "timed out"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT)

    # db_index=False where a partial index below leads with the column already.
    release = models.ForeignKey(
        Release, on_delete=models.PROTECT, related_name="deployments", db_index=False
    )
    # The release's service, kept here too: "what runs where" (the overview grid, the one-at-a-time
    # lock, the service filter) is asked per (service, namespace) and wants an index.
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="deployments", db_index=False
    )
    namespace = models.ForeignKey(
        Namespace, on_delete=models.PROTECT, related_name="deployments", db_index=False
    )
    requested_attributes = models.JSONField(
        default=dict, blank=True, help_text="Attributes given with the request (kept for redeploys)"
    )
    attributes = models.JSONField(default=dict, help_text="All variables the template saw")
    manifest = models.TextField(help_text="The rendered template that is applied")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=1000, blank=True)
    timeout_seconds = models.PositiveIntegerField(validators=timeout_validators())
    applied_objects = models.JSONField(default=list, blank=True)
    workloads = models.JSONField(
        default=list,
        blank=True,
        help_text="Rollout progress per workload: kind, name, ready, desired",
    )
    redeploy_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # One-to-one: a failed deployment starts at most one automatic rollback
    # (deployments/rollback.py), which the unique index guarantees even on a repeated delivery.
    rollback_of = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rolled_back_by",
        help_text="The failed deployment this one rolls back automatically",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-id"]
        # As for releases: the primary key serves the unfiltered list, these the filters.
        indexes = [
            models.Index(
                fields=["namespace", "-id"],
                name="deployment_alive_namespace_id",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["service", "-id"],
                name="deployment_alive_service_id",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["service", "namespace", "-id"],
                name="deployment_alive_target_id",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["release", "-id"],
                name="deployment_alive_release_id",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["status"],
                name="deployment_unfinished",
                condition=Q(status__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.release} to {self.namespace}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    def log(self, message: str, level: str = "info") -> "LogEntry":
        return LogEntry.objects.create(deployment=self, level=level, message=message)


class LogEntry(models.Model):
    """One line of a deployment's log. Ids only grow, so `after=<id>` fetches what is new."""

    class Level(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        ERROR = "error"

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="log_entries")
    time = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    message = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["deployment", "id"], name="logentry_deployment_id")]
        verbose_name_plural = "log entries"

    def __str__(self) -> str:
        return f"{self.time:%H:%M:%S} {self.level} {self.message[:80]}"
