"""API tokens for CI and scripts.

Only a SHA-256 hash of each key is stored: a leaked database does not leak working credentials.
The key is shown once, when it is created.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models
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
