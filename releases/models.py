"""Services and their releases, as CI registers them.

Rows are never removed: a deleted release keeps its row with `deleted_at` and `deleted_by`, hidden
by the default manager (`objects`) and visible through `all_objects`.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Service names end up in Kubernetes object names and labels, so they follow the DNS label rule.
SERVICE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# Versions are usually image tags, so they follow the Docker tag rule.
VERSION_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

service_name_validator = RegexValidator(
    SERVICE_NAME_PATTERN,
    "A service name is 1-63 lower-case letters, digits and '-', starting and ending with a "
    "letter or digit (like a Kubernetes name).",
)
version_validator = RegexValidator(
    VERSION_PATTERN,
    "A version is 1-128 letters, digits, '_', '.' and '-', not starting with '.' or '-' "
    "(like a Docker image tag).",
)


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)


class AliveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """The default manager: rows that are not soft-deleted."""

    def get_queryset(self):
        return super().get_queryset().alive()


AllManager = models.Manager.from_queryset(SoftDeleteQuerySet)


class Service(models.Model):
    """A deployable thing, created by its first release."""

    name = models.CharField(max_length=63, unique=True, validators=[service_name_validator])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Release(models.Model):
    """One version of a service: its manifest template and attributes.

    Lifecycle: alive -> deleted (`soft_delete`) -> alive again (`restore`, admin only), as long as
    no other alive release of the service has taken the version meanwhile.
    """

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="releases")
    version = models.CharField(max_length=128, validators=[version_validator])
    template = models.TextField(help_text="Jinja2 text rendering to Kubernetes YAML documents")
    attributes = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    objects = AliveManager()
    all_objects = AllManager()

    class Meta:
        # The admin and related lookups must see deleted rows too.
        base_manager_name = "all_objects"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "version"],
                condition=Q(deleted_at__isnull=True),
                name="release_unique_alive_version",
                violation_error_message="This service already has a release with this version.",
            ),
        ]
        # Lists are newest first (highest id first) with keyset pagination on id; these partial
        # indexes serve the unfiltered list and the usual filters without touching deleted rows.
        indexes = [
            models.Index(
                fields=["-id"], name="release_alive_id", condition=Q(deleted_at__isnull=True)
            ),
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

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def soft_delete(self, by) -> bool:
        """Mark the release deleted; False if it already was (another request got there first)."""
        now = timezone.now()
        updated = Release.all_objects.filter(pk=self.pk, deleted_at__isnull=True).update(
            deleted_at=now, deleted_by=by
        )
        if updated:
            self.deleted_at, self.deleted_by = now, by
        return bool(updated)

    def restore(self) -> None:
        """Bring a deleted release back. Raises IntegrityError if its version was taken again."""
        Release.all_objects.filter(pk=self.pk).update(deleted_at=None, deleted_by=None)
        self.deleted_at, self.deleted_by = None, None
