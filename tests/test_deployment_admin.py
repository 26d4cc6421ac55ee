"""The admin's deployment page: a record to read, not a form to save."""

import pytest

from deployments.models import Deployment
from releases.models import Service
from tests.test_pages_overview import deployed, make_place

pytestmark = pytest.mark.django_db


def test_a_deployment_cannot_be_changed_in_the_admin(client, admin_user, alice, make_release):
    staging = make_place("main", "staging")
    deployment = deployed(make_release(), staging, alice, manifest="a:\n  b: 1")
    other = Service.objects.create(name="other")
    client.force_login(admin_user)
    url = f"/admin/deployments/deployment/{deployment.pk}/change/"

    page = client.get(url).content.decode()
    assert 'name="_save"' not in page
    assert '<pre class="manifest">a:\n  b: 1</pre>' in page

    assert client.post(url, {"service": other.pk}).status_code == 403
    assert Deployment.objects.get(pk=deployment.pk).service_id != other.pk


def test_soft_delete_stays_a_list_action(client, admin_user, alice, make_release):
    deployment = deployed(make_release(), make_place("main", "staging"), alice)
    client.force_login(admin_user)
    response = client.post(
        "/admin/deployments/deployment/",
        {"action": "soft_delete", "_selected_action": [deployment.pk]},
    )
    assert response.status_code == 302
    assert not Deployment.objects.filter(pk=deployment.pk).exists()
    assert Deployment.all_objects.filter(pk=deployment.pk).exists()
