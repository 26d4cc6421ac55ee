"""API tokens: created by a command, stored hashed, accepted as Token or Bearer, revocable,
expiring; each refusal says why."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEntry
from clusters.models import Cluster, Namespace

pytestmark = pytest.mark.django_db


def test_create_api_token_prints_a_key_that_is_stored_only_hashed(alice, capsys):
    call_command("create_api_token", "alice", "--name", "jenkins")
    key = capsys.readouterr().out.strip()

    token = ApiToken.objects.get()
    assert key.startswith("kn_") and len(key) > 40
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {token.key_hash, token.key_prefix, token.name}
    assert token.name == "jenkins"


def test_create_api_token_for_an_unknown_user_fails_clearly(db):
    with pytest.raises(CommandError, match="No active user named 'nobody'"):
        call_command("create_api_token", "nobody")


@pytest.fixture
def namespaces(db) -> list[Namespace]:
    cluster = Cluster(name="sandbox")
    cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
    cluster.save()
    return [
        Namespace.objects.create(cluster=cluster, name=name, attributes={})
        for name in ("staging", "production")
    ]


def test_create_api_token_with_a_scope(alice, namespaces, capsys):
    call_command(
        "create_api_token", "alice", "--name", "jenkins",
        "--namespace", "sandbox/staging", "--namespace", "sandbox/production",
        "--service", "web", "--service", "api", "--read-only", "--expires-in", "30",
    )  # fmt: skip
    out, err = capsys.readouterr()

    token = ApiToken.objects.get()
    assert out.strip().startswith("kn_") and "\n" not in out.strip()  # the key alone on stdout
    assert set(token.namespaces.all()) == set(namespaces)
    assert token.services == ["api", "web"]
    assert token.read_only
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert "namespaces sandbox/production, sandbox/staging; services api, web; read-only" in err
    assert "not shown again" in err


def test_create_api_token_is_audited_without_the_key(alice, namespaces, capsys):
    call_command("create_api_token", "alice", "--name", "jenkins", "--namespace", "sandbox/staging")
    key = capsys.readouterr().out.strip()

    entry = AuditEntry.objects.get(action="token.created")
    token = ApiToken.objects.get()
    assert entry.door == "command"
    assert entry.actor is None  # the operator at the shell, not alice
    assert entry.actor_name.startswith("manage.py (")
    assert entry.object_id == str(token.pk)
    assert entry.changes["user"] == "alice"
    assert entry.changes["namespaces"] == ["sandbox/staging"]
    everything = str(entry.changes) + entry.message + entry.object_repr
    assert key not in everything and token.key_hash not in everything


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--namespace", "sandbox/qa"], "no namespace 'qa' in cluster 'sandbox'"),
        (["--namespace", "nowhere/staging"], "no namespace 'staging' in cluster 'nowhere'"),
        (["--namespace", "staging"], "give it as CLUSTER/NAMESPACE"),
        (["--namespace", "sandbox/a/b"], "give it as CLUSTER/NAMESPACE"),
        (["--service", "Not_A_Name"], "A service name is 1-63 lower-case letters"),
        (["--expires-in", "0"], "from 1 to 3650, not 0"),
        (["--expires-in", "3651"], "from 1 to 3650, not 3651"),
        (["--expires-in", "-5"], "from 1 to 3650, not -5"),
    ],
)
def test_create_api_token_refuses_a_bad_scope_and_creates_nothing(
    alice, namespaces, arguments, message
):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", "alice", *arguments)
    assert not ApiToken.objects.exists()
    assert not AuditEntry.objects.filter(action="token.created").exists()


def test_create_api_token_refuses_a_deleted_namespace(alice, admin_user, namespaces):
    namespaces[0].soft_delete(by=admin_user)
    with pytest.raises(CommandError, match="no namespace 'staging'"):
        call_command("create_api_token", "alice", "--namespace", "sandbox/staging")


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
def test_token_and_bearer_schemes_are_accepted(bob, scheme):
    _, key = ApiToken.issue(bob)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    assert client.get("/api/releases").status_code == 200


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_revoked_token_gets_401_saying_when(bob):
    token, key = ApiToken.issue(bob)
    token.revoked_at = datetime(2026, 11, 5, 9, 30, tzinfo=UTC)
    token.save()
    response = client_with(key).get("/api/releases")
    assert response.status_code == 401
    assert response.json()["detail"].startswith(
        "This token was revoked on 2026-11-05 09:30 UTC; create a new one"
    )


def test_expired_token_gets_401_saying_when(bob):
    _, key = ApiToken.issue(bob, expires_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    response = client_with(key).get("/api/releases")
    assert response.status_code == 401
    assert response.json()["detail"].startswith(
        "This token expired on 2026-01-02 03:04 UTC; create a new one"
    )
    assert response["WWW-Authenticate"].startswith("Token")


def test_token_expiring_later_works(bob):
    _, key = ApiToken.issue(bob, expires_at=timezone.now() + timedelta(minutes=1))
    assert client_with(key).get("/api/releases").status_code == 200


def test_unknown_token_gets_401_with_a_different_sentence(db):
    response = client_with("kn_never-issued").get("/api/releases")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Invalid token: no token has this key.")


def test_token_of_an_inactive_user_gets_401(bob):
    _, key = ApiToken.issue(bob)
    bob.is_active = False
    bob.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.get("/api/releases")
    assert response.status_code == 401
    assert "The account bob of this token is deactivated" in response.json()["detail"]


def test_malformed_authorization_header_gets_401(bob):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two parts")
    response = client.get("/api/releases")
    assert response.status_code == 401
    assert "Malformed" in response.json()["detail"]


def test_use_is_recorded(bob):
    token, key = ApiToken.issue(bob)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.get("/api/releases")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_admin_shows_a_new_key_once_and_stores_its_hash(admin_user, bob, client):
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/apitoken/add/", {"user": bob.pk, "name": "ci"}, follow=True
    )
    assert response.status_code == 200
    message = next(str(m) for m in response.context["messages"] if "kn_" in str(m))
    key = message.split("The token's key is ")[1].split(":")[0]
    token = ApiToken.objects.get(name="ci")
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    entry = AuditEntry.objects.get(action="token.created")
    assert entry.door == "admin" and entry.actor == admin_user
    assert entry.object_id == str(token.pk) and key not in str(entry.changes) + entry.message


def test_revoking_in_the_admin_is_audited(admin_user, bob, client):
    token, _ = ApiToken.issue(bob, "ci")
    client.force_login(admin_user)
    response = client.post(
        f"/admin/accounts/apitoken/{token.pk}/change/",
        {
            "user": bob.pk,
            "name": "ci",
            "services": "",
            "revoked_at_0": "2026-12-01",
            "revoked_at_1": "10:00:00",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.get(action="token.revoked").object_id == str(token.pk)


def test_admin_shows_the_scope_and_never_the_hash(admin_user, bob, namespaces, client):
    token, key = ApiToken.issue(bob, "ci", namespaces=namespaces[:1], services=["web"])
    client.force_login(admin_user)

    listing = client.get("/admin/accounts/apitoken/").content.decode()
    page = client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()

    assert "web" in listing
    assert 'name="services"' in page and 'name="namespaces"' in page
    assert 'name="read_only"' in page and 'name="expires_at_0"' in page
    for html in (listing, page):
        assert token.key_hash not in html and key not in html
