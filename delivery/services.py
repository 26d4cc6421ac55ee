"""Turning continuous delivery on, off and back on after a pause; deploying each new release;
pausing after a failure or a rollback.

The flow: releases sends `release_created` once a release is registered; `on_release_created`
queues `delivery.tasks.deploy_release`, which calls `deploy_release` in a worker: for each
AutoDeploy of the service, deploy the release there (deployments.services.create_deployment,
as the system user, locks respected, approvals as the namespace asks). The deployments app's
signals pause it: a deployment there that failed or timed out (`on_deployment_finished`), or a
rollback starting there (`on_deployment_started`).
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from audit import context as audit_context
from audit import services as audit
from clusters.models import Namespace
from delivery.models import AutoDeploy
from deployments import services as deployments
from deployments.models import Deployment
from deployments.rollback import system_user
from locks import services as locks
from releases.models import Release, Service
from releases.templating import TemplateProblem
from teams import access

RELATED = ("service__team", "namespace__cluster", "created_by")
PAUSED_UNTIL = "continuous delivery paused until someone resumes it"


class NotFound(Exception):
    """The service, namespace or auto-deploy named does not exist (or was deleted)."""


class AlreadyOn(Exception):
    """Continuous delivery of the service to the namespace is on already; the message names it."""

    def __init__(self, auto: AutoDeploy):
        self.auto = auto
        super().__init__(
            f"Continuous delivery of {auto.target} is on already (auto-deploy #{auto.pk}"
            + (f", paused: {auto.paused_reason}" if auto.is_paused else "")
            + f"). Resume it (POST /api/auto-deploys/{auto.pk}/resume) or turn it off first "
            f"(DELETE /api/auto-deploys/{auto.pk})."
        )


class NotPaused(Exception):
    """Resume was asked of an auto-deploy that is not paused."""


def find_service(name: str) -> Service:
    found = Service.objects.select_related("team").filter(name=name).first()
    if found is None:
        raise NotFound(
            f"There is no service {name!r}: a service exists once its first release is "
            "registered. Check the name, or register a release first."
        )
    return found


def find_auto_deploy(pk: int) -> AutoDeploy:
    found = AutoDeploy.objects.select_related(*RELATED).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"There is no auto-deploy #{pk}, or it was turned off.")
    return found


def create_auto_deploy(*, service: Service, namespace: Namespace, user, token=None) -> AutoDeploy:
    """Turn continuous delivery of the service to the namespace on. Whoever may deploy the
    service there may: it is a standing decision to deploy each new release.

    Raises access.Forbidden, or AlreadyOn. Releases registered before are not deployed; the
    next one is. Recorded as "auto_deploy.created".
    """
    access.require_deploy(user, service, namespace, token=token)
    newest = Release.all_objects.filter(service=service).order_by("-id").first()
    with transaction.atomic():
        try:
            with transaction.atomic():
                auto = AutoDeploy.objects.create(
                    service=service, namespace=namespace, created_by=user, last_release=newest
                )
        except IntegrityError:
            existing = (
                AutoDeploy.objects.select_related(*RELATED)
                .filter(service=service, namespace=namespace)
                .first()
            )
            if existing is None:  # turned off in between: the caller may simply try again
                raise
            raise AlreadyOn(existing) from None
        auto = AutoDeploy.objects.select_related(*RELATED).get(pk=auto.pk)
        audit.record(
            "auto_deploy.created",
            auto,
            actor=user,
            changes={"service": service.name, "namespace": str(namespace)},
            message=f"Every new release of {service.name} is deployed to {namespace}.",
        )
    return auto


def require_deploy(auto: AutoDeploy, user, token=None) -> None:
    access.require_deploy(user, auto.service, auto.namespace, token=token)


def delete_auto_deploy(auto: AutoDeploy, *, user, token=None) -> None:
    """Turn it off: soft-delete the row ("auto_deploy.deleted"). Raises access.Forbidden, or
    NotFound when someone turned it off first."""
    require_deploy(auto, user, token)
    if not auto.soft_delete(by=user, message=f"Continuous delivery of {auto.target} is off."):
        raise NotFound(f"Auto-deploy #{auto.pk} was turned off already.")


def resume_auto_deploy(auto: AutoDeploy, *, user, token=None) -> AutoDeploy:
    """Resume after a pause ("auto_deploy.resumed"): the next release is deployed again.
    Raises access.Forbidden, or NotPaused."""
    require_deploy(auto, user, token)
    if not auto.resume(by=user):
        raise NotPaused(
            f"Continuous delivery of {auto.target} is not paused: there is nothing to resume."
        )
    return auto


# --- the trigger ------------------------------------------------------------------------------


def on_release_created(sender, release: Release, **kwargs) -> None:
    """Queue the deployments of a new release (sent once its transaction has committed)."""
    if AutoDeploy.objects.filter(service_id=release.service_id).exists():
        async_task(
            "delivery.tasks.deploy_release",
            release.pk,
            task_name=f"deliver-release-{release.pk}",
            group="delivery",
        )


def deploy_release(release_id: int) -> list[Deployment]:
    """Deploy the release wherever continuous delivery of its service is on (and its namespace
    and cluster are alive). Safe to repeat: each target deploys a release at most once, and
    never one older than the newest it dealt with. Returns the deployments made."""
    release = Release.objects.select_related("service").filter(pk=release_id).first()
    if release is None:
        return []  # deleted before the worker got to it
    targets = AutoDeploy.objects.filter(
        service_id=release.service_id,
        namespace__deleted_at__isnull=True,
        namespace__cluster__deleted_at__isnull=True,
    ).values_list("pk", flat=True)
    made = []
    for pk in list(targets):
        deployment = deliver(pk, release)
        if deployment is not None:
            made.append(deployment)
    return made


def deliver(auto_id: int, release: Release) -> Deployment | None:
    """Deploy the release to one auto-deploy's namespace, or say why not (a lock: skipped; a
    pause: skipped; a template or policy problem: paused)."""
    with transaction.atomic():
        auto = (
            AutoDeploy.objects.select_for_update(of=("self",))
            .select_related(*RELATED)
            .filter(pk=auto_id)
            .first()
        )
        if auto is None:
            return None  # turned off meanwhile
        if auto.last_release_id is not None and release.pk <= auto.last_release_id:
            return None  # dealt with already (a repeated task), or older than what was
        AutoDeploy.objects.filter(pk=auto.pk).update(last_release=release)
        what = f"{release.service.name} {release.version}"
        if auto.is_paused:
            skip(
                auto,
                f"{what} was not deployed: continuous delivery is paused ({auto.paused_reason}).",
            )
            return None
        rollback = rollback_in_flight(auto)
        if rollback is not None:
            deployment, sentence = rollback
            auto.pause(sentence, deployment)
            skip(auto, f"{what} was not deployed: {sentence}.")
            return None
        try:
            with transaction.atomic():
                deployment = deployments.create_deployment(
                    release=release,
                    namespace=auto.namespace,
                    attributes={},
                    user=system_user(),
                    automatic=True,
                    automatic_reason=f"Continuous delivery: {what} released",
                )
        except locks.Locked as held:
            skip(auto, f"{what} was not deployed: {held.lock.sentence()}.")
            return None
        except TemplateProblem as problem:  # policy refusals included
            auto.pause(f"{what} could not be deployed: {problem} ({PAUSED_UNTIL})")
            return None
        deployment.log(
            f"Deployed by continuous delivery (auto-deploy #{auto.pk}, turned on by "
            f"{auto.created_by.get_username()}): every new release of {auto.service.name} "
            f"goes to {auto.namespace}."
        )
        AutoDeploy.objects.filter(pk=auto.pk).update(last_deployment=deployment)
    return deployment


def skip(auto: AutoDeploy, reason: str) -> None:
    """Note on the row, and in the audit trail, that a release was not deployed and why."""
    AutoDeploy.objects.filter(pk=auto.pk).update(
        last_skipped_at=timezone.now(), last_skipped_reason=reason
    )
    with audit_context.acting_as(audit_context.SYSTEM):
        audit.record("auto_deploy.skipped", auto, message=reason)


# --- pausing ----------------------------------------------------------------------------------


def rollback_sentence(deployment: Deployment) -> str | None:
    """Why the deployment is a rollback, or None: an automatic rollback (`rollback_of`), or a
    release older (a lower id) than the one live in its target before it."""
    if deployment.rollback_of_id:
        return (
            f"Deployment #{deployment.pk} rolled back #{deployment.rollback_of_id} "
            f"automatically; {PAUSED_UNTIL}"
        )
    live = (
        Deployment.objects.for_target(deployment.namespace_id, deployment.service_id)
        .filter(status=Deployment.Status.SUCCEEDED, id__lt=deployment.pk)
        .select_related("release")
        .order_by("-id")
        .first()
    )
    if live is None or deployment.release_id >= live.release_id:
        return None
    older = Release.all_objects.get(pk=deployment.release_id)
    return (
        f"Deployment #{deployment.pk} rolled {older.service.name} back to {older.version} "
        f"({live.release.version} was live); {PAUSED_UNTIL}"
    )


def rollback_in_flight(auto: AutoDeploy) -> tuple[Deployment, str] | None:
    """A rollback asked for in the target that has not finished yet (awaiting approval,
    pending or running): continuous delivery must not overtake it."""
    unfinished = (
        Deployment.objects.for_target(auto.namespace_id, auto.service_id)
        .filter(status__in=[Deployment.Status.AWAITING_APPROVAL, Deployment.Status.PENDING,
                            Deployment.Status.RUNNING])
        .order_by("id")
    )  # fmt: skip
    for deployment in unfinished:
        sentence = rollback_sentence(deployment)
        if sentence is not None:
            return deployment, sentence
    return None


def auto_deploy_of(deployment: Deployment) -> AutoDeploy | None:
    return (
        AutoDeploy.objects.select_related(*RELATED)
        .filter(service_id=deployment.service_id, namespace_id=deployment.namespace_id)
        .first()
    )


def on_deployment_started(sender, deployment: Deployment, **kwargs) -> None:
    """A rollback starting in a continuous delivery target pauses it (in the transaction that
    starts the deployment)."""
    auto = auto_deploy_of(deployment)
    if auto is None:
        return
    sentence = rollback_sentence(deployment)
    if sentence is None:
        return
    if auto.pause(sentence, deployment):
        deployment.log(f"Continuous delivery of {auto.target} is paused: this is a rollback.")
    else:
        deployment.log(
            f"Continuous delivery of {auto.target} stays paused ({auto.paused_reason}).",
        )


FAILED = {Deployment.Status.FAILED: "failed", Deployment.Status.TIMED_OUT: "timed out"}


def on_deployment_finished(sender, deployment: Deployment, status: str, **kwargs) -> None:
    """A deployment that failed or timed out in a continuous delivery target pauses it."""
    if status not in FAILED:
        return
    auto = auto_deploy_of(deployment)
    if auto is None:
        return
    reason = f"Deployment #{deployment.pk} {FAILED[status]}; {PAUSED_UNTIL}"
    if auto.pause(reason, deployment):
        deployment.log(f"Continuous delivery of {auto.target} is paused until someone resumes it.")
