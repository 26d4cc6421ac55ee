"""`Authorization: Token <key>` (and `Bearer <key>`) authentication for the API."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS

from accounts.models import ApiToken
from audit import context as audit_context

# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)

UNKNOWN_KEY = (
    "Invalid token: no token has this key. Check that it was copied whole, or create a new one "
    "with `manage.py create_api_token` or on your Tokens page (/account/tokens/)."
)


class TokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: use 'Token <key>' with no spaces in the key."
            )
        try:
            key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The token contains invalid characters."
            ) from None
        # Looked up by the key's hash (an index lookup, not a comparison of secrets that could
        # leak timing); then the row says why it cannot be used, if it cannot.
        token = ApiToken.objects.for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed(UNKNOWN_KEY)
        refusal = token.unusable_because()
        if refusal:
            raise exceptions.AuthenticationFailed(refusal)
        audit_context.update(user=token.user, door=audit_context.Door.API, token_name=token.name)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # Here rather than in a permission class: every view authenticates through this class,
        # while a view may choose its own permission classes and would forget the rule.
        if token.read_only and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(
                f"The token {token.label} is read-only: it may only read (GET), not "
                f"{request.method}. Use a token without --read-only to change anything."
            )
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Token realm="api"'


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI document (and the docs' Authorize button) how tokens are sent."""

    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` (or `Bearer <key>`), a key from your Tokens page "
            "(/account/tokens/) or `manage.py create_api_token <username>`. A token may be "
            "limited to some namespaces, some services, reading only, and an expiry date.",
        }
