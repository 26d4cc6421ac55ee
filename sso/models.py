"""Who someone is at the identity provider, linked to their Kubernaut user.

A person is recognised by the provider's issuer and their subject (`sub`), which the provider
promises never to reuse or change; a username or an email address may be renamed or handed to
someone else, so neither ever links an identity to a user.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SsoIdentity(models.Model):
    """One identity at one provider, signed in as one user. Created at the first single sign-on,
    or by an admin to link a provider identity to an existing user (docs/sso.md)."""

    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_sign_in_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"],
                name="sso_identity_unique_subject",
                violation_error_message="This identity is linked to a user already.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
