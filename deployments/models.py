"""Deployments of releases to namespaces of clusters, with their logs.

The deployment's state transitions live here, each one atomic UPDATE (with its log line in the
same transaction where there is one): release_for_run (approved), claim, beat, finish, cancel.
deployments/runner.py only orchestrates them; deployments/services.py's scheduled check uses them
for deployments whose worker stopped; approvals/ for deployments that wait for approval.
"""

import os
import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone

from audit import services as audit
from clusters.models import Namespace, timeout_validators
from kubernaut.softdelete import AliveManager, SoftDeleteModel, SoftDeleteQuerySet
from releases.models import Release, Service

# Sent once per deployment when it ends, with `deployment` (the row as it is now) and `status`;
# the worker sends it inside the transaction that also records its rollback decision, so a
# receiver's writes (a notification's deliveries) commit with the status. Whatever follows a
# failure (a rollback, a notification) connects here rather than to the worker.
deployment_finished = Signal()
# Sent once per deployment that waits for approval, as it is created (inside that transaction),
# with `deployment`: approvers are told (notifications) without deployments importing them.
deployment_awaiting_approval = Signal()
# Sent once per deployment when a worker starts it (pending -> running; not when another worker
# resumes it), with `deployment`, inside the transaction of that change.
deployment_started = Signal()


def worker_name() -> str:
    """host:pid of this process: the log and the admin say which worker followed a deployment."""
    return f"{socket.gethostname()}:{os.getpid()}"


class AlreadyFinished(Exception):
    """The deployment ended before the request reached it; the message says how."""


class DeploymentQuerySet(SoftDeleteQuerySet):
    def unfinished(self) -> "DeploymentQuerySet":
        return self.filter(status__in=[Deployment.Status.PENDING, Deployment.Status.RUNNING])

    def for_target(self, namespace_id: int, service_id: int) -> "DeploymentQuerySet":
        """Deployments of one service to one namespace: they run one at a time, in id order."""
        return self.filter(namespace_id=namespace_id, service_id=service_id)

    def unheard_since(self, moment: datetime) -> "DeploymentQuerySet":
        """Unfinished deployments nobody vouched for since `moment`: running ones whose worker's
        heartbeat stopped, pending ones that no check has queued again (judged from when they
        were asked for until then)."""
        return (
            self.unfinished()
            .alias(heard=Coalesce("heartbeat_at", "started_at", "created_at"))
            .filter(heard__lt=moment)
        )


class DeploymentManager(AliveManager.from_queryset(DeploymentQuerySet)):
    pass


AllDeploymentsManager = models.Manager.from_queryset(DeploymentQuerySet)


class Deployment(SoftDeleteModel):
    """A release shipped to a namespace of a cluster.

    Status transitions, each made by one atomic UPDATE:
        awaiting_approval -> pending          (enough approvals: approvals/)
        awaiting_approval -> rejected | expired | cancelled
        pending -> running                    (a worker claims it: `claim`)
        running -> succeeded | failed | timed_out   (`finish`)
        pending -> cancelled                  (`cancel`: it never starts)
        running -> cancelled                  (`cancel` records who asked; the worker stops
                                               following the rollout and `finish`es it)
        running -> failed                     (the scheduled check: its worker stopped and it is
                                               long past its timeout)
    A running deployment whose worker stopped is picked up again by another (it resumes) once
    its heartbeat (`heartbeat_at`, written by the worker every few seconds: `beat`) is stale.
    """

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        TIMED_OUT = "timed_out", "Timed out"
        CANCELLED = "cancelled"
        REJECTED = "rejected"
        EXPIRED = "expired"

    FINISHED = (
        Status.SUCCEEDED,
        Status.FAILED,
        Status.TIMED_OUT,
        Status.CANCELLED,
        Status.REJECTED,
        Status.EXPIRED,
    )

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
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
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
    # A copy of the release's (immutable) registration time: the DORA lead time (metrics/)
    # reads it from the index of counted deployments instead of visiting one release per row.
    release_created_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When its release was registered"
    )
    promoted_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promotions",
        help_text="The succeeded deployment in the previous stage this one promotes",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life of the worker following it (or of the check that queued "
        "it again)",
    )
    # db_default too: bulk inserts in SQL (seed_bench) name only the columns they fill.
    worker = models.CharField(
        max_length=300,
        blank=True,
        default="",
        db_default="",
        help_text="host:pid of the worker that took it last",
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who asked to cancel it",
    )

    objects = DeploymentManager()
    all_objects = AllDeploymentsManager()

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
            # The scheduled expiry (approvals/) asks for the oldest waiting ones.
            models.Index(
                fields=["created_at"],
                name="deployment_awaiting_approval",
                condition=Q(status="awaiting_approval"),
            ),
            # The DORA metrics (metrics/): the deployments that changed a namespace, by when
            # they finished, with what the metrics read (an index-only scan).
            models.Index(
                fields=["namespace", "finished_at"],
                include=["service", "release", "status", "id", "release_created_at"],
                name="deployment_counted_finished",
                condition=Q(
                    status__in=["succeeded", "failed", "timed_out"], deleted_at__isnull=True
                ),
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

    # --- transitions ----------------------------------------------------------------------

    def _rows(self) -> models.QuerySet:
        return type(self).all_objects.filter(pk=self.pk)

    def release_for_run(self, message: str) -> bool:
        """Enough approvals (approvals/): awaiting_approval -> pending, with `message` as its log
        line in the same transaction. False if it was no longer waiting (rejected, expired or
        cancelled meanwhile). The caller queues it once this commits
        (deployments.services.enqueue in transaction.on_commit)."""
        with transaction.atomic():
            released = (
                self._rows()
                .filter(status=self.Status.AWAITING_APPROVAL)
                .update(status=self.Status.PENDING)
            )
            if released:
                self.log(message)
        if released:
            self.status = self.Status.PENDING
        return bool(released)

    def claim(self) -> bool:
        """Take the deployment (pending -> running), or resume it if it is running: the caller
        holds its target's lock, so whoever ran it before is gone. False if it has finished
        (or was cancelled before it started)."""
        now, worker = timezone.now(), worker_name()
        with transaction.atomic():
            started = (
                self._rows()
                .filter(status=self.Status.PENDING)
                .update(status=self.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker)
            )
            if started:
                self.log(f"Started by a worker ({worker}); timeout {self.timeout_seconds} s.")
                # In the transaction: a receiver's writes commit with the status.
                deployment_started.send(sender=type(self), deployment=self)
            else:
                before = self._rows().filter(status=self.Status.RUNNING).values("worker").first()
                if before is None:
                    self.refresh_from_db(fields=["status"])
                    return False
                self._rows().update(heartbeat_at=now, worker=worker)
                self.log(
                    f"Resuming on worker {worker}: the worker that was running this deployment "
                    f"({before['worker'] or 'unknown'}) stopped.",
                    "warning",
                )
        self.refresh_from_db(fields=["status", "started_at", "heartbeat_at", "worker"])
        return True

    def beat(self) -> bool:
        """The worker's sign of life. False when it should stop following the rollout: the
        deployment was cancelled, or finished elsewhere (the check gave up on its worker)."""
        return bool(
            self._rows()
            .filter(status=self.Status.RUNNING, cancelled_by__isnull=True)
            .update(heartbeat_at=timezone.now())
        )

    def finish(
        self,
        status: str,
        reason: str,
        *,
        log: str = "",
        level: str = "",
        from_status: str = "running",
        audit_as=None,
        **fields,
    ) -> bool:
        """End the deployment with a one-line reason, its last log line written in the same
        transaction (a client that stops reading at a finished status has seen it). The one
        place a deployment ends: False if it had already left `from_status`. With `audit_as`
        (a user, who ended it), the audit trail records "deployment.cancelled" in that
        transaction too."""
        reason = reason.replace("\n", " ")[:1000]
        now = timezone.now()
        with transaction.atomic():
            updated = (
                self._rows()
                .filter(status=from_status)
                .update(status=status, reason=reason, finished_at=now, **fields)
            )
            if updated:
                level = level or ("info" if status == self.Status.SUCCEEDED else "error")
                self.log(log or f"{self.Status(status).label.capitalize()}: {reason}", level)
                if audit_as is not None:
                    audit.record(
                        f"deployment.{self.Status(status).value}",
                        self,
                        actor=audit_as,
                        changes={"status": [from_status, status]},
                        message=reason,
                    )
        if updated:
            self.refresh_from_db()
            deployment_finished.send(sender=type(self), deployment=self, status=status)
        return bool(updated)

    def cancel(self, by) -> bool:
        """Cancel for the user `by`: True if that ended it (it was pending, or awaiting
        approval, and never starts), False if its worker was told to stop (it ends `cancelled`
        within seconds). Raises AlreadyFinished when there is nothing left to cancel."""
        never_started = f"Cancelled by {by} before it started; nothing was applied."
        unapproved = f"Cancelled by {by} while it waited for approval; nothing was applied."
        for waiting, sentence in (
            (self.Status.PENDING, never_started),
            (self.Status.AWAITING_APPROVAL, unapproved),
        ):
            if self.finish(
                self.Status.CANCELLED,
                sentence,
                log=sentence,
                level="warning",
                from_status=waiting,
                cancelled_by=by,
                audit_as=by,
            ):
                return True
        with transaction.atomic():
            asked = (
                self._rows()
                .filter(status=self.Status.RUNNING, cancelled_by__isnull=True)
                .update(cancelled_by=by)
            )
            if asked:
                self.log(
                    f"{by} asked to cancel; the worker stops following the rollout.", "warning"
                )
                audit.record(
                    "deployment.cancelled",
                    self,
                    actor=by,
                    changes={"cancelled_by": [None, str(by)]},
                    message="Asked while running: the worker stops following the rollout; "
                    "what it applied stays.",
                )
        self.refresh_from_db()
        if self.status == self.Status.RUNNING:
            return False  # asked now, or by someone before
        raise AlreadyFinished(
            f"Deployment #{self.pk} has already ended ({self.get_status_display()}); there is "
            "nothing to cancel."
        )

    def finish_cancelled(self, applied: list[dict]) -> bool:
        """The worker stopped following a deployment someone cancelled; say what is left."""
        by = self.cancelled_by or "someone"
        if applied:
            left = ", ".join(applied_name(obj) for obj in applied)
            log = (
                f"Cancelled by {by}. Left in the cluster as applied: {left}; the rollout was not "
                "followed further."
            )
            reason = f"Cancelled by {by}; {len(applied)} applied object(s) stay in the cluster."
        else:
            log = reason = f"Cancelled by {by} before anything was applied."
        return self.finish(self.Status.CANCELLED, reason, log=log, level="warning")

    def is_past_deadline(self, now: datetime, grace: timedelta) -> bool:
        started = self.started_at or self.created_at
        return now - started > timedelta(seconds=self.timeout_seconds) + grace

    def vouch(self, seen: datetime | None) -> bool:
        """Mark the deployment as queued again now, unless someone else did since `seen` (the
        heartbeat read before): at most one check requeues it."""
        return bool(
            self._rows().unfinished().filter(heartbeat_at=seen).update(heartbeat_at=timezone.now())
        )


def applied_name(obj: dict) -> str:
    """kind/name as kubectl says it, from an entry of `applied_objects`."""
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return f"{obj.get('kind', '').lower()}{'.' + group if group else ''}/{obj.get('name')}"


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
