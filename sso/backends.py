from django.conf import settings
from django.contrib.auth.backends import ModelBackend

from sso import services


class OidcBackend(ModelBackend):
    """Signs in the user of an identity whose ID token sso/oidc.py has checked. Permissions are
    Django's, as for password users (hence ModelBackend)."""

    sign_in_method = "sso"  # read by the audit of sign-ins (accounts/signals.py)

    def authenticate(self, request, oidc_issuer=None, oidc_claims=None, **kwargs):
        if oidc_issuer is None or oidc_claims is None:
            return None  # a password sign-in: ModelBackend's
        return services.sign_in(
            oidc_issuer,
            oidc_claims,
            groups_claim=settings.KUBERNAUT_OIDC_GROUPS_CLAIM,
            user_group=settings.KUBERNAUT_OIDC_USER_GROUP,
        )
