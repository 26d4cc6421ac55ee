"""Approving and rejecting deployments that wait for approval, and ending the ones nobody
approved in time (docs/approvals.md).

Every door (the API, the deployment page) comes through `approve` and `reject`; the scheduled
task (approvals.tasks.expire_awaiting) through `expire_awaiting`. Each decision is recorded with
its audit entry, log line and notification in one transaction, with the deployment's row locked
so that two approvals at once count as two.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from approvals.models import Approval
from approvals.signals import approval_given
from audit import context as audit_context
from audit import services as audit
from audit.models import AuditEntry
from deployments import services as deployments
from deployments.models import Deployment
from locks import services as locks
from teams import access
from teams.models import Role

Status = Deployment.Status
REQUESTER_REFUSAL = "You asked for this deployment; someone else must approve it."
# How many waiting deployments one run of the scheduled expiry ends (it runs every 5 minutes).
EXPIRY_BATCH = 500


class NotAwaiting(Exception):
    """The deployment does not wait for approval (any more); the message says what it is."""


class AlreadyDecided(Exception):
    """The person has approved or rejected this deployment already."""


def approve(deployment: Deployment, user, comment: str = "", *, token=None) -> Approval:
    """Approve the deployment for `user` (through `token`, if any). The approval that makes the
    namespace's `required_approvals` moves it to `pending` and queues it once this commits.

    Raises access.Forbidden (the user lacks deployer on its namespace, the token does not allow
    it, or the user asked for the deployment), NotAwaiting, AlreadyDecided, and locks.Locked
    when that last approval finds the target locked: then nothing is recorded, and approving
    again after the unlock queues it. A lock that the requester overrode (as an admin, with a
    reason) when asking does not hold it back: that override was for this deployment.
    """
    return decide(deployment, user, Approval.Decision.APPROVE, comment, token=token)


def reject(deployment: Deployment, user, comment: str, *, token=None) -> Approval:
    """Reject the deployment for `user`: it ends `rejected`, the comment in its reason. Raises
    as `approve` does (but never Locked), and ValueError for a blank comment: the requester
    reads why."""
    if not comment.strip():
        raise ValueError("Say why you reject the deployment: the person who asked for it reads it.")
    return decide(deployment, user, Approval.Decision.REJECT, comment, token=token)


def decide(deployment: Deployment, user, decision: str, comment: str, *, token=None) -> Approval:
    pk = deployment.pk
    verb = "Approving" if decision == Approval.Decision.APPROVE else "Rejecting"
    access.require(
        user, Role.DEPLOYER, deployment.namespace, token=token, action=f"{verb} deployment #{pk}"
    )
    if token is not None:
        refusal = token.scope_refusal(
            namespace=deployment.namespace, service=deployment.service.name, write=True
        )
        if refusal:
            raise access.Forbidden(refusal)
    comment = comment.strip()
    with transaction.atomic():
        # The lock: decisions on one deployment are made one after another, so the count below
        # is right and only one of them queues it.
        current = Deployment.all_objects.select_for_update().only("status").get(pk=pk)
        if current.status != Status.AWAITING_APPROVAL:
            raise NotAwaiting(
                f"Deployment #{pk} is not awaiting approval: it is "
                f"{Status(current.status).label.lower()}, so there is nothing to "
                f"{'approve' if decision == Approval.Decision.APPROVE else 'reject'}."
            )
        if deployment.created_by_id == user.pk:
            raise access.Forbidden(REQUESTER_REFUSAL)
        earlier = Approval.objects.filter(deployment_id=pk, user=user).first()
        if earlier is not None:
            raise AlreadyDecided(
                f"You already {earlier.decision}d deployment #{pk} on "
                f"{earlier.created_at:%Y-%m-%d %H:%M} UTC; each person decides once."
            )
        if decision == Approval.Decision.REJECT:
            return record_rejection(deployment, user, comment)
        return record_approval(deployment, user, comment)


def record_approval(deployment: Deployment, user, comment: str) -> Approval:
    required = deployment.namespace.required_approvals
    given = (
        Approval.objects.filter(
            deployment_id=deployment.pk, decision=Approval.Decision.APPROVE
        ).count()
        + 1
    )
    enough = given >= required
    if enough:
        check_locks(deployment, user)  # before anything is written: a refusal records nothing
    approval = Approval.objects.create(
        deployment=deployment, user=user, decision=Approval.Decision.APPROVE, comment=comment
    )
    said = f": {comment}" if comment else ""
    deployment.log(f"Approved by {user} ({given} of {required}){said}")
    changes = {"approvals": [given - 1, given], "required_approvals": required}
    if enough:
        changes["status"] = [Status.AWAITING_APPROVAL.value, Status.PENDING.value]
    audit.record("deployment.approved", deployment, actor=user, changes=changes, message=comment)
    approval_given.send(
        sender=Approval, approval=approval, deployment=deployment, given=given, required=required
    )
    if enough and deployment.release_for_run(
        f"Approved by {given} of {required} required; queued for a worker."
    ):
        pk = deployment.pk
        transaction.on_commit(lambda: deployments.enqueue(pk))
    return approval


def record_rejection(deployment: Deployment, user, comment: str) -> Approval:
    approval = Approval.objects.create(
        deployment=deployment, user=user, decision=Approval.Decision.REJECT, comment=comment
    )
    # finish() records "deployment.rejected" (by the user) and sends deployment_finished.
    deployment.finish(
        Status.REJECTED,
        f"Rejected by {user}: {comment}",
        from_status=Status.AWAITING_APPROVAL,
        audit_as=user,
    )
    return approval


def check_locks(deployment: Deployment, user) -> None:
    """Raise locks.Locked when the target is locked now, unless the requester overrode that
    very lock when asking for the deployment (deployments.services.create_deployment)."""
    try:
        locks.check(deployment.namespace, deployment.service, user=user, automatic=True)
    except locks.Locked as held:
        overridden = AuditEntry.objects.filter(
            action="deployment.lock_overridden",
            object_type="deployments.deployment",
            object_id=str(deployment.pk),
            changes__lock=held.lock.pk,
        ).exists()
        if not overridden:
            raise


def expire_awaiting(now: datetime | None = None) -> int:
    """End `expired` the deployments that waited for approval longer than
    KUBERNAUT_APPROVAL_TIMEOUT_HOURS (the scheduled task, every 5 minutes). Returns how many."""
    now = now or timezone.now()
    hours = settings.KUBERNAUT_APPROVAL_TIMEOUT_HOURS
    waiting = (
        Deployment.all_objects.filter(
            status=Status.AWAITING_APPROVAL, created_at__lt=now - timedelta(hours=hours)
        )
        .select_related("namespace")
        .order_by("id")[:EXPIRY_BATCH]
    )
    ended = 0
    for deployment in waiting:
        given = deployment.approvals.filter(decision=Approval.Decision.APPROVE).count()
        required = deployment.namespace.required_approvals
        reason = (
            f"Not approved within {hours} h ({given} of {required} approvals); deploy again to "
            "ask anew."
        )
        with audit_context.acting_as(audit_context.SYSTEM), transaction.atomic():
            if deployment.finish(Status.EXPIRED, reason, from_status=Status.AWAITING_APPROVAL):
                audit.record(
                    "deployment.expired",
                    deployment,
                    changes={"status": [Status.AWAITING_APPROVAL.value, Status.EXPIRED.value]},
                    message=reason,
                )
                ended += 1
    return ended


def approvals_of(deployment: Deployment) -> list[Approval]:
    return list(deployment.approvals.select_related("user"))


def may_decide(user, deployment: Deployment) -> bool:
    """Whether the user could approve or reject the deployment now (for the page's forms)."""
    return (
        deployment.status == Status.AWAITING_APPROVAL
        and deployment.created_by_id != user.pk
        and access.roles_of(user).has(Role.DEPLOYER, deployment.namespace)
        and not deployment.approvals.filter(user=user).exists()
    )
