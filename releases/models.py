"""Services and their releases, as CI registers them.

Rows are never removed: a deleted release keeps its row with `deleted_at` and `deleted_by`, hidden
by the default manager (`objects`) and visible through `all_objects` (kubernaut/softdelete.py).
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kubernaut.softdelete import SoftDeleteModel
from kubernaut.validators import DNS_LABEL_PATTERN, dns_label_validator

# Service names end up in Kubernetes object names and labels, so they follow the DNS label rule.
SERVICE_NAME_PATTERN = DNS_LABEL_PATTERN
# Versions are usually image tags, so they follow the Docker tag rule.
VERSION_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

service_name_validator = dns_label_validator("A service name")
version_validator = RegexValidator(
    VERSION_PATTERN,
    "A version is 1-128 letters, digits, '_', '.' and '-', not starting with '.' or '-' "
    "(like a Docker image tag).",
)


class Service(models.Model):
    """A deployable thing, created by its first release."""

    name = models.CharField(max_length=63, unique=True, validators=[service_name_validator])
    team = models.ForeignKey(
        "teams.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="services",
        help_text="The team that owns the service: its members may deploy it wherever the "
        "team holds the deployer role. Empty: anyone with deployer may",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Release(SoftDeleteModel):
    """One version of a service: its manifest template and attributes.

    Lifecycle: alive -> deleted (`soft_delete`) -> alive again (`restore`, admin only), as long as
    no other alive release of the service has taken the version meanwhile.
    """

    # db_index=False: the partial indexes below lead with these columns already.
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="releases", db_index=False
    )
    version = models.CharField(max_length=128, validators=[version_validator])
    template = models.TextField(help_text="Jinja2 text rendering to Kubernetes YAML documents")
    attributes = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=False)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "version"],
                condition=Q(deleted_at__isnull=True),
                name="release_unique_alive_version",
                violation_error_message="This service already has a release with this version.",
            ),
        ]
        # Lists are newest first (highest id first) with keyset pagination on id. The primary key
        # serves the unfiltered list; these partial indexes serve the usual filters without
        # touching deleted rows (tests/test_query_plans.py checks the planner agrees).
        indexes = [
            models.Index(
                fields=["service", "-id"],
                name="release_alive_service_id",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(
                fields=["created_by", "-id"],
                name="release_alive_creator_id",
                condition=Q(deleted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service.name} {self.version}"
