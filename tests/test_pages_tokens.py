"""The Tokens page: people create (the key shown once) and revoke their own API tokens."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken, hash_key
from audit.models import AuditEntry
from clusters.models import Cluster, Namespace
from tests.conftest import open_to_teams

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(db) -> Cluster:
    cluster = Cluster(name="sandbox")
    cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
    cluster.save()
    return cluster


@pytest.fixture
def staging(cluster) -> Namespace:
    return open_to_teams(Namespace.objects.create(cluster=cluster, name="staging", attributes={}))


@pytest.fixture
def hidden(cluster) -> Namespace:
    """A namespace where nobody but admins has a role."""
    return Namespace.objects.create(cluster=cluster, name="platform", attributes={})


def create(client, **fields):
    data = {"name": "jenkins", "services": "", "expires_in_days": "90", **fields}
    return client.post("/account/tokens/", data)


def shown_key(html: str) -> str:
    return html.split('class="key"')[0].rsplit('value="', 1)[1].split('"')[0]


def test_page_needs_a_login(client):
    response = client.get("/account/tokens/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_nav_links_to_the_page(client, alice):
    client.force_login(alice)
    assert 'href="/account/tokens/"' in client.get("/").content.decode()


def test_creating_shows_the_key_once_and_it_works(client, alice, staging):
    client.force_login(alice)

    response = create(client, namespaces=[staging.pk], services="hello-world, web", read_only="on")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    key = shown_key(html)
    assert "Copy it now: it is shown only this once." in html
    token = ApiToken.objects.get()
    assert token.key_hash == hash_key(key)
    assert list(token.namespaces.all()) == [staging]
    assert token.services == ["hello-world", "web"]
    assert token.read_only and token.expires_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/releases").status_code == 200
    # A reload (GET) lists the token, not its key.
    again = client.get("/account/tokens/").content.decode()
    assert key not in again and token.key_prefix in again and "jenkins" in again


def test_creating_is_audited_without_the_key(client, alice):
    client.force_login(alice)
    key = shown_key(create(client).content.decode())

    entry = AuditEntry.objects.get(action="token.created")
    assert entry.actor == alice and entry.door == "web"
    assert entry.changes["name"] == "jenkins"
    assert key not in str(entry.changes) + entry.message


def test_sending_the_form_again_does_not_make_a_second_token(client, alice):
    client.force_login(alice)
    create(client)

    response = create(client)

    assert "You already have a token named &#x27;jenkins&#x27;" in response.content.decode()
    assert ApiToken.objects.count() == 1


def test_only_namespaces_the_user_can_see_are_offered(client, alice, staging, hidden):
    client.force_login(alice)
    page = client.get("/account/tokens/").content.decode()
    assert "sandbox / staging" in page and "platform" not in page

    response = create(client, namespaces=[hidden.pk])

    assert "is not a namespace you can see" in response.content.decode()
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"services": "Bad_Name"}, "A service name is 1-63 lower-case letters"),
        ({"expires_in_days": "0"}, "greater than or equal to 1"),
        ({"expires_in_days": "4000"}, "less than or equal to 3650"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_bad_input_is_shown_and_nothing_created(client, alice, fields, message):
    client.force_login(alice)
    response = create(client, **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_stops_the_token_and_is_audited(client, alice):
    token, key = ApiToken.issue(alice, "ci")
    client.force_login(alice)

    response = client.post(f"/account/tokens/{token.pk}/revoke", follow=True)

    assert "The token ci is revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    entry = AuditEntry.objects.get(action="token.revoked")
    assert entry.actor == alice and entry.object_id == str(token.pk)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    refused = api.get("/api/releases")
    assert refused.status_code == 401 and "was revoked on" in refused.json()["detail"]
    # Twice is harmless, and recorded once.
    again = client.post(f"/account/tokens/{token.pk}/revoke", follow=True)
    assert "was already revoked" in again.content.decode()
    assert AuditEntry.objects.filter(action="token.revoked").count() == 1


def test_someone_elses_token_is_not_found(client, alice, bob):
    token, _ = ApiToken.issue(bob, "bobs")
    client.force_login(alice)

    assert client.post(f"/account/tokens/{token.pk}/revoke").status_code == 404
    assert "bobs" not in client.get("/account/tokens/").content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoking_needs_a_post_with_the_csrf_token(alice):
    token, _ = ApiToken.issue(alice, "ci")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert browser.get(f"/account/tokens/{token.pk}/revoke").status_code == 405
    assert browser.post(f"/account/tokens/{token.pk}/revoke").status_code == 403
    creating = browser.post("/account/tokens/", {"name": "x", "expires_in_days": "1"})
    assert creating.status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None
    assert ApiToken.objects.count() == 1
