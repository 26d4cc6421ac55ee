"""Who may do what where: the one place that answers it, for the UI, the API, the CLI and the
workers alike.

The model (docs/teams.md):
- Roles `viewer` < `deployer` < `admin` are granted to a user or a team on a namespace, or on
  every namespace of a cluster. A person's role on a namespace is the highest of their own grants
  and their teams' grants there.
- `viewer` reads deployments, logs and live state there.
- `deployer` also deploys there the services their team owns (and services nobody owns), cancels
  deployments and locks the namespace.
- `admin` deploys any service there, overrides locks and changes the namespace's settings.
- Superusers have `admin` everywhere.
- An API token never grants more than its user has: it may be limited further to some
  namespaces, some services, or to reading (accounts.models.ApiToken).
"""

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from clusters.models import Cluster, Namespace
from teams.models import RANKS, Grant, Role, Team


class Forbidden(Exception):
    """The person (or their token) may not do this; the message says which role would allow it,
    where, and whom to ask."""


@dataclass
class Roles:
    """One user's roles, read once (two queries) and then answered from memory."""

    superuser: bool = False
    by_cluster: dict[int, int] = field(default_factory=dict)  # cluster id -> best rank
    by_namespace: dict[int, int] = field(default_factory=dict)  # namespace id -> best rank
    team_ids: frozenset[int] = frozenset()
    team_names: dict[int, str] = field(default_factory=dict)

    def rank_on(self, namespace: Namespace) -> int:
        if self.superuser:
            return RANKS[Role.ADMIN]
        return max(
            self.by_cluster.get(namespace.cluster_id, 0),
            self.by_namespace.get(namespace.pk, 0),
        )

    def role_on(self, namespace: Namespace) -> Role | None:
        rank = self.rank_on(namespace)
        return next((role for role, r in RANKS.items() if r == rank), None)

    def has(self, role: Role, namespace: Namespace) -> bool:
        return self.rank_on(namespace) >= RANKS[role]

    def may_deploy(self, service, namespace: Namespace) -> bool:
        rank = self.rank_on(namespace)
        if rank >= RANKS[Role.ADMIN]:
            return True
        team_id = getattr(service, "team_id", None)
        return rank >= RANKS[Role.DEPLOYER] and (team_id is None or team_id in self.team_ids)


CACHE_ATTRIBUTE = "_kubernaut_roles"


def roles_of(user) -> Roles:
    """The user's roles, cached on the user object (which lives as long as one request or job)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Roles()
    cached = getattr(user, CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    if user.is_superuser:
        roles = Roles(superuser=True)
    else:
        teams = dict(Team.objects.filter(members=user).values_list("id", "name"))
        roles = Roles(team_ids=frozenset(teams), team_names=teams)
        grants = Grant.objects.filter(
            Q(user=user) | Q(team_id__in=list(teams)),
            cluster__deleted_at__isnull=True,
        ).values_list("cluster_id", "namespace_id", "role")
        for cluster_id, namespace_id, role in grants:
            rank = RANKS[Role(role)]
            if namespace_id is None:
                roles.by_cluster[cluster_id] = max(rank, roles.by_cluster.get(cluster_id, 0))
            else:
                roles.by_namespace[namespace_id] = max(
                    rank, roles.by_namespace.get(namespace_id, 0)
                )
    setattr(user, CACHE_ATTRIBUTE, roles)
    return roles


def forget_roles(user) -> None:
    """Drop the cached roles (after a grant or a team membership changed mid-request)."""
    if hasattr(user, CACHE_ATTRIBUTE):
        delattr(user, CACHE_ATTRIBUTE)


def _you_have(roles: Roles, namespace: Namespace) -> str:
    role = roles.role_on(namespace)
    return f"you have {role.value}" if role else "you have no role there"


def require(user, role: Role, namespace: Namespace, *, token=None, action: str = "") -> None:
    """Raise Forbidden unless the user (and their token, if any) holds `role` on the namespace."""
    roles = roles_of(user)
    doing = action or f"This needs the {role.value} role"
    if not roles.has(role, namespace):
        raise Forbidden(
            f"{doing}: it needs the {role.value} role on {namespace} (or on the whole cluster "
            f"{namespace.cluster.name}), and {_you_have(roles, namespace)}. Ask an admin of "
            f"{namespace} to grant it."
        )
    if token is not None:
        refusal = token.scope_refusal(namespace=namespace, write=role != Role.VIEWER)
        if refusal:
            raise Forbidden(refusal)


def require_deploy(user, service, namespace: Namespace, *, token=None) -> None:
    """Raise Forbidden unless the user may deploy the service to the namespace (and the token,
    if any, is allowed that namespace and service)."""
    roles = roles_of(user)
    if not roles.may_deploy(service, namespace):
        team = getattr(service, "team", None)
        owners = f" as a member of its team {team}" if team is not None else ""
        raise Forbidden(
            f"Deploying {service} to {namespace} needs the deployer role on {namespace}{owners}, "
            f"or the admin role there, and {_you_have(roles, namespace)}. Ask an admin of "
            f"{namespace} to grant it."
        )
    if token is not None:
        refusal = token.scope_refusal(namespace=namespace, service=service.name, write=True)
        if refusal:
            raise Forbidden(refusal)


def may_view(user, namespace: Namespace, *, token=None) -> bool:
    """Whether the user (through the token, if any) holds at least `viewer` on the namespace."""
    if not roles_of(user).has(Role.VIEWER, namespace):
        return False
    return token is None or not token.scope_refusal(namespace=namespace)


def visible_namespaces(user, *, token=None, include_deleted: bool = False) -> QuerySet:
    """The namespaces where the user (through the token, if any) holds at least `viewer`.

    `include_deleted` adds soft-deleted namespaces, for filtering their deployments (history
    stays readable to whoever held a role there).
    """
    roles = roles_of(user)
    namespaces = (Namespace.all_objects if include_deleted else Namespace.objects).all()
    if not roles.superuser:
        namespaces = namespaces.filter(
            Q(cluster_id__in=list(roles.by_cluster)) | Q(pk__in=list(roles.by_namespace))
        )
    if token is not None:
        namespaces = token.limit_namespaces(namespaces)
    return namespaces


def visible_clusters(user, *, token=None) -> QuerySet:
    """The clusters where the user may see at least one namespace, or holds a role on the whole
    cluster (unless the token is limited to some namespaces)."""
    roles = roles_of(user)
    clusters = Cluster.objects.all()
    if roles.superuser and token is None:
        return clusters
    seen = Q(pk__in=visible_namespaces(user, token=token).values("cluster_id"))
    if token is None:
        seen |= Q(pk__in=list(roles.by_cluster))
    return clusters.filter(seen)


def limit_to_visible(deployments: QuerySet, user, *, token=None) -> QuerySet:
    """The deployments of the queryset in namespaces the user (and token) may see: one
    `namespace_id IN (subquery)`, none for a superuser without a token."""
    if roles_of(user).superuser and token is None:
        return deployments
    visible = visible_namespaces(user, token=token, include_deleted=True)
    return deployments.filter(namespace_id__in=visible.values("pk"))
