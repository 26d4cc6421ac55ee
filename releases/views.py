"""Pages about services and their releases."""

from django import forms
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from deployments import live_state
from deployments import services as deployment_services
from deployments.models import Deployment
from kubernaut.views import filter_query, newest_first, require_permission
from releases import compare as comparing
from releases.models import Release, Service
from teams import access

HISTORY_SIZE = 20
COMPARE_CHOICES = 50  # the newest other releases offered to compare with on a release's page
MAX_DIFF_LINES_SHOWN = 5000  # a page of more is unreadable; the API gives the whole diff


class ReleaseFilterForm(forms.Form):
    """Filters of the releases list; unknown names simply match nothing."""

    service = forms.CharField(required=False, max_length=63)
    created_by = forms.CharField(required=False, max_length=150, label="By")
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


KEY_ATTRIBUTES = ("image", "replicas")


def key_attributes(release: Release, limit: int = 4) -> list[tuple[str, str]]:
    """The attributes worth a glance, secrets masked: image and replicas first, then the others
    by name."""
    shown = comparing.shown_attributes(release.attributes)
    names = sorted(shown, key=lambda name: (name not in KEY_ATTRIBUTES, name))
    return [(name, shown[name]) for name in names[:limit]]


@require_permission("releases.view_release")
def service_detail(request, name: str):
    service = get_object_or_404(Service, name=name)
    form = ReleaseFilterForm(request.GET)
    before = form.cleaned_data["before"] if form.is_valid() else None
    page = newest_first(
        Release.objects.filter(service=service).select_related("created_by").defer("template"),
        before,
    )
    roles = access.roles_of(request.user)
    can_see_deployments = bool(roles.superuser or roles.by_cluster or roles.by_namespace)
    namespaces = places(request.user) if can_see_deployments else []
    live, history = [], []
    if can_see_deployments:
        live = deployment_services.live_deployments(
            service.pk, [namespace.pk for namespace in namespaces]
        )
        # What the clusters run now, beside what was deployed (bounded in time: a cluster that
        # does not answer shows as unreachable).
        states = live_state.live_state(live)
        for deployment in live:
            deployment.live = states.get(deployment.pk)
        history = list(
            access.limit_to_visible(Deployment.objects.filter(service=service), request.user)
            .select_related("release", "service", "namespace__cluster", "created_by")
            .defer("manifest", "attributes", "requested_attributes", "applied_objects")
            .order_by("-id")[:HISTORY_SIZE]
        )
    live_by_release: dict[int, list] = {}
    for deployment in live:
        live_by_release.setdefault(deployment.release_id, []).append(deployment.namespace)
    releases = [
        (release, key_attributes(release), live_by_release.get(release.pk, []))
        for release in page.items
    ]
    context = {
        "service": service,
        "releases": releases,
        "page": page,
        "live": live,
        "history": history,
        "can_see_deployments": can_see_deployments,
        "can_deploy": service.pk in deployable_services(request.user, [service], namespaces),
    }
    return render(request, "releases/service.html", context)


def places(user) -> list:
    """The namespaces of live clusters the user sees (ids and clusters only)."""
    visible = access.visible_namespaces(user).filter(cluster__deleted_at__isnull=True)
    return list(visible.only("id", "cluster_id"))


def deployable_services(user, services, namespaces: list | None = None) -> set[int]:
    """The ids of the services the user may deploy to at least one of the namespaces they see
    (the deploy page then lists which): one query for the namespaces unless given, the rest
    from memory."""
    roles = access.roles_of(user)
    if roles.superuser:
        return {service.pk for service in services}
    if not (roles.by_cluster or roles.by_namespace):
        return set()
    if namespaces is None:
        namespaces = places(user)
    return {
        service.pk
        for service in services
        if any(roles.may_deploy(service, namespace) for namespace in namespaces)
    }


@require_permission("releases.view_release")
def release_list(request):
    form = ReleaseFilterForm(request.GET)
    releases = Release.objects.select_related("service", "created_by").defer("template")
    page = None
    if form.is_valid():
        given = form.cleaned_data
        if given["service"]:
            releases = releases.filter(service__name=given["service"])
        if given["created_by"]:
            releases = releases.filter(created_by__username=given["created_by"])
        page = newest_first(releases, given["before"])
    services = {release.service_id: release.service for release in page.items} if page else {}
    context = {
        "form": form,
        "page": page,
        "filters": filter_query(form),
        "deployable": deployable_services(request.user, services.values()),
        "rows": [(release, key_attributes(release)) for release in page.items] if page else [],
    }
    return render(request, "releases/list.html", context)


def alive_release_or_404(pk: int) -> Release:
    release = Release.objects.select_related("service__team", "created_by").filter(pk=pk).first()
    if release is None:
        raise Http404(f"There is no release #{pk}; it may have been deleted.")
    return release


@require_permission("releases.view_release")
def release_detail(request, pk: int):
    """One release: what it holds (template, attributes with secrets masked, comment), where it
    is live and its deployments, both only in the namespaces the person may see."""
    release = alive_release_or_404(pk)
    service = release.service
    roles = access.roles_of(request.user)
    can_see_deployments = bool(roles.superuser or roles.by_cluster or roles.by_namespace)
    namespaces = places(request.user) if can_see_deployments else []
    live, others_live, deployments = [], [], []
    if can_see_deployments:
        for deployment in deployment_services.live_deployments(
            service.pk, [namespace.pk for namespace in namespaces]
        ):
            if deployment.release_id == release.pk:
                live.append(deployment)
            elif not deployment.release.is_deleted:
                others_live.append(deployment)  # linked to the comparison with this release
        deployments = list(
            access.limit_to_visible(Deployment.objects.filter(release=release), request.user)
            .select_related("release", "service", "namespace__cluster", "created_by")
            .defer("manifest", "attributes", "requested_attributes", "applied_objects")
            .defer("release__template")
            .order_by("-id")[:HISTORY_SIZE]
        )
    context = {
        "release": release,
        "service": service,
        "attributes": sorted(comparing.shown_attributes(release.attributes).items()),
        "live": live,
        "others_live": others_live,
        "deployments": deployments,
        "can_see_deployments": can_see_deployments,
        "can_deploy": service.pk in deployable_services(request.user, [service], namespaces),
        "compare_choices": list(
            Release.objects.filter(service=service)
            .exclude(pk=release.pk)
            .only("id", "version")
            .order_by("-id")[:COMPARE_CHOICES]
        ),
    }
    return render(request, "releases/detail.html", context)


@require_permission("releases.view_release")
def release_compare(request, pk: int):
    """What deploying this release over another of its service changes: the template's diff,
    the attributes' changes and the releases registered in between."""
    release = alive_release_or_404(pk)
    try:
        against_pk = comparing.against_id(request.GET.get("against"))
    except ValueError as problem:
        return render(request, "400.html", {"message": str(problem)}, status=400)
    against = Release.objects.select_related("service", "created_by").filter(pk=against_pk).first()
    if against is None:
        raise Http404(comparing.unknown_against(against_pk))
    try:
        comparison = comparing.compare(release, against)
    except comparing.Incomparable as problem:
        return render(request, "400.html", {"message": str(problem)}, status=400)
    diff_lines = comparison.diff_lines
    context = {
        "release": release,
        "against": against,
        "comparison": comparison,
        "diff_lines": diff_lines[:MAX_DIFF_LINES_SHOWN],
        "diff_lines_hidden": max(0, len(diff_lines) - MAX_DIFF_LINES_SHOWN),
        "attributes_changed": any(comparison.attributes.values()),
    }
    return render(request, "releases/compare.html", context)
