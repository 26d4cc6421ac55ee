"""Webhooks: who may manage them, adding and deleting them, queueing deliveries when something
happens (`notify`), and the worker's side: sending one attempt (`deliver`) and the sweep that
starts retries (`deliver_due`).

Events come from the deployments and locks apps' signals (connected in apps.py), through
`notify`. The deliveries are rows saved with the change (or right after it) and sent by a worker
once they committed: never inside a request or a transaction.
"""

import logging
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from audit.services import record
from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from kubernaut.crypto import UnreadableSecret
from notifications import outbound, payloads
from notifications.models import Delivery, Event, Webhook
from releases.models import Service
from teams.access import Forbidden, require, roles_of
from teams.models import RANKS, Role

logger = logging.getLogger(__name__)
State = Delivery.State
# How many due attempts one run of the sweep queues (it runs every minute).
SWEEP_BATCH = 500


# --- who may manage webhooks -------------------------------------------------------------------


def authorize(
    user,
    namespace: Namespace | None,
    service: Service | None = None,
    *,
    token=None,
    action: str,
    perm: str,
) -> None:
    """Raise Forbidden unless the user (and the token, if any) may `perm` ("add", "view",
    "delete") webhooks filtered to `namespace` and `service` (None: every one).

    Superusers and accounts with the Django permission notifications.<perm>_webhook may manage
    any webhook; the admins of a namespace may manage the webhooks filtered to it. A token never
    widens that: one limited to some namespaces (or services) manages only webhooks filtered to
    one of them.
    """
    if not (user.is_superuser or user.has_perm(f"notifications.{perm}_webhook")):
        if namespace is None:
            raise Forbidden(
                f"{action}: a webhook without a namespace hears about every namespace, so it "
                f"needs a superuser or the permission notifications.{perm}_webhook. Give the "
                "namespace (and cluster) of which you are an admin, or ask an administrator."
            )
        require(user, Role.ADMIN, namespace, action=action)
    if token is not None:
        refusal = token_refusal(token, namespace, service, write=perm != "view")
        if refusal:
            raise Forbidden(refusal)


def token_refusal(token, namespace: Namespace | None, service: Service | None, *, write) -> str:
    refusal = token.scope_refusal(
        namespace=namespace, service=service.name if service else "", write=write
    )
    if refusal:
        return refusal
    if namespace is None and token.scoped_namespace_ids():
        return (
            f"The token {token.label} is limited to some namespaces; a webhook for every "
            "namespace needs a token without that limit, or give one of its namespaces."
        )
    if service is None and token.services:
        return (
            f"The token {token.label} is limited to some services; a webhook for every service "
            "needs a token without that limit, or give one of its services."
        )
    return ""


ADD_NEEDS = (
    "Adding a webhook needs the admin role on the namespace it is for (or a superuser, or the "
    "permission notifications.add_webhook); you have neither. Ask an admin of the namespace."
)


def may_add_some_webhook(user) -> bool:
    """Whether the user may add a webhook anywhere at all (admin of some namespace or cluster)."""
    if user.is_superuser or user.has_perm("notifications.add_webhook"):
        return True
    roles = roles_of(user)
    admin = RANKS[Role.ADMIN]
    return any(rank >= admin for rank in [*roles.by_namespace.values(), *roles.by_cluster.values()])


def visible_webhooks(user, *, token=None) -> QuerySet:
    """The webhooks the user may see: all for superusers and holders of view_webhook, else
    those filtered to a namespace where the user is an admin (or of a cluster where they are)."""
    webhooks = Webhook.objects.select_related("cluster", "namespace__cluster", "service")
    if not (user.is_superuser or user.has_perm("notifications.view_webhook")):
        roles = roles_of(user)
        admin = RANKS[Role.ADMIN]
        namespace_ids = [pk for pk, rank in roles.by_namespace.items() if rank >= admin]
        cluster_ids = [pk for pk, rank in roles.by_cluster.items() if rank >= admin]
        webhooks = webhooks.filter(
            Q(namespace_id__in=namespace_ids) | Q(namespace__cluster_id__in=cluster_ids)
        )
    if token is not None:
        if token.scoped_namespace_ids():
            webhooks = webhooks.filter(namespace_id__in=token.scoped_namespace_ids())
        if token.services:
            webhooks = webhooks.filter(service__name__in=token.services)
    return webhooks


# --- adding and deleting ------------------------------------------------------------------


class Invalid(Exception):
    """The request names something that does not exist; `errors` says which, by field."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def find_filters(
    cluster: str | None, namespace: str | None, service: str | None
) -> tuple[Cluster | None, Namespace | None, Service | None]:
    """The rows the filters name. A namespace without a cluster is found by its name when only
    one cluster has it; its cluster becomes the webhook's too."""
    errors: dict[str, list[str]] = {}
    found_cluster = found_namespace = found_service = None
    if cluster:
        found_cluster = Cluster.objects.filter(name=cluster).first()
        if found_cluster is None:
            errors["cluster"] = [f"There is no cluster {cluster!r}."]
    if namespace and "cluster" not in errors:
        candidates = list(
            Namespace.objects.select_related("cluster")
            .filter(name=namespace, cluster__deleted_at__isnull=True)
            .filter(**({"cluster": found_cluster} if found_cluster else {}))[:10]
        )
        where = f" in cluster {cluster!r}" if cluster else ""
        if not candidates:
            errors["namespace"] = [f"There is no namespace {namespace!r}{where}."]
        elif len(candidates) > 1:
            clusters = ", ".join(sorted(ns.cluster.name for ns in candidates))
            errors["namespace"] = [
                f"Clusters {clusters} each have a namespace {namespace!r}: give the cluster too."
            ]
        else:
            found_namespace = candidates[0]
            found_cluster = found_namespace.cluster
    if service:
        found_service = Service.objects.filter(name=service).first()
        if found_service is None:
            errors["service"] = [
                f"There is no service {service!r}; a service exists once a release of it is "
                "registered."
            ]
    if errors:
        raise Invalid(errors)
    return found_cluster, found_namespace, found_service


def audit_fields(webhook: Webhook) -> dict:
    """What the audit trail says about a webhook: never its address's path or its secret."""
    return {
        "kind": webhook.kind,
        "url": webhook.url_shown,
        "has_secret": webhook.has_secret,
        "events": webhook.events,
        "cluster": webhook.cluster.name if webhook.cluster_id else None,
        "namespace": str(webhook.namespace) if webhook.namespace_id else None,
        "service": webhook.service.name if webhook.service_id else None,
    }


def create_webhook(
    *,
    user,
    kind: str,
    url: str,
    secret: str,
    events: list[str],
    cluster: Cluster | None,
    namespace: Namespace | None,
    service: Service | None,
) -> Webhook:
    """Save a webhook (address and secret encrypted) and its audit entry."""
    with transaction.atomic():
        webhook = Webhook(
            kind=kind,
            events=events,
            cluster=cluster,
            namespace=namespace,
            service=service,
            created_by=user,
        )
        webhook.set_url(url)
        webhook.set_secret(secret)
        webhook.save()
        record("webhook.created", webhook, changes=audit_fields(webhook))
    return webhook


NOT_SENT_DELETED = "Not sent: the webhook was deleted."


def delete_webhook(webhook: Webhook, *, user) -> bool:
    """Soft-delete the webhook; its attempts still waiting are marked failed. False if it was
    deleted already (by someone else meanwhile)."""
    with transaction.atomic():
        # soft_delete records "webhook.deleted" in the audit trail.
        if not webhook.soft_delete(by=user, message=f"Deleted {webhook}."):
            return False
        Delivery.objects.filter(webhook=webhook, state=State.PENDING).update(
            state=State.FAILED, error=NOT_SENT_DELETED
        )
    return True


# --- events -----------------------------------------------------------------------------------


def notify(event: str, *, namespace: Namespace, service_name: str | None, summary: dict) -> int:
    """Queue `event` for every webhook that subscribed to it and whose cluster, namespace and
    service filters match; returns how many deliveries were queued.

    The one way events become deliveries, public for other apps. The deployments app's signals
    (deployment_started, deployment_finished) and the locks app's (lock_created, lock_deleted)
    come through it, connected in apps.py; an app that has no signal may call it directly:

    - event: one of notifications.models.Event's values.
    - namespace: the Namespace it happened in (its cluster is read from it).
    - service_name: the service concerned, or None when it concerns the whole namespace (a
      namespace-wide lock); webhooks filtered to a service then do not hear of it.
    - summary: the object as JSON-ready values (a lock as the locks API shows it; datetimes
      are fine). The generic body carries it under "lock" (or "deployment") with "cluster",
      "namespace" and "service" added unless given. Slack messages show `who` (the username of
      the person acting), `reason` and `url` (an absolute link to a page) when they are there,
      and `version` for deployments.

    Call it inside the transaction that makes the change (or right after it committed, as the
    locks app's signals do): the deliveries are saved with it and sent by a worker after it
    commits (never if it rolls back). It makes no network call.
    """
    if event not in Event.values:
        raise ValueError(f"{event!r} is not an event webhooks know; see notifications.Event.")
    webhooks = Webhook.objects.filter(events__contains=[event]).filter(
        Q(cluster__isnull=True) | Q(cluster_id=namespace.cluster_id),
        Q(namespace__isnull=True) | Q(namespace_id=namespace.pk),
    )
    if service_name:
        webhooks = webhooks.filter(Q(service__isnull=True) | Q(service__name=service_name))
    else:
        webhooks = webhooks.filter(service__isnull=True)
    webhooks = list(webhooks.only("id", "kind"))
    if not webhooks:
        return 0
    summary = {
        "cluster": namespace.cluster.name,
        "namespace": namespace.name,
        "service": service_name,
        **summary,
    }
    event_id, now = str(uuid.uuid4()), timezone.now()
    bodies = {
        Webhook.Kind.SLACK: payloads.encode(payloads.slack_body(event, summary)),
        Webhook.Kind.GENERIC: payloads.encode(payloads.generic_body(event, event_id, now, summary)),
    }
    with transaction.atomic():
        deliveries = Delivery.objects.bulk_create(
            Delivery(
                webhook_id=webhook.pk,
                event=event,
                event_id=event_id,
                body=bodies[webhook.kind],
                next_attempt_at=now,
                queued_at=now,
                created_at=now,
            )
            for webhook in webhooks
        )
        ids = [delivery.pk for delivery in deliveries]
        transaction.on_commit(lambda: [enqueue(pk) for pk in ids])
    return len(ids)


FINISHED_EVENTS = {
    Deployment.Status.SUCCEEDED: Event.DEPLOYMENT_SUCCEEDED,
    Deployment.Status.FAILED: Event.DEPLOYMENT_FAILED,
    Deployment.Status.TIMED_OUT: Event.DEPLOYMENT_FAILED,
    Deployment.Status.CANCELLED: Event.DEPLOYMENT_CANCELLED,
    Deployment.Status.REJECTED: Event.DEPLOYMENT_REJECTED,
    Deployment.Status.EXPIRED: Event.DEPLOYMENT_EXPIRED,
}


def on_deployment_started(sender, deployment: Deployment, **kwargs) -> None:
    notify_deployment(Event.DEPLOYMENT_STARTED, deployment.pk)


def on_deployment_awaiting_approval(sender, deployment: Deployment, **kwargs) -> None:
    notify_deployment(
        Event.DEPLOYMENT_AWAITING_APPROVAL,
        deployment.pk,
        extra={"approvals": {"given": 0, "required": deployment.namespace.required_approvals}},
    )


def on_approval_given(sender, approval, deployment, given: int, required: int, **kwargs) -> None:
    notify_deployment(
        Event.DEPLOYMENT_APPROVED,
        deployment.pk,
        extra={
            "approvals": {"given": given, "required": required},
            "approved_by": approval.user.get_username(),
            "comment": approval.comment,
        },
    )


def on_deployment_finished(sender, deployment: Deployment, status: str, **kwargs) -> None:
    event = FINISHED_EVENTS.get(status)
    if event == Event.DEPLOYMENT_SUCCEEDED and deployment.rollback_of_id:
        event = Event.DEPLOYMENT_ROLLED_BACK
    if event:
        notify_deployment(event, deployment.pk)


def notify_deployment(event: str, deployment_id: int, *, extra: dict | None = None) -> None:
    """Queue the deployment's event (`extra` added to its summary). A problem here is logged,
    never raised: the deployment's own transition (whose transaction this may run in) must not
    fail for a notification."""
    try:
        if not Webhook.objects.filter(events__contains=[event]).exists():
            return
        with transaction.atomic():  # a savepoint: a failure leaves the caller's writes intact
            deployment = Deployment.all_objects.select_related(
                "release", "service", "namespace__cluster", "created_by", "cancelled_by"
            ).get(pk=deployment_id)
            notify(
                event,
                namespace=deployment.namespace,
                service_name=deployment.service.name,
                summary={**payloads.deployment_summary(deployment), **(extra or {})},
            )
    except Exception:
        logger.exception("could not queue the %s webhooks of deployment %s", event, deployment_id)


def on_lock_created(sender, lock, user, **kwargs) -> None:
    notify_lock(Event.LOCK_CREATED, lock, user)


def on_lock_deleted(sender, lock, user, **kwargs) -> None:
    notify_lock(Event.LOCK_DELETED, lock, user)


def notify_lock(event: str, lock, user) -> None:
    """Queue the lock's event. The locks app sends its signals after its change committed, in
    the request: a problem here is logged, never raised, so the answer stays what happened."""
    try:
        if not Webhook.objects.filter(events__contains=[event]).exists():
            return
        notify(
            event,
            namespace=lock.namespace,
            service_name=lock.service.name if lock.service_id else None,
            summary=payloads.lock_summary(lock, user),
        )
    except Exception:
        logger.exception("could not queue the %s webhooks of lock %s", event, lock.pk)


# --- the worker's side --------------------------------------------------------------------


def enqueue(delivery_id: int) -> None:
    async_task(
        "notifications.tasks.deliver",
        delivery_id,
        task_name=f"webhook-delivery-{delivery_id}",
        group="notifications",
    )


def answer_excerpt(body: bytes) -> str:
    text = body[:200].decode("utf-8", errors="replace").replace("\x00", "")
    return " ".join(text.split())


def deliver(delivery_id: int) -> str:
    """Make one attempt (the task body): claim it, POST it, record the outcome and, after a
    failure that may pass, add the next attempt. Returns the attempt's state."""
    delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or not delivery.claim():
        return "not due, or taken by another worker"
    webhook = delivery.webhook
    if webhook.is_deleted:
        delivery.settle(State.FAILED, error=NOT_SENT_DELETED)
        return delivery.state
    try:
        url, secret = webhook.url, webhook.secret
    except UnreadableSecret:
        delivery.settle(
            State.FAILED,
            error="Not sent: the webhook's address or secret cannot be decrypted "
            "(KUBERNAUT_ENCRYPTION_KEY or SECRET_KEY changed since it was saved); delete the "
            "webhook and add it again.",
        )
        return delivery.state
    body = delivery.body.encode()
    headers = payloads.headers(
        kind=webhook.kind,
        body=body,
        secret=secret,
        event=delivery.event,
        event_id=str(delivery.event_id),
        timestamp=int(time.time()),
    )
    started = time.monotonic()

    def elapsed_ms() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        answer = outbound.post(
            url, body, headers, allow_private=settings.KUBERNAUT_WEBHOOK_ALLOW_PRIVATE
        )
    except outbound.Refused as refusal:
        delivery.settle(State.REFUSED, error=str(refusal), duration_ms=elapsed_ms())
    except outbound.SendError as error:
        delivery.settle(
            State.FAILED, error=str(error), duration_ms=elapsed_ms(), retry=error.retryable
        )
    except Exception as error:
        # The attempt must end whatever happened, or it waits for the sweep to call it lost.
        logger.exception("webhook delivery %s failed unexpectedly", delivery.pk)
        delivery.settle(
            State.FAILED,
            error=f"Kubernaut failed unexpectedly while sending: {error!r}",
            duration_ms=elapsed_ms(),
            retry=True,
        )
    else:
        if 200 <= answer.status < 300:
            delivery.settle(State.SUCCEEDED, status_code=answer.status, duration_ms=elapsed_ms())
        else:
            said = answer_excerpt(answer.body)
            why = f"The receiver answered {answer.status}"
            if 300 <= answer.status < 400:
                why += " (a redirect, which is not followed: give the address it redirects to)"
            delivery.settle(
                State.FAILED,
                error=f"{why}: {said}" if said else f"{why}.",
                status_code=answer.status,
                duration_ms=elapsed_ms(),
                retry=True,
            )
    return delivery.state


LOST_WORKER = (
    "The worker making this attempt stopped before it recorded the answer; the receiver may "
    "have got it (the next attempt carries the same delivery id)."
)


def deliver_due(now=None) -> int:
    """The sweep (every minute): record attempts whose worker was lost as failed (queueing the
    next), and queue a task for each attempt whose time has come. Returns how many it queued."""
    now = now or timezone.now()
    for lost in Delivery.objects.lost(now).order_by("id")[:SWEEP_BATCH]:
        lost.settle(State.FAILED, error=LOST_WORKER, retry=True)
    queued = 0
    for delivery in Delivery.objects.due(now).order_by("next_attempt_at")[:SWEEP_BATCH]:
        if delivery.mark_queued(now, delivery.queued_at):
            enqueue(delivery.pk)
            queued += 1
    return queued
