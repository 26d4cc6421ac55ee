"""The releases and deployments lists: filters, keyset pages, a fixed number of queries."""

import pytest

from deployments.models import Deployment
from tests.test_pages_overview import deployed, make_place

pytestmark = pytest.mark.django_db


def test_releases_filter_by_service_and_page(client, alice, bob, make_release):
    for number in range(52):
        make_release(service="billing", version=f"1.{number}")
    make_release(service="hello-world", user=bob)
    client.force_login(alice)

    page = client.get("/releases/?service=billing").content.decode()
    assert "1.51" in page and "hello-world</a>" not in page
    assert "?service=billing&amp;before=" in page
    before = page.split("before=")[1].split('"')[0]
    second = client.get(f"/releases/?service=billing&before={before}").content.decode()
    assert "1.0<" in second and "1.51" not in second

    by_bob = client.get("/releases/?created_by=bob").content.decode()
    assert "hello-world</a>" in by_bob and "billing" not in by_bob


def test_deployments_filter_by_status_namespace_and_service(client, alice, make_release):
    staging, production = make_place("main", "staging"), make_place("main", "production")
    release = make_release()
    ok = deployed(release, staging, alice)
    bad = deployed(release, production, alice, status=Deployment.Status.FAILED, reason="boom")
    client.force_login(alice)

    failed = client.get("/deployments/?status=failed").content.decode()
    assert f"#{bad.pk}<" in failed and f"#{ok.pk}<" not in failed
    in_staging = client.get("/deployments/?namespace=staging&service=hello-world").content.decode()
    assert f"#{ok.pk}<" in in_staging and f"#{bad.pk}<" not in in_staging


@pytest.mark.parametrize(
    "query", ["status=bogus", "before=-3", "before=abc", "service=" + "x" * 99]
)
def test_bad_filters_are_a_message_not_an_error(client, alice, query):
    client.force_login(alice)
    response = client.get(f"/deployments/?{query}")
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert client.get(f"/releases/?{query}").status_code == 200


def test_lists_take_a_fixed_number_of_queries(
    client, alice, make_release, django_assert_max_num_queries
):
    namespaces = [make_place("main", f"ns{n}") for n in range(3)]
    for number in range(20):
        release = make_release(service=f"svc-{number}")
        for namespace in namespaces:
            deployed(release, namespace, alice)
    client.force_login(alice)

    # Session, user, the page's queries, roles (2), the nav's permissions (2), the filters'
    # suggestions (3: namespaces with their clusters, services, users).
    with django_assert_max_num_queries(10):
        assert client.get("/deployments/").content.decode().count("status-succeeded") == 50
    # Session, user, permissions (2), the page, roles (2), the namespaces for Deploy buttons.
    with django_assert_max_num_queries(8):
        assert client.get("/releases/").content.decode().count("svc-") >= 20
