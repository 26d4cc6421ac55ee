"""A token's scope narrows what its user may do through it, never widens it: namespaces,
services, read-only."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from releases.models import Release
from tests.conftest import open_to_teams, release_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(db) -> Cluster:
    # Creating a deployment renders and checks it without calling the cluster.
    cluster = Cluster(name="sandbox")
    cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
    cluster.save()
    return cluster


@pytest.fixture
def staging(cluster) -> Namespace:
    return open_to_teams(Namespace.objects.create(cluster=cluster, name="staging", attributes={}))


@pytest.fixture
def production(cluster) -> Namespace:
    return open_to_teams(
        Namespace.objects.create(cluster=cluster, name="production", attributes={})
    )


def api(user, **scope) -> APIClient:
    _, key = ApiToken.issue(user, "ci", **scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def deploy(client: APIClient, namespace: str, service: str = "hello-world"):
    return client.post(
        "/api/deployments",
        {"service": service, "version": "1.0.0", "cluster": "sandbox", "namespace": namespace},
        format="json",
    )


def test_token_scoped_to_staging_cannot_deploy_to_production(
    alice, staging, production, make_release
):
    make_release()
    client = api(alice, namespaces=[staging])

    response = deploy(client, "production")

    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "limited to sandbox/staging" in detail
    assert "cannot be used for sandbox/production" in detail
    assert not Deployment.all_objects.exists()
    assert deploy(client, "staging").status_code == 202


def test_token_never_grants_more_than_its_user(alice, cluster, make_release):
    # alice has no role on this namespace; a token naming it does not give her one.
    elsewhere = Namespace.objects.create(cluster=cluster, name="elsewhere", attributes={})
    make_release()

    response = deploy(api(alice, namespaces=[elsewhere]), "elsewhere")

    assert response.status_code == 403
    assert "needs the deployer role on sandbox/elsewhere" in response.json()["detail"]


def test_token_scoped_to_a_deleted_namespace_is_limited_to_nothing(
    alice, admin_user, staging, production, make_release
):
    make_release()
    client = api(alice, namespaces=[staging])
    staging.soft_delete(by=admin_user)

    response = deploy(client, "production")

    assert response.status_code == 403
    assert "limited to sandbox/staging" in response.json()["detail"]


def test_service_scoped_token_deploys_only_its_services(alice, staging, make_release):
    make_release("hello-world")
    make_release("billing")
    client = api(alice, services=["hello-world"])

    refused = deploy(client, "staging", service="billing")

    assert refused.status_code == 403
    assert "limited to the services hello-world" in refused.json()["detail"]
    assert deploy(client, "staging", service="hello-world").status_code == 202


def test_service_scoped_token_registers_releases_only_of_its_services(alice):
    client = api(alice, services=["hello-world", "web"])

    refused = client.post("/api/releases", release_body(service="billing"), format="json")

    assert refused.status_code == 403
    assert "cannot be used for billing" in refused.json()["detail"]
    assert not Release.all_objects.exists()
    allowed = client.post("/api/releases", release_body(service="web"), format="json")
    assert allowed.status_code == 201, allowed.json()


def test_service_scoped_token_deletes_releases_only_of_its_services(alice, make_release):
    billing = make_release("billing")
    web = make_release("web")
    client = api(alice, services=["web"])

    refused = client.delete(f"/api/releases/{billing.pk}")

    assert refused.status_code == 403
    assert "limited to the services web" in refused.json()["detail"]
    billing.refresh_from_db()
    assert billing.deleted_at is None
    assert client.delete(f"/api/releases/{web.pk}").status_code == 204


def test_read_only_token_reads_but_changes_nothing(alice, staging, make_release):
    release = make_release()
    deployment_id = deploy(api(alice), "staging").json()["id"]
    client = api(alice, read_only=True)

    assert client.get("/api/releases").status_code == 200
    assert client.get(f"/api/deployments/{deployment_id}").status_code == 200
    assert client.head("/api/releases").status_code == 200
    # Refused where tokens are authenticated, so endpoints that never heard of read-only
    # tokens (cancel, redeploy, namespaces, whatever comes next) refuse too.
    for response in (
        client.post("/api/releases", release_body(version="2.0.0"), format="json"),
        deploy(client, "staging"),
        client.delete(f"/api/releases/{release.pk}"),
        client.post(f"/api/deployments/{deployment_id}/cancel"),
        client.post(f"/api/deployments/{deployment_id}/redeploy", {}, format="json"),
        client.patch(f"/api/namespaces/{staging.pk}", {"attributes": {}}, format="json"),
        client.put(f"/api/namespaces/{staging.pk}", {}, format="json"),
    ):
        assert response.status_code == 403
        assert "The token ci is read-only" in response.json()["detail"]
    assert Release.objects.count() == 1
    assert Deployment.all_objects.get().status == Deployment.Status.PENDING


def test_unscoped_token_does_what_its_user_may(alice, staging, production, make_release):
    make_release()
    client = api(alice)
    assert deploy(client, "staging").status_code == 202
    assert deploy(client, "production").status_code == 202


def test_visible_namespaces_through_a_token_are_its_scope(alice, staging, production):
    from teams import access

    token, _ = ApiToken.issue(alice, "ci", namespaces=[staging])
    assert set(access.visible_namespaces(alice)) == {staging, production}
    assert list(access.visible_namespaces(alice, token=token)) == [staging]
    assert set(access.visible_namespaces(alice, token=ApiToken.issue(alice)[0])) == {
        staging,
        production,
    }


def test_scope_summary_says_where_what_and_until_when(alice, staging, production):
    token, _ = ApiToken.issue(
        alice, "ci", namespaces=[production, staging], services=["web", "api"], read_only=True
    )
    assert token.scope_summary() == (
        "namespaces sandbox/production, sandbox/staging; services api, web; read-only; "
        "never expires"
    )
    assert ApiToken.issue(alice)[0].scope_summary() == (
        "every namespace its user may use; every service; read and write; never expires"
    )
