"""The API by roles: lists hold what you may see, the rest of the world answers 404, and changing
things needs the role that allows it (docs/teams.md)."""

import pytest

from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from tests.conftest import client_for, grant, make_user, open_to_teams
from tests.test_pages_overview import deployed

pytestmark = pytest.mark.django_db
Status = Deployment.Status


@pytest.fixture
def places(db):
    """eu/open (engineers deploy, readers read) and eu/closed (nobody holds a role)."""
    cluster = Cluster(name="eu")
    cluster.set_kubeconfig("{}")
    cluster.save()
    return {
        "open": open_to_teams(Namespace.objects.create(cluster=cluster, name="open")),
        "closed": Namespace.objects.create(cluster=cluster, name="closed"),
    }


@pytest.fixture
def rows(places, make_release, alice):
    release = make_release()
    return {
        name: deployed(release, namespace, alice, status=Status.PENDING)
        for name, namespace in places.items()
    }


def listed(api, path: str) -> list:
    response = api.get(path)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def test_lists_hold_only_what_you_may_see(rows, places, alice_api, charlie_api, admin_user):
    assert [d["id"] for d in listed(alice_api, "/api/deployments")] == [rows["open"].pk]
    assert listed(charlie_api, "/api/deployments") == []
    everything = listed(client_for(admin_user), "/api/deployments")
    assert {d["id"] for d in everything} == {rows["open"].pk, rows["closed"].pk}

    assert [n["name"] for n in listed(alice_api, "/api/namespaces")] == ["open"]
    assert [c["name"] for c in listed(alice_api, "/api/clusters")] == ["eu"]
    assert listed(charlie_api, "/api/clusters") == []


def test_a_role_is_enough_without_django_permissions(rows, places, charlie, charlie_api):
    grant("viewer", places["closed"], user=charlie)
    assert [d["id"] for d in listed(charlie_api, "/api/deployments")] == [rows["closed"].pk]
    assert charlie_api.get(f"/api/deployments/{rows['closed'].pk}").status_code == 200


def test_a_cluster_grant_shows_every_namespace_of_the_cluster(rows, places, charlie, charlie_api):
    grant("viewer", places["open"].cluster, user=charlie)
    assert {d["id"] for d in listed(charlie_api, "/api/deployments")} == {
        rows["open"].pk,
        rows["closed"].pk,
    }


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/deployments/{pk}"),
        ("get", "/api/deployments/{pk}/log"),
        ("post", "/api/deployments/{pk}/redeploy"),
        ("post", "/api/deployments/{pk}/cancel"),
    ],
)
def test_what_you_may_not_see_is_not_found(rows, alice_api, method, path):
    hidden = rows["closed"]
    response = getattr(alice_api, method)(path.format(pk=hidden.pk), format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"There is no deployment {hidden.pk} that you may see: it needs the viewer role on its "
        "namespace."
    )
    # The same answer as for a deployment that does not exist.
    missing = getattr(alice_api, method)(path.format(pk=999999), format="json")
    assert missing.status_code == 404
    assert Deployment.objects.get(pk=hidden.pk).status == Status.PENDING


def test_cancel_needs_the_deployer_role(rows, bob_api, alice_api):
    pending = rows["open"]
    response = bob_api.post(f"/api/deployments/{pending.pk}/cancel")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"Cancelling deployment {pending.pk}: it needs the deployer role on eu/open (or on the "
        "whole cluster eu), and you have viewer. Ask an admin of eu/open to grant it."
    )
    assert Deployment.objects.get(pk=pending.pk).status == Status.PENDING

    assert alice_api.post(f"/api/deployments/{pending.pk}/cancel").status_code == 200


def test_redeploy_through_the_api_needs_the_deployer_role(rows, bob_api):
    response = bob_api.post(f"/api/deployments/{rows['open'].pk}/redeploy", {}, format="json")
    assert response.status_code == 403
    assert "needs the deployer role on eu/open" in response.json()["detail"]
    assert Deployment.objects.count() == 2


def test_changing_a_namespace_needs_the_admin_role(places, alice, alice_api):
    path = f"/api/namespaces/{places['open'].pk}"
    response = alice_api.patch(path, {"rollback_on_failure": True}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Changing the settings of eu/open: it needs the admin role on eu/open (or on the whole "
        "cluster eu), and you have deployer. Ask an admin of eu/open to grant it."
    )

    grant("admin", places["open"].cluster, user=alice)
    response = alice_api.patch(path, {"rollback_on_failure": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["rollback_on_failure"] is True


def test_a_superuser_changes_any_namespace(places, admin_user):
    api = client_for(admin_user)
    response = api.patch(
        f"/api/namespaces/{places['closed'].pk}", {"rollback_on_failure": True}, format="json"
    )
    assert response.status_code == 200


def test_the_schema_says_what_refusals_mean(alice_api):
    schema = alice_api.get("/api/schema/?format=json").json()
    cancel = schema["paths"]["/api/deployments/{id}/cancel"]["post"]["responses"]
    assert "deployer" in cancel["403"]["description"]
    assert "viewer" in cancel["404"]["description"]
    patch = schema["paths"]["/api/namespaces/{id}"]["patch"]["responses"]
    assert "admin" in patch["403"]["description"]
    listing = schema["paths"]["/api/deployments"]["get"]["responses"]
    assert "role" in listing["403"]["description"]


def test_a_token_user_with_no_role_gets_empty_lists_not_errors(places, db):
    api = client_for(make_user("dora"))
    for path in ("/api/deployments", "/api/namespaces", "/api/clusters"):
        assert listed(api, path) == []
