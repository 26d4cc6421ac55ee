"""Pages to deploy a release, follow a deployment, cancel, redeploy, roll back or promote it, list
them."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from clusters.models import Namespace
from deployments import live_state, preview, services
from deployments.forms import DeployForm, DeploymentFilterForm, attributes_text
from deployments.models import AlreadyFinished, Deployment
from kubernaut.views import filter_query, newest_first, require_permission
from locks import services as lock_services
from locks.models import Lock
from releases.models import Release, Service
from releases.templating import TemplateProblem
from teams import access
from teams.models import Role

RELATED = ("release", "service", "namespace__cluster", "created_by")
HEAVY_FIELDS = ("manifest", "attributes", "requested_attributes", "applied_objects")
LOG_LIMIT = 5000


@require_permission("releases.view_release")
def deploy(request, release_id: int):
    """GET: the form. POST `preview`: render + dry run + diff. POST `deploy`: the same checks,
    then queue; any problem is shown on the page and nothing is queued.

    GET with `redeploy_of` (from Redeploy or Roll back on a deployment's page): the form filled
    with that deployment's namespace, attributes and timeout, and its preview at once; the
    deployment made on confirm records what it redeploys.

    GET with `promoted_from` (from Promote on a succeeded deployment's page): the same, filled
    for the next stage of that deployment's namespace with its attributes (the timeout is the
    next stage's cluster's); the deployment made on confirm records what it promotes.

    The locks that hold this service are listed up front; once a namespace is chosen, its lock
    is shown in place of the deploy button (with an "override with a reason" field for admins
    there). A deploy refused by a lock answers the page with the lock's sentence and status
    423: the form stays filled in, and the status still says what happened.
    """
    release = get_object_or_404(
        Release.objects.select_related("service__team", "created_by"), pk=release_id
    )
    original = promoted = None
    if request.method == "GET" and request.GET.get("redeploy_of", "").isdigit():
        original = redeploy_original(request, release, int(request.GET["redeploy_of"]))
        form = DeployForm(redeploy_data(original), user=request.user, release=release)
    elif request.method == "GET" and request.GET.get("promoted_from", "").isdigit():
        promoted, stage = promotion_original(request, release, int(request.GET["promoted_from"]))
        form = DeployForm(promotion_data(promoted, stage), user=request.user, release=release)
    else:
        initial = (
            {"namespace": request.GET.get("namespace")} if request.GET.get("namespace") else {}
        )
        form = DeployForm(request.POST or None, initial=initial, user=request.user, release=release)
    refuse_unless_deployable(request, release, form)
    context = {
        "release": release,
        "form": form,
        "result": None,
        "rollback": request.GET.get("rollback") == "1",
        "locks": list(
            Lock.objects.active()
            .filter(Q(service__isnull=True) | Q(service_id=release.service_id))
            .filter(namespace__cluster__deleted_at__isnull=True)
            # Only where the person may look: a lock's reason is not for everyone.
            .filter(namespace__in=access.visible_namespaces(request.user))
            .select_related(*lock_services.RELATED)
        ),
    }
    status = 200
    if form.is_bound and form.is_valid():
        given = form.cleaned_data
        namespace = given["namespace"]
        context["original"] = given["redeploy_of"]
        context["promoted"] = given["promoted_from"]
        context["lock"] = next(
            (lock for lock in context["locks"] if lock.namespace_id == namespace.pk), None
        )
        context["may_override"] = access.roles_of(request.user).has(Role.ADMIN, namespace)
        # Checked again on confirm: the cluster may have changed (or gone) since the preview.
        result = preview.preview(release=release, namespace=namespace, extra=given["attributes"])
        context["result"] = result
        if result.ok and request.method == "POST" and request.POST.get("action") == "deploy":
            try:
                deployment = services.create_deployment(
                    release=release,
                    namespace=namespace,
                    attributes=given["attributes"],
                    user=request.user,
                    timeout_seconds=given["timeout_seconds"],
                    override_lock=given["override_lock"],
                    redeploy_of=given["redeploy_of"],
                    promoted_from=given["promoted_from"],
                )
            except TemplateProblem as problem:
                result.problem = str(problem)
            except lock_services.Locked as held:
                context["lock"], context["locked"] = held.lock, str(held)
                status = 423
            except access.Forbidden as refusal:
                raise PermissionDenied(str(refusal)) from None
            else:
                again = (
                    f" (a redeploy of #{given['redeploy_of'].pk})" if given["redeploy_of"] else ""
                ) + (
                    f" (a promotion of #{given['promoted_from'].pk})"
                    if given["promoted_from"]
                    else ""
                )
                # "queued": the page's script takes it away once the deployment has ended.
                messages.success(
                    request, f"Deployment #{deployment.pk} is queued{again}.", extra_tags="queued"
                )
                return redirect("deployment", pk=deployment.pk)
    elif original is not None or promoted is not None:
        # The form says why it cannot be used as it is.
        context["original"], context["promoted"] = original, promoted
    context["live_elsewhere"] = other_releases_live(release, form)
    return render(request, "deployments/deploy.html", context, status=status)


COMPARE_LINKS = 20


def other_releases_live(release: Release, form: DeployForm) -> list[Deployment]:
    """What runs where the person deploys (the namespace chosen, or before one is, each they
    may deploy to) when it is another release of the service: the page links each to the
    comparison. Three queries: the namespaces, the newest successes, their rows."""
    if form.is_bound and form.is_valid():
        namespace_ids = [form.cleaned_data["namespace"].pk]
    else:
        namespace_ids = list(form.fields["namespace"].queryset.values_list("pk", flat=True))
    live = services.live_deployments(release.service_id, namespace_ids)
    return [
        deployment
        for deployment in live
        if deployment.release_id != release.pk and not deployment.release.is_deleted
    ][:COMPARE_LINKS]


def redeploy_original(request, release: Release, pk: int) -> Deployment:
    """The deployment to redeploy: one of this release the person sees (404 otherwise) and may
    deploy again (403 naming the role otherwise)."""
    original = visible_or_404(request, pk)
    if original.release_id != release.pk:
        raise Http404("That deployment is not of this release.")
    try:
        access.require_deploy(request.user, release.service, original.namespace)
    except access.Forbidden as refusal:
        raise PermissionDenied(str(refusal)) from None
    return original


def redeploy_data(original: Deployment) -> dict:
    """The deploy form as the original deployment was asked for, ready to preview."""
    return {
        "namespace": original.namespace_id,
        "attributes": attributes_text(original.requested_attributes),
        "timeout_seconds": original.timeout_seconds,
        "redeploy_of": original.pk,
    }


def promotion_original(request, release: Release, pk: int) -> tuple[Deployment, Namespace]:
    """The deployment to promote and its next stage: one of this release the person sees (404
    otherwise), that can be promoted (else 404 with the reason), to a stage where they may
    deploy (403 naming the role otherwise)."""
    original = visible_or_404(request, pk)
    if original.release_id != release.pk:
        raise Http404("That deployment is not of this release.")
    try:
        stage = services.next_stage_of(original)
        access.require_deploy(request.user, release.service, stage)
    except services.NotPromotable as refusal:
        raise Http404(str(refusal)) from None
    except access.Forbidden as refusal:
        raise PermissionDenied(str(refusal)) from None
    return original, stage


def promotion_data(original: Deployment, stage: Namespace) -> dict:
    """The deploy form for promoting the original deployment, ready to preview."""
    return {
        "namespace": stage.pk,
        "attributes": attributes_text(original.requested_attributes),
        "promoted_from": original.pk,
    }


def refuse_unless_deployable(request, release: Release, form: DeployForm) -> None:
    """403, with the sentence naming the role and where, when the person may deploy the
    release's service nowhere, or asks for a namespace where they may not."""
    chosen = form.data.get("namespace", "") if form.is_bound else ""
    if str(chosen).isdigit():
        namespace = (
            Namespace.objects.select_related("cluster")
            .filter(pk=chosen, cluster__deleted_at__isnull=True)
            .first()
        )
        if namespace is not None:
            try:
                access.require_deploy(request.user, release.service, namespace)
            except access.Forbidden as refusal:
                raise PermissionDenied(str(refusal)) from None
            return
    roles = access.roles_of(request.user)
    if not roles.superuser and not form.fields["namespace"].queryset.exists():
        team = release.service.team
        owners = f" as a member of its team {team}" if team else ""
        raise PermissionDenied(
            f"Deploying {release.service} needs the deployer role on a namespace{owners}, or "
            "the admin role there, and you hold neither on any namespace. Ask an admin of the "
            "namespace you want to deploy to to grant it."
        )


def visible_or_404(request, pk: int, deployments=None) -> Deployment:
    """The deployment if the person may see its namespace; 404 alike when it does not exist and
    when it is out of sight, as the API answers."""
    if deployments is None:
        deployments = Deployment.objects.select_related(*RELATED, "rolled_back_by")
    deployment = deployments.filter(pk=pk).first()
    if deployment is None or not access.may_view(request.user, deployment.namespace):
        raise Http404(f"There is no deployment #{pk} that you may see.")
    return deployment


@login_required
def deployment_detail(request, pk: int):
    deployment = visible_or_404(request, pk)
    log = list(deployment.log_entries.all()[:LOG_LIMIT])
    roles = access.roles_of(request.user)
    namespace = deployment.namespace
    place_alive = not (namespace.is_deleted or namespace.cluster.is_deleted)
    can_deploy = place_alive and roles.may_deploy(deployment.service, namespace)
    context = {
        "deployment": deployment,
        "log": log,
        "last_log_id": log[-1].pk if log else 0,
        "rollback_to": services.previous_success(deployment) if can_deploy else None,
        "can_deploy": can_deploy,
        "can_cancel": roles.has(Role.DEPLOYER, namespace),
        "promote_to": promotable_to(request, deployment),
    }
    return render(request, "deployments/detail.html", context)


@login_required
def deployment_drift(request, pk: int):
    """What the cluster holds now for each object of a deployment, against what it applied:
    the diff of the fields Kubernaut set (docs/live-state.md). Read afresh, within the live
    state's time budget."""
    deployment = visible_or_404(request, pk, Deployment.objects.select_related(*RELATED))
    state = None
    if deployment.status == Deployment.Status.SUCCEEDED:
        state = live_state.live_state([deployment], fresh=True)[deployment.pk]
    return render(request, "deployments/drift.html", {"deployment": deployment, "live": state})


def promotable_to(request, deployment: Deployment) -> Namespace | None:
    """The next stage the person may promote the deployment to, if any: the Promote button."""
    if deployment.status != Deployment.Status.SUCCEEDED or not deployment.namespace.next_stage_id:
        return None
    try:
        stage = services.next_stage_of(deployment)
    except services.NotPromotable:
        return None
    if deployment.release.is_deleted:
        return None
    return stage if access.roles_of(request.user).may_deploy(deployment.service, stage) else None


@login_required
def deployment_progress(request, pk: int):
    """The status part of the deployment page, fetched again while it runs."""
    deployment = visible_or_404(
        request,
        pk,
        Deployment.objects.select_related("namespace__cluster", "rolled_back_by").defer(
            *HEAVY_FIELDS, *(f"rolled_back_by__{field}" for field in HEAVY_FIELDS)
        ),
    )
    return render(request, "deployments/_progress.html", {"deployment": deployment})


def to_preview(request, original: Deployment, *, rollback: bool = False):
    """Redeploy and Roll back never queue at once: they lead to the deploy page's diff."""
    if original.namespace.is_deleted or original.namespace.cluster.is_deleted:
        messages.error(request, "The namespace or cluster of that deployment was deleted.")
        return redirect("deployment", pk=original.pk)
    try:
        access.require_deploy(request.user, original.service, original.namespace)
    except access.Forbidden as refusal:
        raise PermissionDenied(str(refusal)) from None
    query = {"redeploy_of": original.pk, **({"rollback": 1} if rollback else {})}
    url = reverse("deploy", args=[original.release_id])
    return redirect(f"{url}?{urlencode(query)}")


# Old forms (a page open since before the preview step) still post here: they are led to the
# preview too. The deployment page links to the preview directly.
@require_POST
@login_required
def redeploy(request, pk: int):
    return to_preview(request, visible_or_404(request, pk))


@require_POST
@login_required
def rollback(request, pk: int):
    deployment = visible_or_404(request, pk)
    target = services.previous_success(deployment)
    if target is None:
        messages.error(
            request,
            f"Nothing to roll back to: no other release of {deployment.release.service} "
            f"succeeded in {deployment.namespace} before this deployment.",
        )
        return redirect("deployment", pk=deployment.pk)
    return to_preview(request, target, rollback=True)


@require_POST
@login_required
def promote(request, pk: int):
    """Promote leads to the deploy page's diff for the next stage, as Redeploy does; it says why
    on the deployment's page when it cannot be promoted."""
    deployment = visible_or_404(request, pk)
    try:
        stage = services.next_stage_of(deployment)
    except services.NotPromotable as refusal:
        messages.error(request, str(refusal))
        return redirect("deployment", pk=pk)
    if deployment.release.is_deleted:
        messages.error(
            request, f"Release {deployment.release} was deleted: register it again to promote it."
        )
        return redirect("deployment", pk=pk)
    try:
        access.require_deploy(request.user, deployment.service, stage)
    except access.Forbidden as refusal:
        raise PermissionDenied(str(refusal)) from None
    url = reverse("deploy", args=[deployment.release_id])
    return redirect(f"{url}?{urlencode({'promoted_from': deployment.pk})}")


@require_POST
@login_required
def cancel(request, pk: int):
    deployment = visible_or_404(request, pk)
    try:
        access.require(
            request.user,
            Role.DEPLOYER,
            deployment.namespace,
            action=f"Cancelling deployment #{pk}",
        )
    except access.Forbidden as refusal:
        raise PermissionDenied(str(refusal)) from None
    try:
        ended = deployment.cancel(by=request.user)
    except AlreadyFinished as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Deployment #{pk} is cancelled."
            if ended
            else f"Cancelling deployment #{pk}: its worker stops following the rollout.",
        )
    return redirect("deployment", pk=pk)


@login_required
def deployment_list(request):
    form = DeploymentFilterForm(request.GET)
    page = None
    if form.is_valid():
        given = form.cleaned_data
        deployments = access.limit_to_visible(
            services.filter_deployments(given).select_related(*RELATED).defer(*HEAVY_FIELDS),
            request.user,
        )
        page = newest_first(deployments, given["before"])
    roles = access.roles_of(request.user)
    context = {
        "form": form,
        "page": page,
        "filters": filter_query(form),
        "no_role": not (roles.superuser or roles.by_cluster or roles.by_namespace),
        "suggestions": filter_suggestions(request.user),
    }
    return render(request, "deployments/list.html", context)


SUGGESTIONS = 200  # a <datalist> people scroll; typing narrows it, and any name still filters


def filter_suggestions(user) -> dict[str, list[str]]:
    """Names the filters offer as you type (<datalist>): the clusters and namespaces the user
    sees, services, and the people who may have deployed. Three bounded queries."""
    namespaces = list(
        access.visible_namespaces(user)
        .select_related("cluster")
        .only("name", "cluster__name")
        .order_by("name")[:SUGGESTIONS]
    )
    return {
        "service": list(
            Service.objects.order_by("name").values_list("name", flat=True)[:SUGGESTIONS]
        ),
        "cluster": sorted({namespace.cluster.name for namespace in namespaces}),
        "namespace": sorted({namespace.name for namespace in namespaces}),
        "created_by": list(
            User.objects.filter(is_active=True)
            .order_by("username")
            .values_list("username", flat=True)[:SUGGESTIONS]
        ),
    }
