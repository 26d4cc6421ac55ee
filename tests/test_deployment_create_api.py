"""POST /api/deployments and redeploy: everything checked before anything is queued."""

import pytest
from django_q.models import OrmQ

from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from tests.conftest import HELLO_TEMPLATE, open_to_teams

pytestmark = pytest.mark.django_db


@pytest.fixture
def staging(db) -> Namespace:
    cluster = Cluster(name="prod-eu")
    cluster.set_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: []\n")
    cluster.save()
    return open_to_teams(
        Namespace.objects.create(cluster=cluster, name="staging", attributes={"tier": "web"})
    )


def body(**overrides) -> dict:
    data = {"service": "hello-world", "version": "1.0.0", "cluster": "prod-eu",
            "namespace": "staging"}  # fmt: skip
    data.update(overrides)
    return data


def test_deployment_is_accepted_rendered_and_queued(
    alice_api, staging, make_release, django_capture_on_commit_callbacks
):
    release = make_release()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/deployments", body(attributes={"replicas": "5"}), format="json"
        )

    assert response.status_code == 202, response.json()
    deployment = Deployment.objects.get()
    assert response["Location"] == f"http://testserver/api/deployments/{deployment.pk}"
    assert response.json()["status"] == "pending"
    assert deployment.release == release
    assert deployment.attributes["replicas"] == "5"  # the request wins over the release
    assert deployment.attributes["tier"] == "web"  # from the namespace
    assert deployment.attributes["deployment_id"] == str(deployment.pk)
    assert "replicas: 5" in deployment.manifest
    assert deployment.timeout_seconds == 600
    assert OrmQ.objects.count() == 1


def test_release_can_be_named_by_id(alice_api, staging, make_release):
    release = make_release()
    response = alice_api.post(
        "/api/deployments",
        {"release": release.pk, "cluster": "prod-eu", "namespace": "staging"},
        format="json",
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"version": "9.9"}, "has no release '9.9'"),
        ({"cluster": "nowhere"}, "no namespace 'staging' in cluster 'nowhere'"),
        ({"namespace": "qa"}, "no namespace 'qa'"),
    ],
)
def test_unknown_names_get_404_and_no_row(alice_api, staging, make_release, overrides, expected):
    make_release()
    response = alice_api.post("/api/deployments", body(**overrides), format="json")
    assert response.status_code == 404
    assert expected in response.json()["detail"]
    assert not Deployment.all_objects.exists()


def test_deleted_release_cannot_be_deployed(alice_api, alice, staging, make_release):
    make_release().soft_delete(by=alice)
    response = alice_api.post("/api/deployments", body(), format="json")
    assert response.status_code == 404


def test_missing_variable_at_deploy_time_is_named(alice_api, staging, make_release, alice):
    # The release relies on a namespace attribute that this namespace does not set.
    open_to_teams(
        Namespace.objects.create(cluster=staging.cluster, name="other", attributes={"region": "eu"})
    )
    from releases import services as release_services

    template = HELLO_TEMPLATE.replace(
        "name: {{ service }}\nspec:", "name: {{ service }}-{{ region }}\nspec:", 1
    )
    release_services.create_release(
        service="hello-world", version="2", template=template,
        attributes={"image": "x", "replicas": "1"}, comment="", user=alice,
    )  # fmt: skip
    response = alice_api.post("/api/deployments", body(version="2"), format="json")
    assert response.status_code == 400
    assert "No value for region" in response.json()["detail"]
    assert not Deployment.all_objects.exists()


def test_invalid_object_gets_400_naming_the_field(alice_api, staging, make_release):
    make_release()
    response = alice_api.post(
        "/api/deployments", body(attributes={"replicas": "many"}), format="json"
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "deployment.apps/hello-world" in detail
    assert "spec.replicas" in detail
    assert not Deployment.all_objects.exists()


def test_object_aimed_at_another_namespace_is_refused(alice_api, alice, staging):
    from releases import services as release_services

    template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: kube-system\n"
    release_services.create_release(
        service="cm", version="1", template=template, attributes={}, comment="", user=alice
    )
    response = alice_api.post("/api/deployments", body(service="cm", version="1"), format="json")
    assert response.status_code == 400
    assert "sets namespace 'kube-system'" in response.json()["detail"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"cluster": "prod-eu", "namespace": "staging"}, "non_field_errors"),
        ({"release": 1, "service": "a", "version": "1", "cluster": "c", "namespace": "n"},
         "non_field_errors"),
        ({"service": "a", "cluster": "c", "namespace": "n"}, "non_field_errors"),
        ({"release": "one", "cluster": "c", "namespace": "n"}, "release"),
        ({"release": 1, "cluster": "c"}, "namespace"),
        ({"release": 1, "cluster": "c", "namespace": "n", "timeout_seconds": 5}, "timeout_seconds"),
        ({"release": 1, "cluster": "c", "namespace": "n", "attributes": {"a": 1}}, "attributes"),
    ],
)  # fmt: skip
def test_bad_input_gets_400(alice_api, data, field):
    response = alice_api.post("/api/deployments", data, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_permissions(bob_api, charlie_api, staging, make_release):
    make_release()
    assert bob_api.post("/api/deployments", body(), format="json").status_code == 403
    response = bob_api.post("/api/deployments", body(), format="json")
    assert "needs the deployer role on prod-eu/staging" in response.json()["detail"]
    # Reading needs no Django permission: the list holds what a role shows (nothing, here).
    assert charlie_api.get("/api/deployments").json()["results"] == []


def test_redeploy_uses_the_same_release_place_and_attributes(alice_api, staging, make_release):
    make_release()
    first = alice_api.post("/api/deployments", body(attributes={"replicas": "3"}), format="json")
    response = alice_api.post(f"/api/deployments/{first.json()['id']}/redeploy", {}, format="json")

    assert response.status_code == 202
    again = Deployment.objects.get(pk=response.json()["id"])
    assert again.redeploy_of_id == first.json()["id"]
    assert again.requested_attributes == {"replicas": "3"}
    assert again.namespace == staging


def test_redeploy_of_a_missing_deployment_is_404(alice_api):
    assert alice_api.post("/api/deployments/12345/redeploy", {}, format="json").status_code == 404


def test_namespace_attribute_names_count_as_known_when_a_release_is_registered(alice_api, staging):
    # `tier` is set on the staging namespace only: a template may rely on it.
    template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{{ tier }}\n"
    created = alice_api.post(
        "/api/releases",
        {"service": "app", "version": "1", "template": template, "attributes": {}},
        format="json",
    )
    assert created.status_code == 201, created.json()

    deployed = alice_api.post("/api/deployments", body(service="app", version="1"), format="json")
    assert deployed.status_code == 202
    assert "name: app-web" in Deployment.objects.get().manifest
