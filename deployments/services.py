"""Creating deployments: check everything that can be checked before anything is queued."""

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_q.tasks import async_task

import policies
from audit import context as audit_context
from audit import services as audit
from clusters.kube import ClusterClient, ClusterError
from clusters.models import Namespace
from deployments import manifests
from deployments.models import Deployment, LogEntry, deployment_awaiting_approval
from locks import services as locks
from releases.models import Release
from releases.templating import TemplateProblem
from teams import access


class NotFound(Exception):
    """Something the request names does not exist (or was deleted)."""


class NotPromotable(Exception):
    """The deployment cannot be promoted (it did not succeed, or its namespace has no next stage
    in use); the message says why and what to do."""


class PolicyViolated(TemplateProblem):
    """The namespace's deploy policy refuses the rendered manifest; `violations` says how.

    A TemplateProblem, so whatever shows a template's problems shows this one too; the API adds
    the violations themselves (object, field, rule) to its 400.
    """

    def __init__(self, violations: list[policies.Violation]):
        self.violations = violations
        super().__init__(policies.refusal_sentence(violations))


def policy_violations(
    namespace: Namespace, objects: list[dict], client: ClusterClient | None = None
) -> list[policies.Violation]:
    """How the objects break the namespace's policy. With a client, the cluster is asked whether
    custom resources are cluster-scoped (offline they count as namespaced)."""

    def scope_of(obj: dict) -> bool | None:
        try:
            return not client.resource(obj["apiVersion"], obj["kind"]).namespaced
        except ClusterError:
            return None  # an unknown kind: applying it fails and says so

    return policies.check(objects, namespace.policy, scope_of=scope_of if client else None)


def enforce_policy(namespace: Namespace, objects: list[dict]) -> None:
    violations = policy_violations(namespace, objects)
    if violations:
        raise PolicyViolated(violations)


def find_release(*, release_id: int | None = None, service: str = "", version: str = "") -> Release:
    releases = Release.objects.select_related("service")
    if release_id is not None:
        release = releases.filter(pk=release_id).first()
        if release is None:
            raise NotFound(f"Release {release_id} does not exist or was deleted.")
        return release
    release = releases.filter(service__name=service, version=version).first()
    if release is None:
        raise NotFound(f"Service {service!r} has no release {version!r} (or it was deleted).")
    return release


# How the list filters (API and page) map to lookups; all are served by indexes but `version`.
FILTER_LOOKUPS = {
    "service": "service__name",
    "version": "release__version",
    "cluster": "namespace__cluster__name",
    "namespace": "namespace__name",
    "status": "status",
    "created_by": "created_by__username",
}


def filter_deployments(given: dict) -> QuerySet:
    """Deployments matching the filters given; empty values and other keys are ignored."""
    lookups = {FILTER_LOOKUPS[name]: value for name, value in given.items()
               if name in FILTER_LOOKUPS and value}  # fmt: skip
    return Deployment.objects.filter(**lookups)


def find_namespace(cluster: str, namespace: str) -> Namespace:
    found = (
        Namespace.objects.select_related("cluster")
        .filter(cluster__name=cluster, cluster__deleted_at__isnull=True, name=namespace)
        .first()
    )
    if found is None:
        raise NotFound(
            f"There is no namespace {namespace!r} in cluster {cluster!r}; an admin adds clusters "
            "and namespaces in the admin."
        )
    return found


def create_deployment(
    *,
    release: Release,
    namespace: Namespace,
    attributes: dict[str, str],
    user,
    timeout_seconds: int | None = None,
    redeploy_of: Deployment | None = None,
    token=None,
    automatic: bool = False,
    override_lock: str = "",
    rollback_of: Deployment | None = None,
    promoted_from: Deployment | None = None,
    automatic_reason: str = "",
) -> Deployment:
    """Check the user (and their API token, if any) may deploy the release there; render and
    validate it for the namespace, save the deployment, queue it.

    Raises teams.access.Forbidden when they may not, templating.TemplateProblem (nothing is
    saved) when the manifest cannot be used, and PolicyViolated, one of them, when the
    namespace's deploy policy refuses it. `automatic` deployments (a rollback the namespace's
    settings asked for) are made by the system user: the namespace admin who chose the setting
    authorized them; `rollback_of` names the failed deployment such a rollback repairs.
    `automatic_reason` says why an automatic deployment was made, for its audit entry and log
    (continuous delivery gives one; a rollback need not).

    A locked target (locks/) raises locks.Locked, automatic deployments included, unless
    `override_lock` gives a reason and the user is an admin of the namespace (else Forbidden);
    the override is then audited and said in the deployment's log.

    `promoted_from` names the succeeded deployment of the previous stage this one promotes
    (`promote`).

    A namespace with `required_approvals` (N > 0) makes the deployment wait: it is saved
    `awaiting_approval`, not queued, until N people holding deployer there, other than the
    requester, approve it (approvals/, docs/approvals.md). Automatic deployments wait too (a
    continuous delivery's), except an automatic rollback (`automatic` with `rollback_of`): it
    repairs a failed deployment and must not wait for anyone.

    Recorded in the audit trail as "deployment.created" (by the system for automatic ones).
    """
    if not automatic:
        access.require_deploy(user, release.service, namespace, token=token)
    overridden = locks.check(
        namespace,
        release.service,
        user=user,
        token=token,
        override_lock=override_lock,
        automatic=automatic,
    )
    with transaction.atomic():
        waits = needs_approval(namespace, automatic=automatic, rollback_of=rollback_of)
        deployment = Deployment.objects.create(
            status=Deployment.Status.AWAITING_APPROVAL if waits else Deployment.Status.PENDING,
            release=release,
            release_created_at=release.created_at,
            service_id=release.service_id,
            namespace=namespace,
            requested_attributes=attributes,
            manifest="",
            timeout_seconds=timeout_seconds or namespace.cluster.timeout_seconds,
            created_by=user,
            redeploy_of=redeploy_of,
            rollback_of=rollback_of,
            promoted_from=promoted_from,
        )
        # Rendered inside the transaction so that {{ deployment_id }} is the real id; a problem
        # rolls the row back.
        rendered = manifests.render_for(
            release=release, namespace=namespace, extra=attributes, deployment_id=deployment.pk
        )
        enforce_policy(namespace, rendered.objects)
        deployment.attributes = rendered.variables
        deployment.manifest = rendered.text
        deployment.save(update_fields=["attributes", "manifest"])
        LogEntry.objects.create(
            deployment=deployment,
            message=f"{user} asked to deploy {release} to {namespace}"
            + (f" (redeploy of #{redeploy_of.pk})" if redeploy_of else "")
            + (
                f" (promotion of #{promoted_from.pk} from {promoted_from.namespace})"
                if promoted_from
                else ""
            )
            + (f" ({automatic_reason})" if automatic and automatic_reason else ""),
        )
        if overridden is not None:
            reason = override_lock.strip()
            deployment.log(
                f"Deployed despite the lock by {user}: {reason} (the lock: "
                f"{overridden.sentence()})",
                "warning",
            )
            locks.record_override(overridden, deployment, user=user, reason=reason)
        record_created(deployment, user=user, automatic=automatic, reason=automatic_reason)
        if waits:
            required = namespace.required_approvals
            deployment.log(
                f"Waiting for {required} approval{pluralize(required)} from people holding "
                f"deployer in {namespace}, other than {user}."
            )
            # In the transaction: a receiver's writes (notifications) commit with the row.
            deployment_awaiting_approval.send(sender=Deployment, deployment=deployment)
        else:
            transaction.on_commit(lambda: enqueue(deployment.pk))
    return deployment


def needs_approval(namespace: Namespace, *, automatic: bool, rollback_of) -> bool:
    """Whether a new deployment there waits for approval: when the namespace asks for some,
    unless it is an automatic rollback (it repairs a failure and must not wait)."""
    if automatic and rollback_of is not None:
        return False
    return namespace.required_approvals > 0


def pluralize(count: int) -> str:
    return "" if count == 1 else "s"


def record_created(deployment: Deployment, *, user, automatic: bool, reason: str = "") -> None:
    """The "deployment.created" audit entry: what was asked for, where, and why."""
    summary = {
        "release": str(deployment.release),
        "release_id": deployment.release_id,
        "namespace": str(deployment.namespace),
        "namespace_id": deployment.namespace_id,
        "attributes": audit.redact(deployment.requested_attributes),
        "timeout_seconds": deployment.timeout_seconds,
    }
    if deployment.redeploy_of_id:
        summary["redeploy_of"] = deployment.redeploy_of_id
    if deployment.rollback_of_id:
        summary["rollback_of"] = deployment.rollback_of_id
    if deployment.promoted_from_id:
        summary["promoted_from"] = deployment.promoted_from_id
    if deployment.status == Deployment.Status.AWAITING_APPROVAL:
        summary["status"] = deployment.status
        summary["required_approvals"] = deployment.namespace.required_approvals
    if not automatic:
        audit.record("deployment.created", deployment, actor=user, changes=summary)
        return
    summary["automatic"] = True
    # The system acts, whoever's request happened to finish the failed deployment.
    with audit_context.acting_as(audit_context.SYSTEM):
        audit.record(
            "deployment.created",
            deployment,
            changes=summary,
            message=reason or "An automatic rollback: the namespace has rollback_on_failure on.",
        )


def enqueue(deployment_id: int) -> None:
    async_task(
        "deployments.tasks.run_deployment",
        deployment_id,
        task_name=f"deployment-{deployment_id}",
        group="deployments",
    )


def redeploy(
    deployment: Deployment,
    *,
    user,
    timeout_seconds: int | None = None,
    token=None,
    override_lock: str = "",
) -> Deployment:
    """Deploy the same release to the same place with the same request attributes."""
    return create_deployment(
        release=Release.all_objects.select_related("service").get(pk=deployment.release_id),
        namespace=deployment.namespace,
        attributes=deployment.requested_attributes,
        user=user,
        timeout_seconds=timeout_seconds or deployment.timeout_seconds,
        redeploy_of=deployment,
        token=token,
        override_lock=override_lock,
    )


def next_stage_of(deployment: Deployment) -> Namespace:
    """Where promoting the deployment goes: its namespace's next stage, if that namespace and its
    cluster are in use. Raises NotPromotable, saying why, when the deployment did not succeed or
    there is no such next stage."""
    if deployment.status != Deployment.Status.SUCCEEDED:
        status = deployment.get_status_display().lower()
        raise NotPromotable(
            f"Deployment #{deployment.pk} has status {status}: only a succeeded deployment can "
            "be promoted to the next stage."
        )
    namespace = deployment.namespace
    stage = (
        Namespace.objects.select_related("cluster")
        .filter(pk=namespace.next_stage_id, cluster__deleted_at__isnull=True)
        .first()
        if namespace.next_stage_id
        else None
    )
    if stage is None:
        raise NotPromotable(
            f"Namespace {namespace} has no next stage"
            + (" in use (it was deleted)" if namespace.next_stage_id else "")
            + "; an admin of it sets one (`next_stage`, PATCH /api/namespaces/"
            f"{namespace.pk} or the admin) to promote from there."
        )
    return stage


def promote(
    deployment: Deployment,
    *,
    user,
    token=None,
    override_lock: str = "",
    timeout_seconds: int | None = None,
) -> Deployment:
    """Deploy the very release of a succeeded deployment, with the same requested attributes, to
    its namespace's next stage (staging -> production). Raises NotPromotable (nothing is saved)
    when it did not succeed, its release was deleted, or there is no next stage; otherwise
    whatever create_deployment raises (Forbidden, Locked, a template problem)."""
    stage = next_stage_of(deployment)
    release = Release.all_objects.select_related("service").get(pk=deployment.release_id)
    if release.is_deleted:
        raise NotPromotable(
            f"Release {release} was deleted: register it again to deploy it to {stage}."
        )
    return create_deployment(
        release=release,
        namespace=stage,
        attributes=deployment.requested_attributes,
        user=user,
        timeout_seconds=timeout_seconds,
        token=token,
        override_lock=override_lock,
        promoted_from=deployment,
    )


def previous_success(deployment: Deployment) -> Deployment | None:
    """The last successful deployment of another release of the service to the same namespace
    before this one: what rolling back returns to."""
    return (
        Deployment.objects.filter(
            namespace_id=deployment.namespace_id,
            service_id=deployment.service_id,
            status=Deployment.Status.SUCCEEDED,
            id__lt=deployment.pk,
        )
        .exclude(release_id=deployment.release_id)
        .select_related("release__service", "namespace__cluster")
        .order_by("-id")
        .first()
    )


# How long past its timeout a deployment whose worker stopped may wait for another before it is
# failed (when no worker resumes it, e.g. none is running).
STALE_GRACE = timedelta(minutes=5)


def check_unfinished_deployments(now: datetime | None = None) -> int:
    """The scheduled check (every minute): nothing waits for a worker that stopped.

    Judged by the heartbeat a worker writes while it follows a deployment
    (KUBERNAUT_HEARTBEAT_SECONDS), never by when it was asked for: a deployment queued behind a
    long rollout is waiting, not stale. For each (namespace, service) target that no live worker
    holds, the oldest deployment nobody vouched for lately is queued again (a worker that takes
    it runs the target's queue in order); a running one whose worker stopped is ended instead
    when someone asked to cancel it, or when it is long past its timeout. Returns how many
    deployments it queued again or ended.

    Runs every minute (a django-q Schedule) and every ~10 s from each worker's heartbeat thread:
    django-q's pusher takes a task ahead of its qcluster's workers, so behind long rollouts a
    pending deployment's task can sit in a busy qcluster while another one is idle.
    """
    now = now or timezone.now()
    Status = Deployment.Status
    heard_after = now - timedelta(seconds=settings.KUBERNAUT_HEARTBEAT_STALE_SECONDS)
    held = set(
        Deployment.objects.filter(status=Status.RUNNING, heartbeat_at__gte=heard_after).values_list(
            "namespace_id", "service_id"
        )
    )
    acted = 0
    for deployment in (
        Deployment.objects.unheard_since(heard_after).select_related("cancelled_by").order_by("id")
    ):
        target = (deployment.namespace_id, deployment.service_id)
        if deployment.status == Status.RUNNING:
            if deployment.cancelled_by_id:
                acted += deployment.finish_cancelled(deployment.applied_objects)
                continue
            if deployment.is_past_deadline(now, STALE_GRACE):
                acted += deployment.finish(
                    Status.FAILED,
                    "The worker running this deployment stopped and no worker resumed it in time.",
                    log="Marked failed: its worker stopped and no other worker took it over.",
                )
                continue
        if target in held:
            continue
        held.add(target)  # the one queued now runs the rest of the target's queue
        if deployment.status == Status.PENDING and deployment.heartbeat_at:
            # Queued again before and still waiting: most likely every worker is busy, so back
            # off (after half its age) rather than pile up copies of its task.
            waited = now - deployment.created_at
            if now - deployment.heartbeat_at < max(waited / 2, now - heard_after):
                continue
        if deployment.vouch(deployment.heartbeat_at):
            if deployment.status == Status.RUNNING:
                deployment.log(
                    f"The worker following this deployment ({deployment.worker or 'unknown'}) "
                    "stopped sending its heartbeat; queued again for another worker.",
                    "warning",
                )
            enqueue(deployment.pk)
            acted += 1
    return acted


def requeue_deployments_of_dead_workers() -> int:
    """Queue again, at once, the running deployments whose worker process on this machine is
    gone. Run as a django-q worker process starts: the qcluster starts one in place of a worker
    that died (killed, out of memory), and its deployment need not wait for its heartbeat to go
    stale. A machine that died as a whole is the heartbeat check's to notice."""
    host = socket.gethostname()
    acted = 0
    for deployment in Deployment.objects.filter(
        status=Deployment.Status.RUNNING, worker__startswith=f"{host}:"
    ):
        pid = deployment.worker.rpartition(":")[2]
        if not pid.isdigit() or process_is_alive(int(pid)):
            continue
        if deployment.vouch(deployment.heartbeat_at):
            deployment.log(
                f"The worker following this deployment ({deployment.worker}) died; queued again "
                "for another worker.",
                "warning",
            )
            enqueue(deployment.pk)
            acted += 1
    return acted


def process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:  # a zombie (killed, not yet reaped) is as dead as can be
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def latest_deployment_ids(
    service_ids: list[int], namespace_ids: list[int], *, succeeded_only: bool = False
) -> list[int]:
    """Per (service, namespace) pair, the id of its newest (successful) deployment.

    One index probe per pair (LATERAL ... LIMIT 1 on the (service, namespace, -id) index), so the
    cost follows the size of the grid, not the number of deployments ever made.
    """
    if not service_ids or not namespace_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(latest_deployment_sql(succeeded_only), [service_ids, namespace_ids])
        return [row[0] for row in cursor.fetchall()]


def live_deployments(service_id: int, namespace_ids: list[int]) -> list[Deployment]:
    """Per namespace given, the newest successful deployment of the service: what runs there
    now; ordered by cluster and namespace name, heavy fields left out."""
    ids = latest_deployment_ids([service_id], namespace_ids, succeeded_only=True)
    if not ids:
        return []
    return list(
        Deployment.objects.filter(pk__in=ids)
        .order_by("namespace__cluster__name", "namespace__name")
        .select_related("release", "namespace__cluster", "created_by")
        .defer("manifest", "attributes", "requested_attributes", "applied_objects")
        .defer("release__template")
    )


def latest_deployment_sql(succeeded_only: bool) -> str:
    status = "AND d.status = 'succeeded'" if succeeded_only else ""
    table = Deployment._meta.db_table
    return f"""
        SELECT latest.id
        FROM unnest(%s::bigint[]) AS s(id)
        CROSS JOIN unnest(%s::bigint[]) AS n(id)
        CROSS JOIN LATERAL (
            SELECT d.id FROM {table} d
            WHERE d.service_id = s.id AND d.namespace_id = n.id AND d.deleted_at IS NULL {status}
            ORDER BY d.id DESC LIMIT 1
        ) AS latest
    """  # noqa: S608 (no user input: the table name and a fixed condition)
