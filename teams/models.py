"""Teams of users, and roles granted on namespaces or whole clusters.

The rules that read these rows live in teams/access.py; everything that asks "may this person do
this here?" asks it there.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clusters.models import Cluster, Namespace
from kubernaut.softdelete import SoftDeleteModel
from kubernaut.validators import dns_label_validator


class Role(models.TextChoices):
    """Each role includes the ones before it."""

    VIEWER = "viewer", "viewer (sees deployments and live state)"
    DEPLOYER = "deployer", "deployer (deploys their team's services, cancels, locks)"
    ADMIN = "admin", "admin (deploys any service, overrides locks, changes the namespace)"

    @property
    def rank(self) -> int:
        return RANKS[self]


RANKS = {Role.VIEWER: 1, Role.DEPLOYER: 2, Role.ADMIN: 3}


class Team(SoftDeleteModel):
    """People who own services together. A user may be in several teams."""

    name = models.CharField(max_length=63, validators=[dns_label_validator("A team name")])
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    # Single sign-on maps an identity-provider group (a claim value) to the team.
    sso_group = models.CharField(
        max_length=200,
        blank=True,
        help_text="Members of this group at the identity provider join the team when they sign "
        "in with single sign-on (docs/teams.md)",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(deleted_at__isnull=True),
                name="team_unique_alive_name",
                violation_error_message="There is a team with this name already.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Grant(SoftDeleteModel):
    """A role for a user or a team on one namespace, or on every namespace of a cluster
    (namespace empty). Revoking a grant soft-deletes it."""

    role = models.CharField(max_length=16, choices=Role.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="grants",
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="grants"
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="grants")
    namespace = models.ForeignKey(
        Namespace,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="grants",
        help_text="Empty: every namespace of the cluster, present and future",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["cluster__name", "namespace__name", "role"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True, team__isnull=False)
                | Q(user__isnull=False, team__isnull=True),
                name="grant_to_user_or_team",
                violation_error_message="Grant the role to a user or to a team, not both.",
            ),
        ]

    def __str__(self) -> str:
        who = f"team {self.team}" if self.team_id else str(self.user)
        where = str(self.namespace) if self.namespace_id else f"{self.cluster} (every namespace)"
        return f"{who}: {self.role} on {where}"

    def clean(self) -> None:
        if bool(self.user_id) == bool(self.team_id):
            raise ValidationError("Grant the role to a user or to a team, not both.")
        if self.namespace_id and self.cluster_id and self.namespace.cluster_id != self.cluster_id:
            raise ValidationError({"namespace": "This namespace is in another cluster."})
