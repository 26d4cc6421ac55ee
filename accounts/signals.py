"""Sign-ins and failed sign-ins in the audit trail, however a person signs in.

They live here, with the accounts, rather than in sso/: password sign-in is Django's own and is
recorded whether or not single sign-on is configured; sso/ sends the same signal for a callback
it refuses, with `method="sso"` and the reason.
"""

from dataclasses import replace

from django.contrib.auth import load_backend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from audit.context import acting_as, current
from audit.services import record


@receiver(user_logged_in, dispatch_uid="accounts.record_sign_in")
def record_sign_in(sender, request, user, **kwargs) -> None:
    backend = getattr(user, "backend", None)
    method = getattr(load_backend(backend), "sign_in_method", "password") if backend else "password"
    record("sign_in", user, actor=user, changes={"method": method})


@receiver(user_login_failed, dispatch_uid="accounts.record_failed_sign_in")
def record_failed_sign_in(
    sender, credentials, request=None, method: str = "password", reason: str = "", **kwargs
) -> None:
    # Django hands over the credentials with the password already masked; only the name that
    # was tried is kept.
    username = str(credentials.get("username") or "")[:150]
    # Whoever the browser was signed in as before, the actor is the name tried, not them.
    with acting_as(replace(current(), user=None)):
        record(
            "sign_in_failed",
            actor_name=username,
            changes={"method": method},
            message=reason or "Wrong username or password, or the account is deactivated.",
        )
