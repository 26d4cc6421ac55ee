"""While PostgreSQL cannot be reached, API clients get a JSON 503 and pages a short 503 page."""

import socket
from contextlib import contextmanager

import pytest
from django.db import connection

from releases.models import Release
from tests.conftest import client_for, release_body

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def database_away():
    """Point Django's connection at a loopback port where nothing listens, as in a restart."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: connections are refused
    original = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(port)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original


def test_api_reads_and_writes_get_a_json_503_with_retry_after(alice):
    api = client_for(alice)
    with database_away():
        responses = [
            api.get("/api/releases"),
            api.post("/api/releases", release_body(version="9.9.9"), format="json"),
        ]
    for response in responses:
        assert response.status_code == 503
        assert response["Content-Type"] == "application/json"
        assert int(response["Retry-After"]) > 0
        assert "database is unavailable" in response.json()["detail"]
    # The write was not acknowledged, and nothing of it was kept.
    assert not Release.all_objects.filter(version="9.9.9").exists()
    assert api.get("/api/releases").status_code == 200  # and the API recovers by itself


def test_pages_get_a_short_503_page(client, alice):
    client.force_login(alice)
    with database_away():
        response = client.get("/")
    assert response.status_code == 503
    assert "Kubernaut is unavailable for a moment" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert client.get("/").status_code == 200
