"""Probes: /healthz and /readyz answer without a login."""

import pytest
from django.db import DatabaseError

from kubernaut import health


@pytest.mark.django_db
def test_healthz_and_readyz_answer_without_login(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_fails(client, monkeypatch):
    def broken_cursor():
        raise DatabaseError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["reason"]
