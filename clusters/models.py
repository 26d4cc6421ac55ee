"""Where releases are deployed: Kubernetes clusters and their namespaces.

A namespace carries the attributes its templates get and the deploy policy every manifest sent to
it must meet (policies/, docs/policies.md). This app imports no other Kubernaut app but the
model-less policies library.
"""

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

import policies
from kubernaut import crypto
from kubernaut.softdelete import SoftDeleteModel
from kubernaut.validators import dns_label_validator

DEFAULT_TIMEOUT_SECONDS = 600
MAX_TIMEOUT_SECONDS = 1800  # below the task timeout (KUBERNAUT_TASK_TIMEOUT)
MAX_REQUIRED_APPROVALS = 10
name_validator = dns_label_validator("A name")


# Not Django's URLValidator: it refuses single-label hosts such as http://registry:5000, which
# is how a registry inside the cluster is usually named.
registry_url_validator = RegexValidator(
    r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
    "Give the registry's address as http://host[:port] or https://host[:port].",
)


kind_pattern_validator = RegexValidator(policies.KIND_PATTERN, policies.KIND_PATTERN_HELP)
registry_pattern_validator = RegexValidator(
    policies.REGISTRY_PATTERN, policies.REGISTRY_PATTERN_HELP
)


# pg_advisory_xact_lock's one-number key space; the runner's locks use the two-number one.
STAGE_CHANGES_LOCK = 140_001


def lock_stage_changes() -> None:
    """Make changes of next stages wait for each other until the transaction ends: two changes
    that each look fine alone (a -> b, b -> a) could otherwise make a loop together."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [STAGE_CHANGES_LOCK])


def timeout_validators() -> list:
    return [MinValueValidator(10), MaxValueValidator(MAX_TIMEOUT_SECONDS)]


class Cluster(SoftDeleteModel):
    """A Kubernetes cluster and how to reach it.

    The kubeconfig is stored encrypted (kubernaut/crypto.py) and is never shown back: the admin
    only lets an admin replace it.
    """

    name = models.CharField(max_length=63, validators=[name_validator])
    kubeconfig_encrypted = models.TextField(editable=False)
    context = models.CharField(
        max_length=253,
        blank=True,
        help_text="The kubeconfig context to use; empty for its current one",
    )
    timeout_seconds = models.PositiveIntegerField(
        default=DEFAULT_TIMEOUT_SECONDS,
        validators=timeout_validators(),
        help_text="How long a deployment may take before it is marked timed out",
    )
    registry_url = models.CharField(
        max_length=200,
        blank=True,
        validators=[registry_url_validator],
        help_text="The Docker registry this cluster pulls from (e.g. https://registry.example); "
        "images are checked there before a deployment is applied",
    )
    registry_username = models.CharField(max_length=200, blank=True)
    registry_password_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(deleted_at__isnull=True),
                name="cluster_unique_alive_name",
                violation_error_message="A cluster with this name exists already.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def kubeconfig(self) -> str:
        return crypto.decrypt(self.kubeconfig_encrypted)

    def set_kubeconfig(self, text: str) -> None:
        self.kubeconfig_encrypted = crypto.encrypt(text)

    @property
    def registry_password(self) -> str:
        if not self.registry_password_encrypted:
            return ""
        return crypto.decrypt(self.registry_password_encrypted)

    def set_registry_password(self, password: str) -> None:
        self.registry_password_encrypted = crypto.encrypt(password) if password else ""


class Namespace(SoftDeleteModel):
    """A namespace of a cluster that releases are deployed to, with attributes for its templates
    and the deploy policy every manifest sent to it must meet (policies/, docs/policies.md).

    The policy's defaults are the database's too, so rows inserted without the ORM (bulk seeding,
    other tools) get the safe default rather than an error.
    """

    class PodSecurity(models.TextChoices):
        PRIVILEGED = policies.PRIVILEGED, "privileged (no restrictions)"
        BASELINE = policies.BASELINE, "baseline (no known privilege escalations)"
        RESTRICTED = policies.RESTRICTED, "restricted (hardened)"

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="namespaces")
    name = models.CharField(max_length=63, validators=[name_validator])
    attributes = models.JSONField(default=dict, blank=True)
    pod_security = models.CharField(
        max_length=16,
        choices=PodSecurity.choices,
        default=PodSecurity.BASELINE,
        db_default=PodSecurity.BASELINE,
        help_text="The Pod Security Standards level pods must meet, as Kubernetes' "
        "pod-security.kubernetes.io/enforce label would enforce it",
    )
    allow_cluster_scoped = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Let deployments here create cluster-scoped objects (Namespaces, ClusterRoles, "
        "CRDs, webhooks ...), which change the whole cluster",
    )
    allowed_kinds = ArrayField(
        models.CharField(max_length=253, validators=[kind_pattern_validator]),
        default=list,
        db_default=[],
        blank=True,
        help_text="Only these kinds may be deployed here, one per line: Kind or Kind.group, * "
        "for any part (Deployment.apps, Service, *.cert-manager.io). Empty: any kind",
    )
    denied_kinds = ArrayField(
        models.CharField(max_length=253, validators=[kind_pattern_validator]),
        default=list,
        db_default=[],
        blank=True,
        help_text="These kinds may not be deployed here, one per line, named as above; they "
        "win over the allowed kinds",
    )
    allowed_registries = ArrayField(
        models.CharField(max_length=253, validators=[registry_pattern_validator]),
        default=list,
        db_default=[],
        blank=True,
        help_text="Images must come from these registries, one per line: host[:port][/path] "
        "(registry.example.com, ghcr.io/acme; docker.io for Docker Hub). Empty: any registry",
    )
    prune = models.BooleanField(
        default=True,
        db_default=True,
        help_text="After a successful deployment, delete the objects Kubernaut applied for that "
        "service here that its manifest no longer has (never Namespaces, CRDs or volume "
        "claims). Turn off to leave them for someone to remove by hand",
    )
    rollback_on_failure = models.BooleanField(
        default=False,
        db_default=False,
        help_text="When a deployment here fails or times out, deploy again at once the last "
        "release of that service that succeeded here, with the attributes it was deployed with. "
        "A failed rollback does not start another",
    )
    # Stages (docs/stages.md): where a release goes after this namespace, whether it needs
    # approvals before it ships here, and whether it counts for the DORA metrics.
    next_stage = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="previous_stages",
        help_text="The namespace a release goes to after this one (Promote), possibly on "
        "another cluster: staging's next stage is production",
    )
    required_approvals = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        validators=[MaxValueValidator(MAX_REQUIRED_APPROVALS)],
        help_text="How many people holding deployer here, other than the requester, must "
        "approve a deployment before it is queued. 0: none",
    )
    production = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Deployments here count for the DORA metrics (frequency, lead time, change "
        "failure rate, time to restore)",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["cluster__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"],
                condition=Q(deleted_at__isnull=True),
                name="namespace_unique_alive_name",
                violation_error_message="This cluster has a namespace with this name already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"

    def clean(self) -> None:
        super().clean()
        # The admin validates and saves in one transaction: the lock holds until its save.
        if self.next_stage_id is not None and connection.in_atomic_block:
            lock_stage_changes()
        problem = self.next_stage_problem(self.next_stage_id)
        if problem:
            raise ValidationError({"next_stage": problem})

    def next_stage_problem(self, next_stage_id: int | None) -> str | None:
        """Why `next_stage_id` cannot be this namespace's next stage, or None if it can: it must
        be a namespace that is not deleted (on a cluster that is not), not this one, and must not
        lead back here (stages form chains, never loops)."""
        if next_stage_id is None:
            return None
        target = Namespace.all_objects.select_related("cluster").filter(pk=next_stage_id).first()
        if target is None:
            return f"There is no namespace {next_stage_id}: give the id of an existing namespace."
        if target.is_deleted or target.cluster.is_deleted:
            return f"{target} was deleted: the next stage must be a namespace in use."
        if self.pk is not None and target.pk == self.pk:
            return f"{target} cannot be its own next stage: name the namespace that comes after it."
        # Walk the chain from the target: it must end without coming back here.
        seen, step = {target.pk}, target.next_stage_id
        while step is not None and self.pk is not None:
            if step == self.pk:
                return (
                    f"{target} comes before {self} already (its stages lead back here): "
                    "choosing it would make a loop. Stages form a chain, like staging -> "
                    "production."
                )
            if step in seen:
                break  # an older loop further on, not through here: not this change's doing
            seen.add(step)
            step = (
                Namespace.all_objects.filter(pk=step)
                .values_list("next_stage_id", flat=True)
                .first()
            )
        return None

    @property
    def policy(self) -> policies.Policy:
        return policies.Policy(
            pod_security=self.pod_security,
            allow_cluster_scoped=self.allow_cluster_scoped,
            allowed_kinds=tuple(self.allowed_kinds),
            denied_kinds=tuple(self.denied_kinds),
            allowed_registries=tuple(self.allowed_registries),
        )
