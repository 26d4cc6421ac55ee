"""API tokens for CI and scripts.

Only a SHA-256 hash of each key is stored: a leaked database does not leak working credentials.
The key is shown once, when it is created.
"""

import hashlib
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

KEY_PREFIX = "kn_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def find(self, key: str) -> "ApiToken | None":
        """The active token for this key, with its user, or None."""
        return (
            self.select_related("user")
            .filter(key_hash=hash_key(key), revoked_at__isnull=True, user__is_active=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .first()
        )


class ApiToken(models.Model):
    """A key that authenticates API requests as its user. Revoked tokens are kept for the record."""

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
        models.CharField(max_length=63),
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

    def set_new_key(self) -> str:
        """Give the (unsaved) token a fresh key; returns the plain key, which is never stored."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.key_hash = hash_key(key)
        self.key_prefix = key[: len(KEY_PREFIX) + 6]
        return key

    @classmethod
    def issue(cls, user, name: str = "") -> tuple["ApiToken", str]:
        """Create a token for `user`; returns it and its plain key."""
        token = cls(user=user, name=name)
        key = token.set_new_key()
        token.save()
        return token, key

    def scope_refusal(self, *, namespace=None, service: str = "", write: bool = False) -> str:
        """Why this token may not act here, or "" if it may (its user's roles are checked
        apart)."""
        name = f"The token {self.name or self.key_prefix}"
        if write and self.read_only:
            return f"{name} is read-only; use a token without --read-only to change anything."
        if namespace is not None:
            allowed = [str(ns) for ns in self.namespaces.all()]
            if allowed and str(namespace) not in allowed:
                return (
                    f"{name} is limited to {', '.join(sorted(allowed))} and cannot be used for "
                    f"{namespace}; use a token scoped to {namespace}."
                )
        if service and self.services and service not in self.services:
            return (
                f"{name} is limited to the services {', '.join(sorted(self.services))} and "
                f"cannot be used for {service}."
            )
        return ""

    def limit_namespaces(self, namespaces):
        """The namespaces of the queryset this token may see."""
        ids = list(self.namespaces.values_list("pk", flat=True))
        return namespaces.filter(pk__in=ids) if ids else namespaces
