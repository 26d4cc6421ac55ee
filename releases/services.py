"""Registering and deleting releases."""

from django.apps import apps
from django.db import IntegrityError, connection, transaction

from audit import services as audit
from releases import templating
from releases.models import Release, Service
from releases.signals import release_created
from teams import access


class ReleaseConflict(Exception):
    """The service already has an alive release with this version."""


def require_token_covers(token, service: str) -> None:
    """Raise teams.access.Forbidden if the API token (None: not a token request) is limited to
    other services, or to reading."""
    if token is not None:
        refusal = token.scope_refusal(service=service, write=True)
        if refusal:
            raise access.Forbidden(refusal)


def known_namespace_attributes() -> set[str]:
    """Attribute names that some namespace provides at deploy time."""
    Namespace = apps.get_model("clusters", "Namespace")  # clusters is below releases; no import
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT jsonb_object_keys(attributes) FROM {Namespace._meta.db_table} "  # noqa: S608
            "WHERE deleted_at IS NULL AND jsonb_typeof(attributes) = 'object'"
        )
        return {name for (name,) in cursor.fetchall()}


def create_release(
    *,
    service: str,
    version: str,
    template: str,
    attributes: dict[str, str],
    comment: str,
    user,
    token=None,
) -> Release:
    """Check the template and record the release, creating the service on its first release.

    Raises teams.access.Forbidden when the API token (if any) does not cover the service,
    templating.TemplateProblem for a template that cannot work and ReleaseConflict for a
    version the service already has. Recorded in the audit trail ("release.created", and
    "service.created" for a new service) with the release. Once committed, `release_created`
    is sent (continuous delivery listens).
    """
    require_token_covers(token, service)
    templating.check(
        template,
        attributes,
        service=service,
        version=version,
        extra_known=known_namespace_attributes(),
    )
    try:
        with transaction.atomic():
            service_row, new_service = Service.objects.get_or_create(name=service)
            if new_service:
                audit.record("service.created", service_row, actor=user)
            release = Release.objects.create(
                service=service_row,
                version=version,
                template=template,
                attributes=attributes,
                comment=comment,
                created_by=user,
            )
            audit.record(
                "release.created",
                release,
                actor=user,
                changes={
                    "service": service,
                    "version": version,
                    "attributes": audit.redact(attributes),
                    "comment": comment,
                    "template": f"{len(template.splitlines())} lines",
                },
            )
            transaction.on_commit(
                lambda: release_created.send(sender=Release, release=release, user=user)
            )
            return release
    except IntegrityError as error:
        if "release_unique_alive_version" in str(error):
            raise ReleaseConflict(
                f"Service {service!r} already has a release {version!r}; versions are unique per "
                "service. Register a new version, or delete the old release first."
            ) from error
        raise
