"""Single sign-on pages: /sso/login sends the browser to the identity provider, /sso/callback
brings it back, checks what the provider says and signs the person in.

Every refusal is a page with a sentence, never a 500, and a refused callback is a failed
sign-in in the audit trail (accounts/signals.py records it).
"""

import time

from django.conf import settings
from django.contrib.auth import authenticate, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from sso import oidc
from sso.services import SignInRefused

PENDING = "sso_pending"  # session key: state -> what the callback needs to finish that sign-in
PENDING_SECONDS = 600
PENDING_MAX = 5  # sign-ins started in other tabs of the same browser stay valid, up to this


def sso_enabled() -> bool:
    return bool(settings.KUBERNAUT_OIDC_ISSUER)


class LoginView(auth_views.LoginView):
    """Django's password login page, with a "Sign in with ..." button when single sign-on is
    configured. The password form stays for local admins."""

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        if sso_enabled():
            context["sso_label"] = settings.KUBERNAUT_OIDC_BUTTON_LABEL
        return context


def _refused(request: HttpRequest, message: str, status: int, username: str = "") -> HttpResponse:
    user_login_failed.send(
        sender=__name__,
        credentials={"username": username},
        request=request,
        method="sso",
        reason=message,
    )
    return render(request, "sso/refused.html", {"message": message}, status=status)


def _safe_next(request: HttpRequest) -> str:
    next_url = request.GET.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return next_url if allowed else ""


@require_GET
def start(request: HttpRequest) -> HttpResponse:
    if not sso_enabled():
        raise Http404("Single sign-on is not configured.")
    try:
        found = oidc.provider(settings.KUBERNAUT_OIDC_ISSUER)
    except oidc.SsoError as error:
        # Nobody has tried to sign in as anyone yet: a page, not a failed sign-in.
        return render(request, "sso/refused.html", {"message": str(error)}, status=502)
    redirect_uri = settings.KUBERNAUT_OIDC_REDIRECT_URI or request.build_absolute_uri(
        reverse("sso-callback")
    )
    new = oidc.new_secrets()
    now = time.time()
    pending = {
        state: started
        for state, started in request.session.get(PENDING, {}).items()
        if now - started["at"] < PENDING_SECONDS
    }
    newest = sorted(pending.items(), key=lambda item: item[1]["at"])[-(PENDING_MAX - 1) :]
    request.session[PENDING] = {
        **dict(newest),
        new["state"]: {
            "nonce": new["nonce"],
            "verifier": new["verifier"],
            "redirect_uri": redirect_uri,
            "next": _safe_next(request),
            "at": now,
        },
    }
    return redirect(
        oidc.authorization_url(
            found,
            client_id=settings.KUBERNAUT_OIDC_CLIENT_ID,
            redirect_uri=redirect_uri,
            scopes=settings.KUBERNAUT_OIDC_SCOPES,
            state=new["state"],
            nonce=new["nonce"],
            verifier=new["verifier"],
        )
    )


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    if not sso_enabled():
        raise Http404("Single sign-on is not configured.")
    pending = request.session.get(PENDING, {})
    # Each state is used once: popped before anything else can fail.
    started = pending.pop(request.GET.get("state", ""), None)
    request.session[PENDING] = pending
    if started is None or time.time() - started["at"] > PENDING_SECONDS:
        return _refused(
            request,
            "This sign-in was not started in this browser, or was started more than 10 minutes "
            "ago. Start again from the login page.",
            400,
        )
    if "error" in request.GET:
        reason = request.GET.get("error_description") or request.GET["error"]
        return _refused(request, f"The identity provider did not sign you in: {reason[:200]}.", 403)
    code = request.GET.get("code", "")
    if not code:
        return _refused(
            request,
            "The identity provider sent no sign-in code. Start again from the login page.",
            400,
        )
    try:
        found = oidc.provider(settings.KUBERNAUT_OIDC_ISSUER)
        id_token = oidc.exchange_code(
            found,
            code=code,
            redirect_uri=started["redirect_uri"],
            client_id=settings.KUBERNAUT_OIDC_CLIENT_ID,
            client_secret=settings.KUBERNAUT_OIDC_CLIENT_SECRET,
            verifier=started["verifier"],
        )
        claims = oidc.verify_from(
            found, id_token, client_id=settings.KUBERNAUT_OIDC_CLIENT_ID, nonce=started["nonce"]
        )
    except oidc.SsoError as error:
        return _refused(request, str(error), 502 if error.provider_down else 403)
    try:
        user = authenticate(request, oidc_issuer=found.issuer, oidc_claims=claims)
    except SignInRefused as error:
        return _refused(request, str(error), 403, username=error.username)
    if user is None:
        return _refused(
            request,
            "Single sign-on is not among AUTHENTICATION_BACKENDS; an admin should add "
            "sso.backends.OidcBackend.",
            500,
        )
    login(request, user)
    return redirect(started["next"] or settings.LOGIN_REDIRECT_URL)
