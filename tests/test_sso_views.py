"""The login page, /sso/login and /sso/callback without a provider: refusals are pages with a
sentence, and failed sign-ins land in the audit trail as password sign-ins do. The whole flow
against a real provider is in tests/browser/test_browser_sso.py."""

import time

import pytest

from audit.models import AuditEntry
from sso import oidc
from sso.views import PENDING

pytestmark = pytest.mark.django_db
CLOSED_PORT = "http://127.0.0.1:1"  # nothing listens there: connection refused at once


@pytest.fixture
def sso_on(settings):
    settings.KUBERNAUT_OIDC_ISSUER = "https://idp.example"
    settings.KUBERNAUT_OIDC_CLIENT_ID = "kubernaut"
    settings.KUBERNAUT_OIDC_CLIENT_SECRET = "s3cret"
    settings.KUBERNAUT_OIDC_BUTTON_LABEL = "Example ID"
    oidc.forget_cached()
    yield settings
    oidc.forget_cached()


def started(client, state: str = "the-state", age: float = 0) -> None:
    """A sign-in begun in this browser, as /sso/login leaves it in the session."""
    session = client.session
    session[PENDING] = {
        state: {"nonce": "n", "verifier": "v" * 50, "redirect_uri": "http://testserver/sso/callback",
                "next": "", "at": time.time() - age},
    }  # fmt: skip
    session.save()


def failed_sign_ins() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="sign_in_failed").order_by("id"))


def test_without_an_issuer_there_is_no_sso(client):
    page = client.get("/login/").content.decode()
    assert "Sign in with" not in page
    assert client.get("/sso/login").status_code == 404
    assert client.get("/sso/callback?state=x&code=y").status_code == 404


def test_the_login_page_offers_sso_and_keeps_the_password_form(client, sso_on):
    page = client.get("/login/?next=/releases/").content.decode()
    assert 'href="/sso/login?next=/releases/"' in page
    assert "Sign in with Example ID" in page
    assert 'name="password"' in page


def test_a_callback_with_an_unknown_state_is_refused_and_audited(client, sso_on):
    response = client.get("/sso/callback?state=forged&code=stolen")

    assert response.status_code == 400
    assert "not started in this browser" in response.content.decode()
    [entry] = failed_sign_ins()
    assert (entry.door, entry.actor, entry.changes) == ("web", None, {"method": "sso"})
    assert "not started in this browser" in entry.message


def test_a_state_is_used_once(client, sso_on):
    started(client)
    first = client.get("/sso/callback?state=the-state&error=access_denied")
    again = client.get("/sso/callback?state=the-state&error=access_denied")
    assert (first.status_code, again.status_code) == (403, 400)


def test_a_sign_in_older_than_ten_minutes_is_refused(client, sso_on):
    started(client, age=601)
    response = client.get("/sso/callback?state=the-state&code=abc")
    assert response.status_code == 400
    assert "more than 10 minutes ago" in response.content.decode()


def test_a_refusal_by_the_provider_is_shown_and_audited(client, sso_on):
    started(client)
    response = client.get(
        "/sso/callback?state=the-state&error=access_denied&error_description=User+said+no"
    )
    assert response.status_code == 403
    assert "did not sign you in: User said no." in response.content.decode()
    assert failed_sign_ins()[0].message.endswith("User said no.")


def test_a_callback_without_a_code_is_refused(client, sso_on):
    started(client)
    response = client.get("/sso/callback?state=the-state")
    assert response.status_code == 400
    assert "no sign-in code" in response.content.decode()


def test_an_unreachable_provider_is_a_page_not_a_500(client, sso_on):
    sso_on.KUBERNAUT_OIDC_ISSUER = CLOSED_PORT
    response = client.get("/sso/login")
    assert response.status_code == 502
    assert "could not be reached" in response.content.decode()
    assert failed_sign_ins() == []  # nobody tried to sign in as anyone yet

    started(client)
    response = client.get("/sso/callback?state=the-state&code=abc")
    assert response.status_code == 502
    assert "could not be reached" in failed_sign_ins()[0].message


def test_password_sign_in_works_and_is_audited(client, alice, sso_on):
    response = client.post("/login/", {"username": "alice", "password": "pw-alice"})

    assert response.status_code == 302 and response["Location"] == "/"
    entry = AuditEntry.objects.get(action="sign_in")
    assert (entry.actor, entry.actor_name, entry.door) == (alice, "alice", "web")
    assert entry.changes == {"method": "password"}
    assert (entry.object_type, entry.object_id) == ("auth.user", str(alice.pk))


def test_a_wrong_password_is_audited_with_the_name_tried_and_never_the_password(client, alice):
    client.post("/login/", {"username": "alice", "password": "hunter2-wrong"})

    [entry] = failed_sign_ins()
    assert (entry.actor, entry.actor_name, entry.changes) == (None, "alice", {"method": "password"})
    assert "hunter2" not in str(vars(entry))


def test_admin_sign_ins_are_audited_at_the_admin_door(client, admin_user):
    client.post("/admin/login/", {"username": "admin", "password": "pw-admin"})
    client.post("/admin/login/", {"username": "nobody", "password": "x"})

    doors = dict(AuditEntry.objects.values_list("action", "door"))
    assert doors == {"sign_in": "admin", "sign_in_failed": "admin"}
