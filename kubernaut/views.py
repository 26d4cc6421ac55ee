"""The overview page and what all pages share: permission checks and keyset pages.

Releases are read and written under Django's model permissions (`require_permission`); what is
deployed where is shown by roles on namespaces (teams/access.py): a page lists only the
namespaces where the person holds a role, and offers only the buttons they may use.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from clusters.models import Namespace
from deployments import live_state
from deployments import services as deployment_services
from deployments.models import Deployment
from locks.models import Lock
from releases.models import Service
from teams import access

PAGE_SIZE = 50
OVERVIEW_SERVICES = 50  # a grid people read at a glance; search finds the rest
# Cells whose live state the overview reads (in reading order); the service page shows all.
OVERVIEW_LIVE_CELLS = 50


def require_permission(*codenames: str) -> Callable:
    """Log in first, then 403 with a sentence naming the first missing permission."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            for codename in codenames:
                if not request.user.has_perm(codename):
                    raise PermissionDenied(
                        f"Your account lacks the permission {codename}; ask an administrator "
                        "to grant it."
                    )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@dataclass
class Page:
    """One page of a newest-first list; `next_before` is the id to continue from, if any."""

    items: list
    next_before: int | None


def newest_first(queryset: QuerySet, before: int | None, size: int = PAGE_SIZE) -> Page:
    """Keyset pagination on id: page 1000 costs what page 1 does, however many rows there are."""
    if before:
        queryset = queryset.filter(id__lt=before)
    items = list(queryset.order_by("-id")[: size + 1])
    if len(items) > size:
        return Page(items[:size], items[size - 1].pk)
    return Page(items, None)


def filter_query(form: forms.Form) -> str:
    """The form's filters as a query string for the next-page link (without `before`)."""
    values = form.cleaned_data if form.is_valid() else {}
    return urlencode({k: v for k, v in values.items() if v and k != "before"})


@dataclass
class Cell:
    """One service in one namespace on the overview."""

    newest: Deployment | None
    running: Deployment | None  # the newest successful one
    lock: Lock | None = None  # a lock of this service in this namespace
    # The next stage, when what runs here is a newer release than what runs there (or nothing
    # runs there yet), and what runs there.
    ahead_of: Namespace | None = None
    next_running: Deployment | None = None
    live: "live_state.LiveState | None" = None  # what the cluster runs (the first cells only)

    @property
    def still_running(self) -> Deployment | None:
        """What runs there when the newest deployment is not (yet) a success."""
        if self.newest and self.running and self.running.pk != self.newest.pk:
            return self.running
        return None


def sight_of(user) -> str:
    """What decides which namespaces a person sees, as a cache key part: people who see the
    same namespaces share one rendering of the grid, whatever their roles there."""
    roles = access.roles_of(user)
    if roles.superuser:
        return "all"
    return f"c{sorted(roles.by_cluster)}n{sorted(roles.by_namespace)}"


@login_required
def home(request):
    query = request.GET.get("q", "").strip()[:63]
    # The grid is the same for everyone who sees the same namespaces, and many people keep the
    # page open (it refreshes itself every 10 s): one rendering serves them for a few seconds.
    key = (
        "overview-grid:" + hashlib.sha256(f"{query}\0{sight_of(request.user)}".encode()).hexdigest()
    )
    grid = cache.get(key)
    if grid is None:
        context = overview_grid(query, access.visible_namespaces(request.user))
        grid = render_to_string("_overview_grid.html", context, request=request)
        if settings.KUBERNAUT_OVERVIEW_CACHE_SECONDS:
            cache.set(key, grid, settings.KUBERNAUT_OVERVIEW_CACHE_SECONDS)
    return render(request, "home.html", {"query": query, "grid": mark_safe(grid)})  # noqa: S308


def overview_grid(query: str, visible: QuerySet) -> dict:
    """Services (matching the search) by the visible namespaces, with the newest deployment in
    each cell."""
    services = Service.objects.all()
    if query:
        services = services.filter(name__icontains=query)
    services = list(services[: OVERVIEW_SERVICES + 1])
    truncated = len(services) > OVERVIEW_SERVICES
    services = services[:OVERVIEW_SERVICES]
    namespaces = list(visible.filter(cluster__deleted_at__isnull=True).select_related("cluster"))
    # Nothing visible: say whether there is nothing at all or nothing granted to this person.
    no_role = not namespaces and Namespace.objects.filter(cluster__deleted_at__isnull=True).exists()
    service_ids, namespace_ids = [s.pk for s in services], [n.pk for n in namespaces]
    newest_ids = deployment_services.latest_deployment_ids(service_ids, namespace_ids)
    # Where the newest deployment did not succeed, the cell also says what still runs there.
    running_ids = deployment_services.latest_deployment_ids(
        service_ids, namespace_ids, succeeded_only=True
    )
    found = {
        d.pk: d
        for d in Deployment.objects.filter(pk__in=set(newest_ids) | set(running_ids))
        .select_related("release", "created_by")
        .only(
            "id",
            "status",
            "created_at",
            "namespace_id",
            "service_id",
            "release__id",
            "release__version",
            "created_by__username",
        )  # fmt: skip
    }
    newest = {(d.service_id, d.namespace_id): d for d in map(found.get, newest_ids)}
    running = {(d.service_id, d.namespace_id): d for d in map(found.get, running_ids)}
    # One query: the active locks of the namespaces shown. A namespace's own lock marks its
    # column; a service's lock marks its cell.
    namespace_locks, service_locks = {}, {}
    for lock in (
        Lock.objects.active()
        .filter(namespace_id__in=namespace_ids)
        .select_related("namespace__cluster", "service", "created_by")
    ):
        if lock.service_id is None:
            namespace_locks[lock.namespace_id] = lock
        else:
            service_locks[lock.service_id, lock.namespace_id] = lock
    for namespace in namespaces:
        namespace.lock = namespace_locks.get(namespace.pk)

    namespaces = in_stage_order(namespaces)
    by_id = {namespace.pk: namespace for namespace in namespaces}

    def cell(service: Service, namespace: Namespace) -> Cell | None:
        key = (service.pk, namespace.pk)
        if key not in newest and key not in service_locks:
            return None
        found = Cell(newest.get(key), running.get(key), service_locks.get(key))
        # Only against a next stage the person sees: the grid never tells what runs elsewhere.
        stage = by_id.get(namespace.next_stage_id)
        if found.running and stage is not None and stage.pk != namespace.pk:
            there = running.get((service.pk, stage.pk))
            if there is None or found.running.release.pk > there.release.pk:
                found.ahead_of, found.next_running = stage, there
        return found

    rows = [(service, [cell(service, ns) for ns in namespaces]) for service in services]
    live_cells = add_live_state(rows, by_id)
    for namespace in namespaces:
        namespace.next_shown = by_id.get(namespace.next_stage_id)
    return {
        "query": query,
        "namespaces": namespaces,
        "rows": rows,
        "truncated": truncated,
        "no_role": no_role,
        "live_cells_capped": live_cells > OVERVIEW_LIVE_CELLS,
        "live_cells_limit": OVERVIEW_LIVE_CELLS,
    }


def add_live_state(rows: list, namespaces: dict[int, Namespace]) -> int:
    """Read what the clusters run for the first OVERVIEW_LIVE_CELLS cells where something
    runs (within the live state's time budget, deployments/live_state.py) and put it on them.
    Returns how many cells had something running."""
    cells = [cell for _, cells in rows for cell in cells if cell and cell.running]
    shown = cells[:OVERVIEW_LIVE_CELLS]
    for cell in shown:
        cell.running.namespace = namespaces[cell.running.namespace_id]  # with its cluster
    states = live_state.live_state([cell.running for cell in shown])
    for cell in shown:
        cell.live = states.get(cell.running.pk)
    return len(cells)


def in_stage_order(namespaces: list[Namespace]) -> list[Namespace]:
    """The namespaces with each stage chain left to right (staging before production), chains
    where their first namespace stood, the namespaces in no chain after them in their order.

    Only stages among the given namespaces count. Where stages merge (two stagings before one
    production), each comes before its next stage: the farther from the last stage, the more to
    the left. Loops are refused when stages are set; should one exist, it still ends.
    """
    position = {namespace.pk: index for index, namespace in enumerate(namespaces)}
    following = {n.pk: n.next_stage_id for n in namespaces
                 if n.next_stage_id in position and n.next_stage_id != n.pk}  # fmt: skip
    in_chain = set(following) | set(following.values())

    def last_stage_and_steps(pk: int) -> tuple[int, int]:
        seen, steps = {pk}, 0
        while following.get(pk) is not None and following[pk] not in seen:
            pk = following[pk]
            seen.add(pk)
            steps += 1
        return pk, steps

    chains: dict[int, list[tuple[int, int]]] = {}  # last stage -> (-steps, position) per member
    for namespace in namespaces:
        if namespace.pk in in_chain:
            last, steps = last_stage_and_steps(namespace.pk)
            chains.setdefault(last, []).append((-steps, position[namespace.pk]))
    ordered = [
        namespaces[index]
        for members in sorted(chains.values(), key=lambda members: min(p for _, p in members))
        for _, index in sorted(members)
    ]
    return ordered + [namespace for namespace in namespaces if namespace.pk not in in_chain]


def csrf_failure(request, reason: str = ""):
    """A form posted with a stale or missing CSRF token: say what to do, in Kubernaut's page."""
    return render(request, "403_csrf.html", {"reason": reason}, status=403)
