"""GET /api/deployments, /api/deployments/{id} and its log."""

import pytest

from clusters.models import Cluster, Namespace
from deployments import services
from deployments.models import Deployment
from tests.conftest import grant, open_to_teams

pytestmark = pytest.mark.django_db


@pytest.fixture
def namespaces(db) -> dict[str, Namespace]:
    cluster = Cluster(name="eu")
    cluster.set_kubeconfig("{}")
    cluster.save()
    return {
        name: open_to_teams(Namespace.objects.create(cluster=cluster, name=name))
        for name in ("staging", "production")
    }


def deploy(release, namespace, user) -> Deployment:
    return services.create_deployment(
        release=release, namespace=namespace, attributes={}, user=user
    )


def test_list_newest_first_with_filters(alice_api, alice, bob, namespaces, make_release):
    one, two = make_release(version="1"), make_release(version="2")
    first = deploy(one, namespaces["staging"], alice)
    grant("deployer", namespaces["production"], user=bob)
    second = deploy(two, namespaces["production"], bob)
    Deployment.objects.filter(pk=second.pk).update(status="failed")

    def ids(query: str = "") -> list[int]:
        response = alice_api.get(f"/api/deployments{query}")
        assert response.status_code == 200, response.json()
        return [item["id"] for item in response.json()["results"]]

    assert ids() == [second.pk, first.pk]
    assert ids("?version=1") == [first.pk]
    assert ids("?service=hello-world&namespace=production") == [second.pk]
    assert ids("?cluster=eu&status=failed") == [second.pk]
    assert ids("?created_by=alice") == [first.pk]
    assert alice_api.get("/api/deployments?status=exploded").status_code == 400


def test_detail_has_log_objects_and_manifest(bob_api, alice, namespaces, make_release):
    deployment = deploy(make_release(), namespaces["staging"], alice)

    body = bob_api.get(f"/api/deployments/{deployment.pk}").json()

    assert body["status"] == "pending"
    assert body["manifest"].startswith("apiVersion: apps/v1")
    assert body["log"][0]["message"].startswith("alice asked to deploy hello-world 1.0.0")
    assert body["applied_objects"] == []


def test_log_after_a_line_returns_only_newer_lines(bob_api, alice, namespaces, make_release):
    deployment = deploy(make_release(), namespaces["staging"], alice)
    first = deployment.log_entries.get()
    deployment.log("second line")
    deployment.log("third line", "error")

    response = bob_api.get(f"/api/deployments/{deployment.pk}/log?after={first.pk}")

    assert response.status_code == 200
    assert [e["message"] for e in response.json()["log"]] == ["second line", "third line"]
    assert response.json()["finished"] is False
    assert bob_api.get(f"/api/deployments/{deployment.pk}/log?after=x").status_code == 400


def test_list_query_count_is_constant(alice_api, alice, namespaces, make_release,
                                      django_assert_max_num_queries):  # fmt: skip
    release = make_release()
    for _ in range(10):
        deploy(release, namespaces["staging"], alice)
    # token, last use, roles (teams, grants), the token's namespaces, the page, its namespaces,
    # its users
    with django_assert_max_num_queries(8):
        response = alice_api.get("/api/deployments")
    assert len(response.json()["results"]) == 10


def test_list_rows_have_the_documented_shape(alice_api, alice, namespaces, make_release, rf):
    # Rows are built without the serializer for speed; they must match what it documents.
    from deployments.serializers import DeploymentSerializer

    deployment = deploy(make_release(), namespaces["staging"], alice)
    Deployment.objects.filter(pk=deployment.pk).update(status="failed", reason="no")
    deployment.refresh_from_db()
    row = alice_api.get("/api/deployments").json()["results"][0]
    request = rf.get("/api/deployments")
    assert row == dict(DeploymentSerializer(deployment, context={"request": request}).data)
