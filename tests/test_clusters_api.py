"""GET /api/clusters, GET /api/namespaces (and /api/namespaces/{id}), PATCH /api/namespaces/{id}."""

import json

import pytest
from rest_framework.test import APIClient

from clusters.models import Cluster, Namespace
from tests.conftest import client_for, grant, make_user

pytestmark = pytest.mark.django_db

KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: s3cret-token}}]\n"


def make_cluster(name: str, **fields) -> Cluster:
    cluster = Cluster(name=name, **fields)
    cluster.set_kubeconfig(KUBECONFIG)
    cluster.set_registry_password("registry-pa55word")
    cluster.save()
    return cluster


@pytest.fixture
def places() -> dict[str, Namespace]:
    eu = make_cluster("eu", timeout_seconds=300, registry_url="https://registry.example",
                      registry_username="puller", context="eu-admin")  # fmt: skip
    us = make_cluster("us")
    return {
        "eu/staging": Namespace.objects.create(cluster=eu, name="staging"),
        "eu/production": Namespace.objects.create(
            cluster=eu, name="production", attributes={"replicas": "3"}
        ),
        "us/staging": Namespace.objects.create(cluster=us, name="staging"),
    }


@pytest.fixture
def operator_api(places):
    """Someone who manages the clusters: admin on both, so reads and changes every namespace."""
    olga = make_user("olga")
    for cluster in Cluster.objects.all():
        grant("admin", cluster, user=olga)
    return client_for(olga)


@pytest.fixture
def reader_api(places):
    """A viewer of eu/staging only."""
    rita = make_user("rita")
    grant("viewer", places["eu/staging"], user=rita)
    return client_for(rita)


def assert_no_secret(response) -> None:
    text = response.content.decode()
    for secret in ("s3cret-token", "registry-pa55word", "kubeconfig", "puller", "eu-admin"):
        assert secret not in text


def test_clusters_list_names_timeouts_and_registries_never_secrets(operator_api, places):
    response = operator_api.get("/api/clusters")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["next"] is None
    assert [(c["name"], c["timeout_seconds"], c["registry_url"]) for c in body["results"]] == [
        ("us", 600, ""),
        ("eu", 300, "https://registry.example"),
    ]
    assert set(body["results"][0]) == {"id", "name", "timeout_seconds", "registry_url",
                                       "created_at"}  # fmt: skip
    assert_no_secret(response)


def test_namespaces_list_with_settings_and_filters(operator_api, places):
    def names(query: str = "") -> list[str]:
        response = operator_api.get(f"/api/namespaces{query}")
        assert response.status_code == 200, response.json()
        assert_no_secret(response)
        return [f"{n['cluster']}/{n['name']}" for n in response.json()["results"]]

    assert names() == ["us/staging", "eu/production", "eu/staging"]
    assert names("?cluster=eu") == ["eu/production", "eu/staging"]
    assert names("?name=staging") == ["us/staging", "eu/staging"]
    assert names("?cluster=eu&name=staging") == ["eu/staging"]
    assert names("?cluster=nowhere") == []

    production = operator_api.get("/api/namespaces?cluster=eu&name=production").json()
    assert production["results"][0] | {"id": 0, "created_at": ""} == {
        "id": 0, "url": f"http://testserver/api/namespaces/{places['eu/production'].pk}",
        "cluster": "eu", "name": "production", "attributes": {"replicas": "3"},
        "rollback_on_failure": False, "pod_security": "baseline", "allow_cluster_scoped": False,
        "allowed_kinds": [], "denied_kinds": [], "allowed_registries": [], "next_stage": None,
        "required_approvals": 0, "production": False, "created_at": "",
    }  # fmt: skip


def test_lists_are_paged_with_cursors(operator_api, places):
    first = operator_api.get("/api/namespaces?limit=2").json()
    assert len(first["results"]) == 2
    rest = operator_api.get(first["next"]).json()
    assert [n["name"] for n in rest["results"]] == ["staging"]
    assert rest["results"][0]["cluster"] == "eu"

    response = operator_api.get("/api/clusters?cursor=made-up")
    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]


def test_deleted_namespaces_and_clusters_are_not_listed(operator_api, places, admin_user):
    places["eu/staging"].soft_delete(by=admin_user)
    places["us/staging"].cluster.soft_delete(by=admin_user)

    assert [n["name"] for n in operator_api.get("/api/namespaces").json()["results"]] == [
        "production"
    ]
    assert [c["name"] for c in operator_api.get("/api/clusters").json()["results"]] == ["eu"]
    response = operator_api.patch(
        f"/api/namespaces/{places['us/staging'].pk}", {"rollback_on_failure": True}, format="json"
    )
    assert response.status_code == 404


def test_empty_filter_is_a_400_with_a_sentence(operator_api, places):
    response = operator_api.get("/api/namespaces?cluster=")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Invalid request: cluster: Give a value, or leave the parameter out."
    )


def test_patch_changes_only_the_settings_given(operator_api, places):
    staging = places["eu/staging"]
    response = operator_api.patch(
        f"/api/namespaces/{staging.pk}",
        {"rollback_on_failure": True, "allowed_registries": ["registry.example"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["rollback_on_failure"] is True
    assert response.json()["allowed_registries"] == ["registry.example"]
    assert response.json()["pod_security"] == "baseline"
    staging.refresh_from_db()
    assert staging.rollback_on_failure is True
    assert staging.allowed_registries == ["registry.example"]
    assert operator_api.get(f"/api/namespaces/{staging.pk}").json() == response.json()

    response = operator_api.patch(
        f"/api/namespaces/{staging.pk}",
        {"pod_security": "restricted", "allowed_kinds": ["Deployment.apps", "Service"]},
        format="json",
    )
    assert response.status_code == 200
    staging.refresh_from_db()
    assert (staging.pod_security, staging.allowed_kinds) == (
        "restricted", ["Deployment.apps", "Service"],
    )  # fmt: skip
    assert staging.rollback_on_failure is True  # untouched
    assert_no_secret(response)


@pytest.mark.parametrize(
    ("body", "field", "sentence"),
    [
        ({"rollback_on_failure": "yes"}, "rollback_on_failure", "Give true or false."),
        ({"rollback_on_failure": None}, "rollback_on_failure", "This field may not be null."),
        ({"pod_security": "lax"}, "pod_security", '"lax" is not a valid choice.'),
        ({"allowed_kinds": ["Deployment apps"]}, "allowed_kinds", "Kind"),
        ({"allowed_registries": ["https://registry.example"]}, "allowed_registries", "host"),
        ({"allowed_kinds": "Deployment"}, "allowed_kinds", 'Expected a list of items but got '
                                                           'type "str".'),
        ({"name": "prod"}, "name", "'name' cannot be changed through the API; the settings are: "
                                   "rollback_on_failure, pod_security"),
        ({"attributes": {"replicas": "9"}}, "attributes", "cannot be changed through the API"),
    ],
)  # fmt: skip
def test_patch_refuses_bad_settings_with_a_sentence(operator_api, places, body, field, sentence):
    staging = places["eu/staging"]
    response = operator_api.patch(f"/api/namespaces/{staging.pk}", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert sentence in response.json()["detail"]
    assert response.json()["detail"].startswith("Invalid request: ")
    fresh = Namespace.objects.get(pk=staging.pk)
    assert (fresh.name, fresh.rollback_on_failure, fresh.attributes) == ("staging", False, {})


@pytest.mark.parametrize("raw", ["[true]", '"rollback_on_failure"', "not json"])
def test_patch_with_a_body_that_is_not_an_object_is_a_400(operator_api, places, raw):
    response = operator_api.patch(
        f"/api/namespaces/{places['eu/staging'].pk}", raw, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"]


def test_patch_of_a_missing_namespace_is_404(operator_api, places):
    response = operator_api.patch("/api/namespaces/999999", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Namespace matches the given query."}


def test_anonymous_gets_401(places):
    anonymous = APIClient()
    for path in ("/api/clusters", "/api/namespaces", f"/api/namespaces/{places['eu/staging'].pk}"):
        assert anonymous.get(path).status_code == 401
    response = anonymous.patch(
        f"/api/namespaces/{places['eu/staging'].pk}", {"rollback_on_failure": True}, format="json"
    )
    assert response.status_code == 401


def test_each_endpoint_answers_by_roles(places, reader_api, charlie_api):
    staging = places["eu/staging"]
    # No role anywhere: empty lists, and a namespace is as good as missing.
    assert charlie_api.get("/api/clusters").json()["results"] == []
    assert charlie_api.get("/api/namespaces").json()["results"] == []
    assert charlie_api.get(f"/api/namespaces/{staging.pk}").status_code == 404

    # A viewer of eu/staging sees it and its cluster, reads it, and may not change it.
    assert [c["name"] for c in reader_api.get("/api/clusters").json()["results"]] == ["eu"]
    listed = reader_api.get("/api/namespaces").json()["results"]
    assert [(n["cluster"], n["name"]) for n in listed] == [("eu", "staging")]
    assert reader_api.get(f"/api/namespaces/{staging.pk}").status_code == 200
    response = reader_api.patch(
        f"/api/namespaces/{staging.pk}", {"rollback_on_failure": True}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Changing the settings of eu/staging: it needs the admin role on eu/staging (or on the "
        "whole cluster eu), and you have viewer. Ask an admin of eu/staging to grant it."
    )
    staging.refresh_from_db()
    assert staging.rollback_on_failure is False


def test_the_schema_documents_the_endpoints_and_their_errors(operator_api):
    schema = json.loads(operator_api.get("/api/schema/?format=json").content)
    paths = schema["paths"]
    assert set(paths["/api/clusters"]) == {"get"}
    assert set(paths["/api/namespaces"]) == {"get"}
    assert set(paths["/api/namespaces/{id}"]) == {"get", "patch"}
    assert {"200", "400", "401", "403", "404"} <= set(paths["/api/namespaces/{id}"]["patch"]
                                                      ["responses"])  # fmt: skip
    settings = schema["components"]["schemas"]["PatchedNamespaceSettingsRequest"]
    assert settings["additionalProperties"] is False
    cluster_fields = set(schema["components"]["schemas"]["Cluster"]["properties"])
    assert not {f for f in cluster_fields if "kubeconfig" in f or "password" in f}
