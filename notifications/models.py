"""Webhooks that are told about deployments and locks, and the log of every attempt to tell them.

A webhook's address and secret are stored encrypted (kubernaut/crypto.py) and never shown back:
a Slack incoming-webhook address is itself a credential (whoever has it may post to the channel),
and the secret signs what Kubernaut sends. The API shows the address with its path hidden.
"""

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from clusters.models import Cluster, Namespace
from kubernaut import crypto
from kubernaut.softdelete import SoftDeleteModel
from releases.models import Service


class Event(models.TextChoices):
    DEPLOYMENT_STARTED = "deployment.started", "a worker started a deployment"
    DEPLOYMENT_SUCCEEDED = "deployment.succeeded", "a deployment succeeded"
    DEPLOYMENT_FAILED = "deployment.failed", "a deployment failed or timed out"
    DEPLOYMENT_CANCELLED = "deployment.cancelled", "a deployment was cancelled"
    DEPLOYMENT_ROLLED_BACK = (
        "deployment.rolled_back",
        "an automatic rollback succeeded (instead of deployment.succeeded)",
    )
    DEPLOYMENT_AWAITING_APPROVAL = (
        "deployment.awaiting_approval",
        "a deployment waits for approval",
    )
    DEPLOYMENT_APPROVED = "deployment.approved", "someone approved a deployment"
    DEPLOYMENT_REJECTED = "deployment.rejected", "someone rejected a deployment"
    DEPLOYMENT_EXPIRED = "deployment.expired", "a deployment was not approved in time"
    LOCK_CREATED = "lock.created", "a namespace or service was locked"
    LOCK_DELETED = "lock.deleted", "a lock was lifted"


def shown_url(url: str) -> str:
    """The address as the API shows it: scheme, host and port, the rest hidden (a Slack address
    carries its token in the path; other receivers' may too)."""
    parts = urlsplit(url)
    rest = parts.path not in ("", "/") or parts.query
    return f"{parts.scheme}://{parts.netloc}/{'…' if rest else ''}"


class Webhook(SoftDeleteModel):
    """An address that gets a POST for each event it subscribed to, optionally only for one
    cluster, namespace or service. Deleting it (soft) stops its deliveries."""

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack incoming webhook"
        GENERIC = "generic", "JSON signed with HMAC-SHA256"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    encrypted_url = models.TextField(editable=False)
    url_shown = models.CharField(
        max_length=300, editable=False, help_text="The address with its path hidden"
    )
    encrypted_secret = models.TextField(blank=True, editable=False)
    events = ArrayField(models.CharField(max_length=32, choices=Event.choices))
    cluster = models.ForeignKey(
        Cluster, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    namespace = models.ForeignKey(
        Namespace, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.url_shown} (#{self.pk})"

    @property
    def url(self) -> str:
        return crypto.decrypt(self.encrypted_url)

    def set_url(self, url: str) -> None:
        self.encrypted_url = crypto.encrypt(url)
        self.url_shown = shown_url(url)[:300]

    @property
    def has_secret(self) -> bool:
        return bool(self.encrypted_secret)

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.encrypted_secret) if self.encrypted_secret else ""

    def set_secret(self, secret: str) -> None:
        self.encrypted_secret = crypto.encrypt(secret) if secret else ""


# A failed attempt is followed by the next after these waits (the sweep that starts them runs
# every minute, so each may start up to a minute later); the fifth attempt is the last.
RETRY_AFTER = [
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
]
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
# An attempt that started this long ago without an outcome lost its worker (sending takes 10 s
# at most): the sweep records it failed and schedules the next.
LOST_AFTER = timedelta(minutes=2)


class DeliveryQuerySet(models.QuerySet):
    def due(self, now) -> "DeliveryQuerySet":
        """Pending attempts whose time has come and that no task is known to be queued for
        (or whose task was queued long ago and seemingly lost)."""
        return self.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now).filter(
            Q(queued_at__isnull=True) | Q(queued_at__lt=now - LOST_AFTER)
        )

    def lost(self, now) -> "DeliveryQuerySet":
        return self.filter(state=Delivery.State.SENDING, started_at__lt=now - LOST_AFTER)


class Delivery(models.Model):
    """One attempt to deliver one event to one webhook. A failed attempt is followed by a new
    row (`attempt` + 1) until one succeeds or MAX_ATTEMPTS is reached.

    States, each change one atomic UPDATE:
        pending -> sending                          (a worker claims it: `claim`)
        sending -> succeeded | failed | refused     (`settle`; failed may add the next attempt)
        pending -> failed                           (the webhook was deleted before it was sent)
    `refused`: the address resolved to a non-public one (docs/notifications.md); not retried.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        REFUSED = "refused"

    webhook = models.ForeignKey(
        Webhook, on_delete=models.PROTECT, related_name="deliveries", db_index=False
    )
    event = models.CharField(max_length=32, choices=Event.choices)
    # The same for every attempt, and for every webhook told of the same occurrence: receivers
    # use it to recognize a repeat.
    event_id = models.UUIDField(default=uuid.uuid4)
    # The exact JSON text sent, so that every attempt sends the same bytes.
    body = models.TextField()
    attempt = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    next_attempt_at = models.DateTimeField(
        default=timezone.now, help_text="A pending attempt is not made before this"
    )
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When a task was last queued to make this attempt"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["webhook", "-id"], name="delivery_webhook_id"),
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_unfinished",
                condition=Q(state__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} to webhook #{self.webhook_id}, attempt {self.attempt}: {self.state}"

    def _rows(self) -> models.QuerySet:
        return Delivery.objects.filter(pk=self.pk)

    def mark_queued(self, now, seen) -> bool:
        """Note that a task is queued for this attempt now, unless someone else did since
        `seen` (queued_at as read before): at most one sweep queues it."""
        return bool(
            self._rows().filter(state=self.State.PENDING, queued_at=seen).update(queued_at=now)
        )

    def claim(self) -> bool:
        """Take the attempt (pending -> sending) if its time has come; False if another worker
        has it, it was made already, or it is not due yet."""
        now = timezone.now()
        claimed = (
            self._rows()
            .filter(state=self.State.PENDING, next_attempt_at__lte=now)
            .update(state=self.State.SENDING, started_at=now)
        )
        if claimed:
            self.state, self.started_at = self.State.SENDING, now
        return bool(claimed)

    def settle(
        self,
        state: str,
        *,
        error: str = "",
        status_code: int | None = None,
        duration_ms: int | None = None,
        retry: bool = False,
        from_state: str = "sending",
    ) -> "Delivery | None":
        """Record the attempt's outcome; when it failed, `retry` is asked and attempts remain,
        add the next attempt in the same transaction and return it. Nothing happens if the
        attempt already left `from_state` (the sweep gave up on a slow worker)."""
        error = error.replace("\x00", "")[:2000]
        with transaction.atomic():
            updated = (
                self._rows()
                .filter(state=from_state)
                .update(state=state, error=error, status_code=status_code, duration_ms=duration_ms)
            )
            if not updated:
                return None
            self.state, self.error, self.status_code = state, error, status_code
            self.duration_ms = duration_ms
            if state != self.State.FAILED or not retry or self.attempt >= MAX_ATTEMPTS:
                return None
            return Delivery.objects.create(
                webhook_id=self.webhook_id,
                event=self.event,
                event_id=self.event_id,
                body=self.body,
                attempt=self.attempt + 1,
                next_attempt_at=timezone.now() + RETRY_AFTER[self.attempt - 1],
            )
