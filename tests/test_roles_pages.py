"""The pages by roles: each person sees the namespaces they hold a role on and only the buttons
they may use; Redeploy and Roll back show the diff before anything runs (docs/teams.md)."""

import pytest

from clusters.models import Namespace
from deployments.models import Deployment
from releases.models import Service
from teams.models import Grant
from tests.conftest import grant, team
from tests.test_pages_overview import deployed

pytestmark = pytest.mark.django_db
Status = Deployment.Status


@pytest.fixture
def closed(target):
    """A namespace of the same cluster where nobody holds a role."""
    return Namespace.objects.create(cluster=target.cluster, name="closed")


@pytest.fixture
def owned_elsewhere(make_release):
    """A release of `search`, a service team search owns (alice is in team engineers)."""
    release = make_release(service="search")
    Service.objects.filter(name="search").update(team=team("search"))
    return release


def deploy_buttons(page: str) -> int:
    return page.count(">Deploy</a>")


def test_charlie_sees_no_deploy_button_anywhere(client, charlie, make_release, target):
    from django.contrib.auth.models import Permission

    charlie.user_permissions.add(Permission.objects.get(codename="view_release"))
    release = make_release()
    client.force_login(charlie)

    assert deploy_buttons(client.get("/services/hello-world/").content.decode()) == 0
    assert deploy_buttons(client.get("/releases/").content.decode()) == 0
    response = client.get(f"/releases/{release.pk}/deploy")
    assert response.status_code == 403
    assert "needs the deployer role on a namespace" in response.content.decode()


def test_alice_sees_deploy_buttons_only_for_what_she_may_deploy(
    client, alice, make_release, owned_elsewhere, target
):
    make_release()  # hello-world: no team owns it, so deployers may deploy it
    client.force_login(alice)

    releases = client.get("/releases/").content.decode()
    assert 'aria-label="Deploy hello-world 1.0.0"' in releases
    assert 'aria-label="Deploy search 1.0.0"' not in releases
    assert deploy_buttons(client.get("/services/hello-world/").content.decode()) == 1
    assert deploy_buttons(client.get("/services/search/").content.decode()) == 0
    response = client.get(f"/releases/{owned_elsewhere.pk}/deploy")
    assert response.status_code == 403
    assert "as a member of its team search" in response.content.decode()


def test_the_deploy_form_lists_only_namespaces_where_she_may_deploy(
    client, alice, make_release, target, closed, make_target
):
    watched = make_target()  # engineers only view this one:
    Grant.objects.filter(namespace=watched, team__name="engineers").update(role="viewer")
    release = make_release()
    client.force_login(alice)

    page = client.get(f"/releases/{release.pk}/deploy").content.decode()

    assert f'<option value="{target.pk}">' in page
    assert f'<option value="{closed.pk}">' not in page
    assert f'<option value="{watched.pk}">' not in page
    # Posting a namespace anyway is a 403 naming the role and the place.
    response = client.post(
        f"/releases/{release.pk}/deploy",
        {"namespace": watched.pk, "attributes": "", "action": "deploy"},
    )
    assert response.status_code == 403
    assert f"needs the deployer role on {watched}" in response.content.decode()
    assert not Deployment.objects.exists()


def test_the_deployment_page_offers_only_the_buttons_one_may_use(
    client, alice, bob, make_release, owned_elsewhere, target
):
    ours = deployed(make_release(), target, alice, status=Status.PENDING)
    theirs = deployed(owned_elsewhere, target, alice, status=Status.PENDING)

    client.force_login(bob)  # viewer
    page = client.get(f"/deployments/{ours.pk}/").content.decode()
    assert "Redeploy" not in page and "Cancel deployment" not in page

    client.force_login(alice)  # deployer, in team engineers
    page = client.get(f"/deployments/{ours.pk}/").content.decode()
    assert "Redeploy…" in page and "Cancel deployment" in page
    page = client.get(f"/deployments/{theirs.pk}/").content.decode()
    assert "Redeploy" not in page  # search is team search's to deploy
    assert "Cancel deployment" in page  # but a deployer there may stop anything


def test_invisible_deployments_are_not_found_on_pages(client, alice, make_release, closed):
    hidden = deployed(make_release(), closed, alice)
    client.force_login(alice)
    for url in (
        f"/deployments/{hidden.pk}/",
        f"/deployments/{hidden.pk}/progress",
        f"/releases/{hidden.release_id}/deploy?redeploy_of={hidden.pk}",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/deployments/{hidden.pk}/cancel").status_code == 404
    assert f"/deployments/{hidden.pk}/" not in client.get("/deployments/").content.decode()


def test_the_overview_shows_only_visible_namespaces(client, bob, make_release, target, closed):
    make_release()
    client.force_login(bob)
    page = client.get("/").content.decode()
    assert f"</span> {target.name}</th>" in page
    assert "</span> closed</th>" not in page


def test_a_redeploy_of_another_release_is_refused_and_nothing_queued(
    client, alice, make_release, target
):
    one, two = make_release(version="1"), make_release(version="2")
    first = deployed(one, target, alice)
    client.force_login(alice)

    # Tampered: the hidden field names a deployment of release 1 on release 2's page.
    response = client.post(
        f"/releases/{two.pk}/deploy",
        {"namespace": target.pk, "attributes": "", "redeploy_of": first.pk, "action": "deploy"},
    )
    assert response.status_code == 200
    assert f"Deployment #{first.pk} is not a deployment of this release" in (
        response.content.decode()
    )
    assert Deployment.objects.count() == 1
    assert client.get(f"/releases/{two.pk}/deploy?redeploy_of={first.pk}").status_code == 404


def test_a_redeploy_goes_where_the_original_went(client, alice, make_release, target, make_target):
    release = make_release()
    first = deployed(release, target, alice)
    elsewhere = make_target()
    client.force_login(alice)

    response = client.post(
        f"/releases/{release.pk}/deploy",
        {"namespace": elsewhere.pk, "attributes": "", "redeploy_of": first.pk, "action": "deploy"},
    )
    assert f"A redeploy of #{first.pk} goes to {target} again" in response.content.decode()
    assert Deployment.objects.count() == 1


def test_a_user_grant_lets_charlie_deploy_where_it_is(client, charlie, make_release, target):
    from django.contrib.auth.models import Permission

    charlie.user_permissions.add(Permission.objects.get(codename="view_release"))
    grant("deployer", target, user=charlie)
    release = make_release()
    client.force_login(charlie)

    page = client.post(
        f"/releases/{release.pk}/deploy",
        {"namespace": target.pk, "attributes": "", "action": "deploy"},
    )
    assert page.status_code == 302
    assert Deployment.objects.get().created_by == charlie
