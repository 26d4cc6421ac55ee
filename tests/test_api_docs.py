"""The OpenAPI schema and the browsable docs: authenticated, and served without any CDN."""

import re

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_schema_lists_the_release_endpoints(bob_api):
    response = bob_api.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/releases",
        "/api/releases/{id}",
        "/api/deployments",
        "/api/deployments/{id}",
        "/api/deployments/{id}/log",
        "/api/deployments/{id}/redeploy",
    } <= set(paths)
    assert "multipart/form-data" in paths["/api/releases"]["post"]["requestBody"]["content"]


def test_schema_needs_credentials():
    assert APIClient().get("/api/schema/").status_code == 401


def test_docs_page_loads_its_assets_from_this_site(bob, client):
    client.force_login(bob)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.content.decode())
    assert sources, "the docs page should load scripts and styles"
    assert all(not source.startswith(("http:", "https:", "//")) for source in sources), sources
