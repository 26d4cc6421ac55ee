"""The admin pages for teams and grants: list, add, revoke."""

import pytest

from clusters.models import Cluster, Namespace
from releases.models import Service
from teams.models import Grant, Team
from tests.conftest import grant, team

pytestmark = pytest.mark.django_db


@pytest.fixture
def places(db):
    clusters = {}
    for name in ("prod-eu", "prod-us"):
        cluster = Cluster(name=name)
        cluster.set_kubeconfig("{}")
        cluster.save()
        clusters[name] = cluster
    return {
        "eu/staging": Namespace.objects.create(cluster=clusters["prod-eu"], name="staging"),
        "us/staging": Namespace.objects.create(cluster=clusters["prod-us"], name="staging"),
        "prod-eu": clusters["prod-eu"],
    }


def test_grants_list_who_what_where(client, admin_user, alice, places):
    grant("deployer", places["eu/staging"], to_team=team("payments"))
    grant("admin", places["prod-eu"], user=alice)
    client.force_login(admin_user)

    page = client.get("/admin/teams/grant/").content.decode()

    assert "team payments" in page and "prod-eu/staging" in page
    assert "user alice" in page and "prod-eu (every namespace)" in page


def test_revoking_a_grant_soft_deletes_it(client, admin_user, alice, places):
    made = grant("deployer", places["eu/staging"], user=alice)
    client.force_login(admin_user)

    response = client.post(
        "/admin/teams/grant/",
        {"action": "revoke", "_selected_action": [made.pk]},
        follow=True,
    )

    assert "Revoked 1 grant(s)" in response.content.decode()
    made.refresh_from_db()
    assert made.is_deleted and made.deleted_by == admin_user
    assert not Grant.objects.exists()
    assert "prod-eu/staging" in client.get("/admin/teams/grant/?deleted=yes").content.decode()


def test_a_grant_on_a_namespace_of_another_cluster_is_refused(client, admin_user, alice, places):
    client.force_login(admin_user)
    response = client.post(
        "/admin/teams/grant/add/",
        {"role": "viewer", "user": alice.pk, "cluster": places["prod-eu"].pk,
         "namespace": places["us/staging"].pk},
    )  # fmt: skip
    assert "This namespace is in another cluster." in response.content.decode()
    assert not Grant.objects.exists()


def test_a_team_page_shows_members_and_services_owned(client, admin_user, alice):
    payments = team("payments")
    payments.members.add(alice)
    Service.objects.create(name="checkout", team=payments)
    client.force_login(admin_user)

    listing = client.get("/admin/teams/team/").content.decode()
    assert "payments" in listing and "checkout" in listing
    page = client.get(f"/admin/teams/team/{payments.pk}/change/").content.decode()
    assert "checkout" in page and "alice" in page
    assert Team.objects.get(name="payments").members.get() == alice


def test_the_service_admin_sets_the_owning_team(client, admin_user):
    payments = team("payments")
    service = Service.objects.create(name="checkout")
    client.force_login(admin_user)

    response = client.post(
        f"/admin/releases/service/{service.pk}/change/", {"name": "checkout", "team": payments.pk}
    )

    assert response.status_code == 302
    service.refresh_from_db()
    assert service.team == payments
