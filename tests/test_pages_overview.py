"""The overview: services by namespace with what is deployed where."""

import pytest

from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from tests.conftest import open_to_teams

pytestmark = pytest.mark.django_db


def make_place(cluster_name: str, namespace_name: str) -> Namespace:
    cluster = Cluster.objects.filter(name=cluster_name).first()
    if cluster is None:
        cluster = Cluster(name=cluster_name)
        cluster.set_kubeconfig("{}")
        cluster.save()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name=namespace_name))


def deployed(release, namespace, user, status=Deployment.Status.SUCCEEDED, **fields):
    """A deployment row as the worker leaves it, without running anything."""
    values = {"manifest": "", "timeout_seconds": 60, **fields}
    return Deployment.objects.create(
        release=release, service=release.service, namespace=namespace, created_by=user,
        status=status, **values,
    )  # fmt: skip


def test_grid_shows_the_newest_deployment_per_service_and_namespace(client, alice, make_release):
    staging, production = make_place("main", "staging"), make_place("main", "production")
    one, two = make_release(version="1.0.0"), make_release(version="2.0.0")
    deployed(one, staging, alice)
    deployed(two, staging, alice, status=Deployment.Status.FAILED, reason="image not found")
    deployed(one, production, alice)
    client.force_login(alice)

    page = client.get("/").content.decode()

    assert "main /</span> staging" in page
    assert "2.0.0" in page and "Failed" in page and "Succeeded" in page
    assert "still running: <a" in page and ">1.0.0</a></div>" in page
    assert 'href="/services/hello-world/"' in page


def test_search_narrows_the_services(client, alice, make_release):
    make_place("main", "staging")
    make_release(service="hello-world")
    make_release(service="billing")
    client.force_login(alice)

    page = client.get("/?q=bill").content.decode()

    assert "billing" in page and "hello-world" not in page
    assert "No service matches" in client.get("/?q=zzz").content.decode()


def test_overview_queries_do_not_grow_with_rows(
    client, alice, make_release, django_assert_max_num_queries
):
    namespaces = [make_place("main", f"ns{n}") for n in range(4)]
    for number in range(6):
        release = make_release(service=f"service-{number}")
        for namespace in namespaces:
            deployed(release, namespace, alice)
    client.force_login(alice)

    # Session, user, permissions, services, namespaces, two grid lookups, the deployments.
    # The grid's queries, the roles (2), the locks (1) and the nav's permissions (2), and the
    # manifests of what runs, for the live state (1).
    with django_assert_max_num_queries(13):
        response = client.get("/")

    assert response.status_code == 200
    assert response.content.decode().count('class="status status-succeeded"') == 24


def test_overview_without_clusters_says_what_to_do(client, alice, make_release):
    make_release()
    client.force_login(alice)
    assert "No clusters or namespaces yet" in client.get("/").content.decode()


def test_grid_lookup_probes_the_index_per_cell(alice, make_release):
    """At 40,000 deployments the overview still reads one index entry per cell, no table scan."""
    from django.db import connection

    from deployments.services import latest_deployment_ids, latest_deployment_sql

    release = make_release()
    namespaces = [make_place("main", f"ns{n}") for n in range(20)]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO deployments_deployment
                (release_id, service_id, namespace_id, requested_attributes, attributes, manifest,
                 status, reason, timeout_seconds, applied_objects, workloads, created_by_id,
                 created_at)
            SELECT %(release)s, %(service)s, (%(namespaces)s::bigint[])[n %% 20 + 1], '{}', '{}',
                   '', 'succeeded', '', 60, '[]', '[]', %(user)s, now()
            FROM generate_series(1, 40000) n
            """,
            {"release": release.pk, "service": release.service_id, "user": alice.pk,
             "namespaces": [n.pk for n in namespaces]},
        )  # fmt: skip
        cursor.execute("ANALYZE deployments_deployment")

    ids = latest_deployment_ids([release.service_id], [n.pk for n in namespaces])
    assert len(ids) == 20
    newest = Deployment.objects.filter(namespace=namespaces[0]).order_by("-id").first()
    assert newest.pk in ids

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN " + latest_deployment_sql(succeeded_only=False),
            [[release.service_id], [n.pk for n in namespaces]],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "deployment_alive_target_id" in plan, plan
    assert "Seq Scan on deployments_deployment" not in plan, plan


def test_one_rendering_of_the_grid_serves_everyone_for_a_moment(
    client, alice, bob, make_release, settings, django_assert_max_num_queries
):
    from django.core.cache import cache

    cache.clear()
    settings.KUBERNAUT_OVERVIEW_CACHE_SECONDS = 60
    staging = make_place("main", "staging")
    release = make_release(version="1.0.0")
    deployed(release, staging, alice)
    client.force_login(alice)
    first = client.get("/").content.decode()
    deployed(make_release(version="2.0.0"), staging, alice)

    client.force_login(bob)
    # session, user, roles (2, for the cache key), permissions (2, for the nav's Audit link):
    # none of the grid's queries
    with django_assert_max_num_queries(6):
        cached = client.get("/").content.decode()
    searched = client.get("/?q=hello").content.decode()

    assert ">1.0.0</a>" in first and ">1.0.0</a>" in cached and "2.0.0" not in cached
    assert ">2.0.0</a>" in searched  # another search is another rendering
    assert "Log out bob" in cached  # the page around the grid is each user's own
    cache.clear()
