"""Pages to deploy a release, follow a deployment, cancel, redeploy or roll it back, list them."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from deployments import preview, services
from deployments.forms import DeployForm, DeploymentFilterForm
from deployments.models import AlreadyFinished, Deployment
from kubernaut.views import filter_query, newest_first, require_permission
from locks import services as lock_services
from locks.models import Lock
from releases.models import Release
from releases.templating import TemplateProblem
from teams import access
from teams.models import Role

RELATED = ("release", "service", "namespace__cluster", "created_by")
HEAVY_FIELDS = ("manifest", "attributes", "requested_attributes", "applied_objects")
LOG_LIMIT = 5000


@require_permission("releases.view_release", "deployments.add_deployment")
def deploy(request, release_id: int):
    """GET: the form. POST `preview`: render + dry run + diff. POST `deploy`: the same checks,
    then queue; any problem is shown on the page and nothing is queued.

    The locks that hold this service are listed up front; once a namespace is chosen, its lock
    is shown in place of the deploy button (with an "override with a reason" field for admins
    there). A deploy refused by a lock answers the page with the lock's sentence and status
    423: the form stays filled in, and the status still says what happened.
    """
    release = get_object_or_404(
        Release.objects.select_related("service", "created_by"), pk=release_id
    )
    initial = {"namespace": request.GET.get("namespace")} if request.GET.get("namespace") else {}
    form = DeployForm(request.POST or None, initial=initial)
    context = {
        "release": release,
        "form": form,
        "result": None,
        "locks": list(
            Lock.objects.active()
            .filter(Q(service__isnull=True) | Q(service_id=release.service_id))
            .filter(namespace__cluster__deleted_at__isnull=True)
            .select_related(*lock_services.RELATED)
        ),
    }
    status = 200
    if request.method == "POST" and form.is_valid():
        given = form.cleaned_data
        namespace = given["namespace"]
        context["lock"] = next(
            (lock for lock in context["locks"] if lock.namespace_id == namespace.pk), None
        )
        context["may_override"] = access.roles_of(request.user).has(Role.ADMIN, namespace)
        # Checked again on confirm: the cluster may have changed (or gone) since the preview.
        result = preview.preview(release=release, namespace=namespace, extra=given["attributes"])
        context["result"] = result
        if result.ok and request.POST.get("action") == "deploy":
            try:
                deployment = services.create_deployment(
                    release=release,
                    namespace=namespace,
                    attributes=given["attributes"],
                    user=request.user,
                    timeout_seconds=given["timeout_seconds"],
                    override_lock=given["override_lock"],
                )
            except TemplateProblem as problem:
                result.problem = str(problem)
            except lock_services.Locked as held:
                context["lock"], context["locked"] = held.lock, str(held)
                status = 423
            except access.Forbidden as refusal:
                raise PermissionDenied(str(refusal)) from None
            else:
                messages.success(request, f"Deployment #{deployment.pk} is queued.")
                return redirect("deployment", pk=deployment.pk)
    return render(request, "deployments/deploy.html", context, status=status)


def deployment_or_404(pk: int) -> Deployment:
    return get_object_or_404(Deployment.objects.select_related(*RELATED, "rolled_back_by"), pk=pk)


@require_permission("deployments.view_deployment")
def deployment_detail(request, pk: int):
    deployment = deployment_or_404(pk)
    log = list(deployment.log_entries.all()[:LOG_LIMIT])
    context = {
        "deployment": deployment,
        "log": log,
        "last_log_id": log[-1].pk if log else 0,
        "rollback_to": services.previous_success(deployment),
        "can_deploy": request.user.has_perm("deployments.add_deployment"),
    }
    return render(request, "deployments/detail.html", context)


@require_permission("deployments.view_deployment")
def deployment_progress(request, pk: int):
    """The status part of the deployment page, fetched again while it runs."""
    deployment = get_object_or_404(
        Deployment.objects.select_related("namespace__cluster", "rolled_back_by").defer(
            *HEAVY_FIELDS, *(f"rolled_back_by__{field}" for field in HEAVY_FIELDS)
        ),
        pk=pk,
    )
    return render(request, "deployments/_progress.html", {"deployment": deployment})


def start_again(request, original: Deployment, verb: str):
    if original.namespace.is_deleted or original.namespace.cluster.is_deleted:
        messages.error(request, "The namespace or cluster of that deployment was deleted.")
        return redirect("deployment", pk=original.pk)
    try:
        deployment = services.redeploy(original, user=request.user)
    except access.Forbidden as refusal:
        raise PermissionDenied(str(refusal)) from None
    except lock_services.Locked as held:
        messages.error(request, f"Could not {verb}: {held}")
        return redirect("deployment", pk=original.pk)
    except TemplateProblem as problem:
        messages.error(request, f"Could not {verb}: {problem}")
        return redirect("deployment", pk=original.pk)
    messages.success(request, f"Deployment #{deployment.pk} is queued ({verb} of #{original.pk}).")
    return redirect("deployment", pk=deployment.pk)


@require_POST
@require_permission("deployments.add_deployment")
def redeploy(request, pk: int):
    return start_again(request, deployment_or_404(pk), "redeploy")


@require_POST
@require_permission("deployments.add_deployment")
def rollback(request, pk: int):
    deployment = deployment_or_404(pk)
    target = services.previous_success(deployment)
    if target is None:
        messages.error(
            request,
            f"Nothing to roll back to: no other release of {deployment.release.service} "
            f"succeeded in {deployment.namespace} before this deployment.",
        )
        return redirect("deployment", pk=deployment.pk)
    return start_again(request, target, "roll back")


@require_POST
@require_permission("deployments.add_deployment")
def cancel(request, pk: int):
    deployment = deployment_or_404(pk)
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


@require_permission("deployments.view_deployment")
def deployment_list(request):
    form = DeploymentFilterForm(request.GET)
    page = None
    if form.is_valid():
        given = form.cleaned_data
        deployments = (
            services.filter_deployments(given).select_related(*RELATED).defer(*HEAVY_FIELDS)
        )
        page = newest_first(deployments, given["before"])
    context = {"form": form, "page": page, "filters": filter_query(form)}
    return render(request, "deployments/list.html", context)
