"""Locking and unlocking, and the one check every deployment passes: `check`.

Deployments call `check` right after the role check (deployments/services.py create_deployment),
for every door: the API, the pages, the CLI and automatic rollbacks.
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record, snapshot
from clusters.models import Namespace
from locks.models import Lock
from locks.signals import lock_created, lock_deleted
from releases.models import Service
from teams import access
from teams.models import Role

RELATED = ("namespace__cluster", "service", "created_by")


class NotFound(Exception):
    """The cluster, namespace, service or lock named does not exist (or was deleted)."""


class LockExists(Exception):
    """The target is locked already; the message names that lock."""

    def __init__(self, lock: Lock):
        self.lock = lock
        super().__init__(
            f"{lock.sentence()}. It is lock #{lock.pk}: unlock it first (DELETE /api/locks/"
            f"{lock.pk} or `kubernaut unlock {lock.pk}`) to lock it again with another reason."
        )


class Locked(Exception):
    """A deployment's target is locked; the message says by whom, since when, why, and what to
    do about it."""

    def __init__(self, lock: Lock):
        self.lock = lock
        super().__init__(
            f"{lock.sentence()}. Deploy once it is unlocked (`kubernaut unlock {lock.pk}` or "
            f"DELETE /api/locks/{lock.pk}, by a deployer there), or, as an admin of "
            f"{lock.namespace}, deploy anyway giving your reason as override_lock "
            "(`kubernaut deploy ... --override-lock REASON`)."
        )


def find_namespace(cluster: str, namespace: str) -> Namespace:
    found = (
        Namespace.objects.select_related("cluster")
        .filter(cluster__name=cluster, cluster__deleted_at__isnull=True, name=namespace)
        .first()
    )
    if found is None:
        raise NotFound(f"There is no namespace {namespace!r} in cluster {cluster!r}.")
    return found


def find_service(name: str) -> Service:
    found = Service.objects.filter(name=name).first()
    if found is None:
        raise NotFound(
            f"There is no service {name!r}: a service exists once its first release is "
            "registered. Lock the whole namespace instead, or check the name."
        )
    return found


def find_lock(pk: int) -> Lock:
    found = Lock.objects.select_related(*RELATED).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"There is no lock #{pk}, or it was unlocked already.")
    return found


def create_lock(
    *,
    namespace: Namespace,
    service: Service | None,
    reason: str,
    until: datetime | None,
    user,
    token=None,
) -> Lock:
    """Lock the namespace (or one service in it). Needs the deployer role there.

    Raises access.Forbidden, ValueError (a blank reason, an `until` in the past) or LockExists
    (an active lock holds the same target).
    """
    what = f"Locking {service.name} in {namespace}" if service else f"Locking {namespace}"
    access.require(user, Role.DEPLOYER, namespace, token=token, action=what)
    if token is not None and service is not None:
        refusal = token.scope_refusal(namespace=namespace, service=service.name, write=True)
        if refusal:
            raise access.Forbidden(refusal)
    reason = reason.strip()
    if not reason:
        raise ValueError("Give the reason for the lock: people who cannot deploy will read it.")
    now = timezone.now()
    if until is not None and until <= now:
        raise ValueError("`until` must be in the future; leave it out to lock until unlocked.")
    with transaction.atomic():
        same_target = Lock.objects.filter(namespace=namespace, service=service)
        # An expired lock blocks nothing but still holds the "one lock per target" constraint:
        # end it, so the new lock can take its place.
        for expired in same_target.filter(until__lte=now).select_for_update():
            Lock.all_objects.filter(pk=expired.pk).update(deleted_at=now)
            record("lock.expired", expired, actor=user, message="Ended by a new lock.")
        try:
            with transaction.atomic():
                lock = Lock.objects.create(
                    namespace=namespace, service=service, reason=reason, until=until,
                    created_by=user,
                )  # fmt: skip
        except IntegrityError:
            existing = same_target.select_related(*RELATED).first()
            if existing is None:  # unlocked in between: the caller may simply try again
                raise
            raise LockExists(existing) from None
        lock = Lock.objects.select_related(*RELATED).get(pk=lock.pk)
        record("lock.created", lock, changes=snapshot(lock), message=reason, actor=user)
        transaction.on_commit(lambda: lock_created.send(sender=Lock, lock=lock, user=user))
    return lock


def delete_lock(lock: Lock, *, user, token=None) -> None:
    """Unlock: soft-delete the lock (its row stays). Needs the deployer role on its namespace.

    Raises access.Forbidden, or NotFound when someone unlocked it first.
    """
    access.require(
        user, Role.DEPLOYER, lock.namespace, token=token, action=f"Unlocking {lock.target}"
    )
    with transaction.atomic():
        # soft_delete records "lock.deleted" in the audit trail.
        message = f"Unlocked {lock.target} (locked for: {lock.reason})"
        if not lock.soft_delete(by=user, message=message):
            raise NotFound(f"Lock #{lock.pk} was unlocked already.")
        transaction.on_commit(lambda: lock_deleted.send(sender=Lock, lock=lock, user=user))


def check(
    namespace: Namespace,
    service: Service,
    *,
    user,
    token=None,
    override_lock: str = "",
    automatic: bool = False,
) -> Lock | None:
    """May the service be deployed to the namespace, as far as locks go?

    None: nothing is locked. A Lock: it is locked, and the user (an admin there, with a reason)
    overrides it; the caller records the override with `record_override` in the transaction that
    creates the deployment. Raises Locked when it is locked and not overridden (automatic
    deployments never override), access.Forbidden when someone without the admin role tries to
    override.
    """
    lock = Lock.objects.blocking(namespace.pk, service.pk).select_related(*RELATED).first()
    if lock is None:
        return None
    override_lock = override_lock.strip()
    if automatic or not override_lock:
        raise Locked(lock)
    access.require(
        user,
        Role.ADMIN,
        namespace,
        token=token,
        action=f"Deploying despite the lock on {lock.target} ({lock.reason})",
    )
    return lock


def record_override(lock: Lock, deployment, *, user, reason: str) -> None:
    """Audit a deployment made despite a lock (call it in the transaction that creates it)."""
    record(
        "deployment.lock_overridden",
        deployment,
        changes={"lock": lock.pk, "locked": lock.target, "lock_reason": lock.reason},
        message=reason.strip(),
        actor=user,
    )
