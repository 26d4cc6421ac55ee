"""Automatic rollback: a failed deployment to a namespace that asks for it is followed at once by
a deployment of the last release of that service that succeeded there.

The runner calls `after_failure` when a deployment has ended failed or timed out. The decision
is made there (reads only, so it may run inside the transaction that finishes the deployment)
and said in the failed deployment's log; the new deployment is created once that transaction has
committed, through `services.create_deployment`, which renders and checks it like any other (a
refusal is logged on the failed deployment, and nothing is queued).

Rules:
- the namespace's `rollback_on_failure` is on (read afresh: an admin may have just turned it on);
- a rollback that fails does not start another (no loop between two bad releases);
- nothing newer was asked for the same (service, namespace): a newer deployment, a fix someone
  queued meanwhile, must not be overtaken by a return to the old release;
- there is a successful deployment there before the failed one, and its release is not deleted;
- no lock holds the target (locks/): an automatic rollback never overrides one. The failed
  deployment's log says the rollback was held, and by which lock.
The rollback deploys that release with that deployment's requested attributes and timeout, by a
`kubernaut` service account (created on demand, without a usable password), linked both ways:
`rollback_of` on the new deployment, `rolled_back_by` on the failed one.
"""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from clusters.models import Namespace
from deployments import services
from deployments.models import Deployment
from locks import services as locks
from locks.models import Lock
from releases.templating import TemplateProblem

SYSTEM_USERNAME = "kubernaut"
# The failed deployment's log says this when a rollback is on its way; `kubernaut deploy
# --wait` (kubernaut_cli/follow.py) then waits for `rolled_back_by` to say which.
STARTING = "Starting an automatic rollback"


def after_failure(deployment: Deployment) -> None:
    """Decide whether the failed (or timed out) deployment is rolled back, and say so in its log."""
    target = last_success_to_return_to(deployment)
    if target is None:
        return
    deployment.log(
        f"{STARTING}: {target.release.version} succeeded here last (deployment #{target.pk}) "
        "and the namespace has rollback_on_failure on."
    )
    failed_id, target_id = deployment.pk, target.pk
    transaction.on_commit(lambda: start(failed_id, target_id))


def last_success_to_return_to(deployment: Deployment) -> Deployment | None:
    """The deployment to repeat, or None (the log says why, unless the setting is off)."""
    namespace = (
        Namespace.all_objects.select_related("cluster").filter(pk=deployment.namespace_id).first()
    )
    if namespace is None or not namespace.rollback_on_failure:
        return None

    def no_rollback(why: str) -> None:
        deployment.log(f"No automatic rollback: {why}", "warning")

    if deployment.rollback_of_id:
        no_rollback(f"this was itself the automatic rollback of #{deployment.rollback_of_id}.")
        return None
    if namespace.is_deleted or namespace.cluster.is_deleted:
        no_rollback(f"the namespace {namespace} or its cluster was deleted.")
        return None
    newer = (
        Deployment.objects.filter(
            namespace_id=deployment.namespace_id,
            service_id=deployment.service_id,
            id__gt=deployment.pk,
        )
        .order_by("id")
        .first()
    )
    if newer is not None:
        no_rollback(f"deployment #{newer.pk} to this namespace was asked for since.")
        return None
    target = (
        Deployment.objects.filter(
            namespace_id=deployment.namespace_id,
            service_id=deployment.service_id,
            status=Deployment.Status.SUCCEEDED,
            id__lt=deployment.pk,
        )
        .select_related("release__service")
        .order_by("-id")
        .first()
    )
    if target is None:
        no_rollback(f"no deployment of {deployment.service} has succeeded in {namespace} before.")
        return None
    if target.release.is_deleted:
        no_rollback(
            f"release {target.release.version}, the last that succeeded here (deployment "
            f"#{target.pk}), was deleted."
        )
        return None
    lock = (
        Lock.objects.blocking(namespace.pk, deployment.service_id)
        .select_related(*locks.RELATED)
        .first()
    )
    if lock is not None:
        no_rollback(f"it is held by a lock: {lock.sentence()}.")
        return None
    return target


def start(failed_id: int, target_id: int) -> Deployment | None:
    """Queue the rollback of `failed_id` to what `target_id` deployed (at most once)."""
    with transaction.atomic():
        failed = Deployment.all_objects.select_for_update().get(pk=failed_id)
        if Deployment.all_objects.filter(rollback_of_id=failed_id).exists():
            return None  # a repeated call: the rollback exists already
        target = Deployment.all_objects.select_related("release", "namespace__cluster").get(
            pk=target_id
        )
        try:
            with transaction.atomic():
                rollback = services.create_deployment(
                    release=target.release,
                    namespace=target.namespace,
                    attributes=target.requested_attributes,
                    user=system_user(),
                    timeout_seconds=target.timeout_seconds,
                    redeploy_of=target,
                    automatic=True,
                    rollback_of=failed,
                )
        except locks.Locked as held:
            # Locked after the decision was made: the lock wins, as it would for anyone.
            failed.log(
                f"The automatic rollback could not start: it is held by a lock: "
                f"{held.lock.sentence()}.",
                "warning",
            )
            return None
        except (TemplateProblem, IntegrityError) as problem:
            failed.log(f"The automatic rollback could not start: {problem}", "error")
            return None
        rollback.log(
            f"This is an automatic rollback of #{failed.pk}, which "
            f"{failed.status.replace('_', ' ')}: it deploys "
            f"{target.release.version} again as deployment #{target.pk} did."
        )
        failed.log(
            f"An automatic rollback was started: deployment #{rollback.pk} deploys "
            f"{target.release.version} again."
        )
    return rollback


def system_user():
    """The account automatic actions are recorded under; it cannot log in."""
    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "Kubernaut"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
