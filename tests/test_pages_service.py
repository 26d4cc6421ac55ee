"""The service page: releases newest first, where each runs, and the deployment history."""

import pytest

from deployments.models import Deployment
from tests.test_pages_overview import deployed, make_place

pytestmark = pytest.mark.django_db


def test_releases_newest_first_with_deploy_buttons_and_where_they_run(client, alice, make_release):
    staging = make_place("main", "staging")
    old = make_release(version="1.0.0", comment="the first one")
    make_release(version="2.0.0")
    deployed(old, staging, alice)
    client.force_login(alice)

    page = client.get("/services/hello-world/").content.decode()

    assert page.index("2.0.0") < page.index(f'/releases/{old.pk}/">1.0.0</a></td>')
    assert "the first one" in page
    assert f'href="/releases/{old.pk}/deploy"' in page
    assert "main/staging" in page  # where 1.0.0 is live
    assert "registry.example/hello-world:1.0.0" in page  # a key attribute


def test_read_only_user_sees_no_deploy_button(client, bob, make_release):
    release = make_release()
    client.force_login(bob)
    page = client.get("/services/hello-world/").content.decode()
    assert f"/releases/{release.pk}/deploy" not in page


def test_older_releases_are_a_page_away(client, alice, make_release):
    for number in range(55):
        make_release(version=f"1.0.{number}")
    client.force_login(alice)

    first = client.get("/services/hello-world/").content.decode()
    assert "1.0.54" in first and "1.0.4<" not in first
    before = first.split("?before=")[1].split('"')[0]
    second = client.get(f"/services/hello-world/?before={before}").content.decode()
    assert "1.0.4<" in second and "1.0.54" not in second
    assert client.get("/services/hello-world/?before=x").status_code == 200


def test_service_page_queries_do_not_grow_with_rows(
    client, alice, make_release, django_assert_max_num_queries
):
    namespaces = [make_place("main", f"ns{n}") for n in range(3)]
    for number in range(10):
        release = make_release(version=f"1.{number}")
        for namespace in namespaces:
            deployed(release, namespace, alice, status=Deployment.Status.SUCCEEDED)
    client.force_login(alice)

    # The first 10 as before, with roles (teams, grants) in place of the deployments permission,
    # and one for the live state: the manifests of what runs, to compare with the clusters.
    with django_assert_max_num_queries(13):
        assert client.get("/services/hello-world/").status_code == 200
