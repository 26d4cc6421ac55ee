"""API tokens for CI and scripts.

Only a SHA-256 hash of each key is stored: a leaked database does not leak working credentials.
The key is shown once, when it is created.

A token acts as its user and never grants more than the user has (teams/access.py checks the
user's roles first, then the token's scope). Its scope narrows it further: to some namespaces,
some services, to reading only, until a date. docs/tokens.md explains the model.
"""

import functools
import hashlib
import secrets
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import connections, models
from django.db.models import Q
from django.utils import timezone

from kubernaut.validators import dns_label_validator

KEY_PREFIX = "kn_"

service_name_validator = dns_label_validator("A service name")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def day(moment: datetime) -> str:
    """A date as the refusals and the summary write it: 2027-03-01 14:00 UTC."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@functools.cache
def _for_key_sql(alias: str) -> tuple[str, list[str], list[str]]:
    """SELECT every column of a token and of its user, by the key's hash; with the field names
    in the order of the columns."""
    token_meta = ApiToken._meta
    user_meta = token_meta.get_field("user").related_model._meta
    quote = connections[alias].ops.quote_name
    token_columns = [f"t.{quote(field.column)}" for field in token_meta.concrete_fields]
    user_columns = [f"u.{quote(field.column)}" for field in user_meta.concrete_fields]
    # Only names from the models, quoted, go into the text; the key's hash is a parameter.
    sql = (
        f"SELECT {', '.join(token_columns + user_columns)} "  # noqa: S608
        f"FROM {quote(token_meta.db_table)} t JOIN {quote(user_meta.db_table)} u "
        f"ON u.{quote(user_meta.pk.column)} = t.{quote(token_meta.get_field('user').column)} "
        f"WHERE t.{quote(token_meta.get_field('key_hash').column)} = %s"
    )
    return (
        sql,
        [field.attname for field in token_meta.concrete_fields],
        [field.attname for field in user_meta.concrete_fields],
    )


class ApiTokenQuerySet(models.QuerySet):
    def for_key(self, key: str) -> "ApiToken | None":
        """The token with this key, with its user, whatever its state (revoked, expired): the
        caller says why it cannot be used (ApiToken.unusable_because).

        Every API request asks this, so the SQL is written once per process (`_for_key_sql`):
        the ORM spent 2 ms building `select_related("user").filter(key_hash=...)` each time,
        against 0.4 ms for the query itself. The row is still read afresh on every request, so
        a revocation, an expiry or a deactivated account takes effect at once."""
        sql, token_fields, user_fields = _for_key_sql(self.db)
        with connections[self.db].cursor() as cursor:
            cursor.execute(sql, [hash_key(key)])
            row = cursor.fetchone()
        if row is None:
            return None
        token = self.model.from_db(self.db, token_fields, row[: len(token_fields)])
        user_model = self.model._meta.get_field("user").related_model
        token.user = user_model.from_db(self.db, user_fields, row[len(token_fields) :])
        return token

    def active(self) -> "ApiTokenQuerySet":
        """Neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )


class ApiToken(models.Model):
    """A key that authenticates API requests as its user. Revoked tokens are kept for the record.

    Transitions: active -> revoked (revoke(), for good); active -> expired (time passes).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tokens"
    )
    name = models.CharField(
        max_length=100, blank=True, help_text="What the token is for, e.g. jenkins"
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the key let a person tell tokens apart without exposing them.
    key_prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires")
    # A scope narrows what the user may do with this token; it never widens it (teams/access.py).
    namespaces = models.ManyToManyField(
        "clusters.Namespace",
        blank=True,
        related_name="+",
        help_text="Only these namespaces. None selected: every namespace the user may use",
    )
    services = ArrayField(
        models.CharField(max_length=63, validators=[service_name_validator]),
        default=list,
        blank=True,
        help_text="Only these services. Empty: every service",
    )
    read_only = models.BooleanField(default=False, help_text="Only reads, never changes")

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.user})"

    @property
    def label(self) -> str:
        """How refusals name the token: its name, or its prefix when it has none."""
        return self.name or f"{self.key_prefix}…"

    def set_new_key(self) -> str:
        """Give the (unsaved) token a fresh key; returns the plain key, which is never stored."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.key_hash = hash_key(key)
        self.key_prefix = key[: len(KEY_PREFIX) + 6]
        return key

    @classmethod
    def issue(
        cls,
        user,
        name: str = "",
        *,
        namespaces=(),
        services=(),
        read_only: bool = False,
        expires_at: datetime | None = None,
    ) -> tuple["ApiToken", str]:
        """Create a token for `user`, scoped as given; returns it and its plain key."""
        token = cls(
            user=user,
            name=name,
            services=sorted(set(services)),
            read_only=read_only,
            expires_at=expires_at,
        )
        key = token.set_new_key()
        token.save()
        if namespaces:
            token.namespaces.set(namespaces)
        return token, key

    # State

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired

    def unusable_because(self) -> str:
        """Why a request with this token is refused (401), or "" if it may be used."""
        again = (
            "create a new one on your Tokens page (/account/tokens/) or with "
            "`manage.py create_api_token`"
        )
        if self.is_revoked:
            return f"This token was revoked on {day(self.revoked_at)}; {again}."
        if self.is_expired:
            return f"This token expired on {day(self.expires_at)}; {again}."
        if not self.user.is_active:
            return (
                f"The account {self.user.get_username()} of this token is deactivated; ask an "
                "administrator to reactivate it, or use a token of an active account."
            )
        return ""

    def revoke(self) -> bool:
        """Revoke the token for good; False if it already was (by this call or another)."""
        now = timezone.now()
        updated = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if updated:
            self.revoked_at = now
        return bool(updated)

    # Scope

    def scoped_namespace_ids(self) -> set[int]:
        """The namespaces the token is limited to, deleted ones included: a token limited to a
        namespace that was deleted is limited to nothing, never widened to everything. Read
        from the through table (the related manager hides deleted namespaces)."""
        if not hasattr(self, "_scoped_namespace_ids"):
            through = ApiToken.namespaces.through
            self._scoped_namespace_ids = set(
                through.objects.filter(apitoken_id=self.pk).values_list("namespace_id", flat=True)
            )
        return self._scoped_namespace_ids

    def scoped_namespace_names(self) -> list[str]:
        """The names (cluster/namespace) of the namespaces it is limited to, sorted."""
        Namespace = ApiToken.namespaces.field.related_model
        rows = Namespace.all_objects.filter(pk__in=self.scoped_namespace_ids()).values_list(
            "cluster__name", "name"
        )
        return sorted(f"{cluster}/{name}" for cluster, name in rows)

    def scope_summary(self) -> str:
        """One line: where, what and until when this token may be used."""
        names = self.scoped_namespace_names()
        parts = [
            f"namespaces {', '.join(names)}" if names else "every namespace its user may use",
            f"services {', '.join(self.services)}" if self.services else "every service",
            "read-only" if self.read_only else "read and write",
            f"expires {day(self.expires_at)}" if self.expires_at else "never expires",
        ]
        return "; ".join(parts)

    def scope_refusal(self, *, namespace=None, service: str = "", write: bool = False) -> str:
        """Why this token may not act here, or "" if it may (its user's roles are checked
        apart)."""
        name = f"The token {self.label}"
        if write and self.read_only:
            return f"{name} is read-only; use a token without --read-only to change anything."
        if namespace is not None:
            ids = self.scoped_namespace_ids()
            if ids and namespace.pk not in ids:
                allowed = ", ".join(self.scoped_namespace_names()) or "deleted namespaces"
                return (
                    f"{name} is limited to {allowed} and cannot be used for {namespace}; use "
                    f"a token scoped to {namespace}."
                )
        if service and self.services and service not in self.services:
            return (
                f"{name} is limited to the services {', '.join(sorted(self.services))} and "
                f"cannot be used for {service}; use a token scoped to {service}."
            )
        return ""

    def limit_namespaces(self, namespaces):
        """The namespaces of the queryset this token may see."""
        ids = self.scoped_namespace_ids()
        return namespaces.filter(pk__in=ids) if ids else namespaces
