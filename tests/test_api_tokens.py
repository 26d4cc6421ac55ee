"""API tokens: created by a command, stored hashed, accepted as Token or Bearer, revocable."""

import hashlib

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken

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


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
def test_token_and_bearer_schemes_are_accepted(bob, scheme):
    _, key = ApiToken.issue(bob)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    assert client.get("/api/releases").status_code == 200


def test_revoked_token_gets_401(bob):
    token, key = ApiToken.issue(bob)
    token.revoked_at = timezone.now()
    token.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/releases").status_code == 401


def test_token_of_an_inactive_user_gets_401(bob):
    _, key = ApiToken.issue(bob)
    bob.is_active = False
    bob.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/releases").status_code == 401


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
    assert ApiToken.objects.get(name="ci").key_hash == hashlib.sha256(key.encode()).hexdigest()
