"""Single sign-on end to end: Dana signs in through a real OpenID Connect provider
(django-oauth-toolkit, tests/oidc_provider/, run on loopback as its own process) and lands on
Kubernaut with the roles her team `payments` has, because the provider says she is in the
`payments` group."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from playwright.sync_api import Page, expect

from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from sso import oidc
from teams.access import roles_of
from teams.models import Grant, Role, Team
from tests.oidc_provider.testing import running_provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session")
def provider(live_server):
    users = ["dana:dana-password:payments,unrelated", "erin:erin-password:"]
    with running_provider(f"{live_server.url}/sso/callback", users=users) as running:
        yield running


@pytest.fixture
def sso_on(settings, provider):
    settings.KUBERNAUT_OIDC_ISSUER = provider.issuer
    settings.KUBERNAUT_OIDC_CLIENT_ID = provider.client_id
    settings.KUBERNAUT_OIDC_CLIENT_SECRET = provider.client_secret
    # The test provider gives the groups claim with the `groups` scope, as Dex does.
    settings.KUBERNAUT_OIDC_SCOPES = ["openid", "profile", "email", "groups"]
    settings.KUBERNAUT_OIDC_BUTTON_LABEL = "Test ID"
    settings.KUBERNAUT_OIDC_USER_GROUP = "engineers"
    engineers = Group.objects.create(name="engineers")
    engineers.permissions.set(
        Permission.objects.filter(codename__in=["view_release", "view_deployment"])
    )
    oidc.forget_cached()
    yield provider
    oidc.forget_cached()


@pytest.fixture
def payments_namespace(db) -> Namespace:
    """Team payments (joined by the provider's group `payments`), deployer on one namespace."""
    cluster = Cluster(name="prod")
    cluster.set_kubeconfig("unused: the test deploys nothing")
    cluster.save()
    namespace = Namespace.objects.create(cluster=cluster, name="payments")
    team = Team.objects.create(name="payments", sso_group="payments")
    Grant.objects.create(role=Role.DEPLOYER, team=team, cluster=cluster, namespace=namespace)
    return namespace


def sign_in_at_the_provider(page: Page, live_server, username: str, password: str) -> None:
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/?next=/releases/")
    page.get_by_role("link", name="Sign in with Test ID").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in to the provider").click()
    page.get_by_role("button", name="Authorize").click()  # the provider's consent page


def test_dana_signs_in_through_the_provider_and_lands_with_her_teams_roles(
    page, live_server, sso_on, payments_namespace, screenshot
):
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/")
    screenshot("login-with-sso")

    sign_in_at_the_provider(page, live_server, "dana", "dana-password")

    page.wait_for_url(f"{live_server.url}/releases/")  # where she was going
    expect(page.get_by_role("button", name="Log out dana")).to_be_visible()
    screenshot("signed-in-with-sso")
    dana = User.objects.get(username="dana")
    assert list(dana.teams.values_list("name", flat=True)) == ["payments"]
    assert roles_of(dana).role_on(payments_namespace) == Role.DEPLOYER
    sign_in = AuditEntry.objects.get(action="sign_in")
    assert (sign_in.actor, sign_in.door, sign_in.changes) == (dana, "web", {"method": "sso"})


def test_someone_outside_the_group_signs_in_without_the_teams_roles(
    page, live_server, sso_on, payments_namespace
):
    sign_in_at_the_provider(page, live_server, "erin", "erin-password")

    page.wait_for_url(f"{live_server.url}/releases/")
    erin = User.objects.get(username="erin")
    assert not erin.teams.exists()
    assert roles_of(erin).role_on(payments_namespace) is None


def test_a_replayed_callback_is_refused_and_audited(page, live_server, sso_on):
    callbacks = []
    page.on(
        "request",
        lambda request: callbacks.append(request.url) if "/sso/callback" in request.url else None,
    )
    sign_in_at_the_provider(page, live_server, "dana", "dana-password")
    page.wait_for_url(f"{live_server.url}/releases/")

    page.goto(callbacks[0])  # the same code and state, a second time

    expect(page.get_by_role("alert")).to_contain_text("not started in this browser")
    assert AuditEntry.objects.filter(action="sign_in_failed").count() == 1


def test_a_wrong_client_secret_is_a_page_with_a_sentence_and_a_failed_sign_in(
    page, live_server, sso_on, settings
):
    settings.KUBERNAUT_OIDC_CLIENT_SECRET = "not-the-secret"  # noqa: S105

    sign_in_at_the_provider(page, live_server, "dana", "dana-password")

    expect(page.get_by_role("alert")).to_contain_text("refused to finish the sign-in")
    failed = AuditEntry.objects.get(action="sign_in_failed")
    assert "check the client id and secret" in failed.message
    assert "not-the-secret" not in str(vars(failed))
    assert not User.objects.filter(username="dana").exists()
