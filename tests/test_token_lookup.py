"""The token lookup every API request makes: one query, its SQL written once per process, and a
change to the token or its user takes effect on the very next request."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_for_key_returns_the_token_with_its_user_in_one_query(bob):
    token, key = ApiToken.issue(bob, name="ci", services=["shop"], read_only=True)
    with CaptureQueriesContext(connection) as queries:
        found = ApiToken.objects.for_key(key)
        assert found.user.username == "bob"
    assert len(queries) == 1
    assert found == token
    assert (found.name, found.services, found.read_only, found.revoked_at) == (
        "ci", ["shop"], True, None,
    )  # fmt: skip
    assert found.created_at == token.created_at
    assert found.user == bob and found.user.is_active


def test_for_key_of_an_unknown_key_is_none(db):
    assert ApiToken.objects.for_key("kn_never-issued") is None


def test_revoking_takes_effect_on_the_next_request(bob):
    token, key = ApiToken.issue(bob)
    client = client_with(key)
    assert client.get("/api/releases").status_code == 200
    token.revoke()
    response = client.get("/api/releases")
    assert response.status_code == 401
    assert "This token was revoked" in response.json()["detail"]


def test_expiry_takes_effect_on_the_next_request(bob):
    token, key = ApiToken.issue(bob)
    client = client_with(key)
    assert client.get("/api/releases").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/releases")
    assert response.status_code == 401
    assert "This token expired" in response.json()["detail"]


def test_deactivating_the_user_takes_effect_on_the_next_request(bob):
    _, key = ApiToken.issue(bob)
    client = client_with(key)
    assert client.get("/api/releases").status_code == 200
    bob.is_active = False
    bob.save()
    response = client.get("/api/releases")
    assert response.status_code == 401
    assert "The account bob of this token is deactivated" in response.json()["detail"]


def test_a_token_made_read_only_may_no_longer_write_on_the_next_request(alice):
    token, key = ApiToken.issue(alice)
    client = client_with(key)
    assert (
        client.post("/api/releases", {}, format="json").status_code == 400
    )  # let in, then invalid
    ApiToken.objects.filter(pk=token.pk).update(read_only=True)
    response = client.post("/api/releases", {}, format="json")
    assert response.status_code == 403
    assert "is read-only" in response.json()["detail"]
