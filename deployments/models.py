"""Clusters, their namespaces, and deployments of releases to them, with their logs."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

import policies
from kubernaut import crypto
from kubernaut.softdelete import SoftDeleteModel
from releases.models import Release, Service, service_name_validator

DEFAULT_TIMEOUT_SECONDS = 600
MAX_TIMEOUT_SECONDS = 1800  # below the task timeout (KUBERNAUT_TASK_TIMEOUT)


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


def timeout_validators() -> list:
    return [MinValueValidator(10), MaxValueValidator(MAX_TIMEOUT_SECONDS)]


class Cluster(SoftDeleteModel):
    """A Kubernetes cluster and how to reach it.

    The kubeconfig is stored encrypted (kubernaut/crypto.py) and is never shown back: the admin
    only lets an admin replace it.
    """

    name = models.CharField(max_length=63, validators=[service_name_validator])
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
    name = models.CharField(max_length=63, validators=[service_name_validator])
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

    @property
    def policy(self) -> policies.Policy:
        return policies.Policy(
            pod_security=self.pod_security,
            allow_cluster_scoped=self.allow_cluster_scoped,
            allowed_kinds=tuple(self.allowed_kinds),
            denied_kinds=tuple(self.denied_kinds),
            allowed_registries=tuple(self.allowed_registries),
        )


class Deployment(SoftDeleteModel):
    """A release shipped to a namespace of a cluster.

    Status transitions, each made by one atomic UPDATE:
        pending -> running                    (a worker claims it)
        running -> succeeded | failed | timed_out
        pending -> failed                     (it could not start, e.g. the release was deleted)
    A running deployment picked up again after its worker died stays running (it resumes).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        TIMED_OUT = "timed_out", "timed out"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT)

    # db_index=False where a partial index below leads with the column already.
    release = models.ForeignKey(
        Release, on_delete=models.PROTECT, related_name="deployments", db_index=False
    )
    # The release's service, kept here too: "what runs where" (the overview grid, the one-at-a-time
    # lock, the service filter) is asked per (service, namespace) and wants an index.
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="deployments", db_index=False
    )
    namespace = models.ForeignKey(
        Namespace, on_delete=models.PROTECT, related_name="deployments", db_index=False
    )
    requested_attributes = models.JSONField(
        default=dict, blank=True, help_text="Attributes given with the request (kept for redeploys)"
    )
    attributes = models.JSONField(default=dict, help_text="All variables the template saw")
    manifest = models.TextField(help_text="The rendered template that is applied")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=1000, blank=True)
    timeout_seconds = models.PositiveIntegerField(validators=timeout_validators())
    applied_objects = models.JSONField(default=list, blank=True)
    workloads = models.JSONField(
        default=list,
        blank=True,
        help_text="Rollout progress per workload: kind, name, ready, desired",
    )
    redeploy_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-id"]
        # As for releases: the primary key serves the unfiltered list, these the filters.
        indexes = [
            models.Index(
                fields=["namespace", "-id"],
                name="deployment_alive_namespace_id",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["service", "-id"],
                name="deployment_alive_service_id",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["service", "namespace", "-id"],
                name="deployment_alive_target_id",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["release", "-id"],
                name="deployment_alive_release_id",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["status"],
                name="deployment_unfinished",
                condition=Q(status__in=["pending", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.release} to {self.namespace}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    def log(self, message: str, level: str = "info") -> "LogEntry":
        return LogEntry.objects.create(deployment=self, level=level, message=message)


class LogEntry(models.Model):
    """One line of a deployment's log. Ids only grow, so `after=<id>` fetches what is new."""

    class Level(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        ERROR = "error"

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="log_entries")
    time = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    message = models.TextField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["deployment", "id"], name="logentry_deployment_id")]
        verbose_name_plural = "log entries"

    def __str__(self) -> str:
        return f"{self.time:%H:%M:%S} {self.level} {self.message[:80]}"
