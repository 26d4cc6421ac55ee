"""Creating and revoking API tokens, each recorded in the audit trail (never the key)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken
from audit.services import record, snapshot

# Ten years: far enough for any honest use, near enough that a typo of extra digits is refused.
MAX_EXPIRES_IN_DAYS = 3650
DEFAULT_EXPIRES_IN_DAYS = 90  # on the Tokens page; the command keeps "never" as its default


def create_token(
    user,
    *,
    name: str = "",
    namespaces=(),
    services=(),
    read_only: bool = False,
    expires_in_days: int | None = None,
    actor_name: str = "",
) -> tuple[ApiToken, str]:
    """Issue a token for `user` with this scope; returns it and its plain key (show it once,
    store it nowhere). The scope only narrows what the user may do (teams/access.py).
    `actor_name` names who did it when no user did (a management command)."""
    expires_at = None
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS:
            raise ValueError(f"expires_in_days must be 1 to {MAX_EXPIRES_IN_DAYS}")
        expires_at = timezone.now() + timedelta(days=expires_in_days)
    with transaction.atomic():
        token, key = ApiToken.issue(
            user,
            name,
            namespaces=namespaces,
            services=services,
            read_only=read_only,
            expires_at=expires_at,
        )
        changes = snapshot(token, ["user", "name", "key_prefix", "read_only", "expires_at"])
        changes["user"] = user.get_username()
        changes["namespaces"] = token.scoped_namespace_names()
        changes["services"] = token.services
        record(
            "token.created",
            token,
            changes=changes,
            message=token.scope_summary(),
            actor_name=actor_name,
        )
    return token, key


def revoke_token(token: ApiToken) -> bool:
    """Revoke the token for good; False (and nothing recorded) if it already was."""
    with transaction.atomic():
        if not token.revoke():
            return False
        record(
            "token.revoked",
            token,
            changes={"revoked_at": [None, token.revoked_at.isoformat()]},
            message=f"Revoked the token {token.label} of {token.user.get_username()}.",
        )
    return True
