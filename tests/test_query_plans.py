"""The list queries use their indexes (EXPLAIN after ANALYZE, at small scale).

Each page is a keyset query: `WHERE <filters> AND id < <cursor> ORDER BY id DESC LIMIT 51`, so with
the right partial index its cost does not grow with the table.
"""

import pytest
from django.contrib.auth.models import User
from django.db import connection

from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from releases.models import Release, Service

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(alice):
    """200 services, 20,000 releases (a tenth deleted), 50 namespaces, 40,000 deployments."""
    cluster = Cluster(name="eu")
    cluster.set_kubeconfig("{}")
    cluster.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO releases_service (name, created_at) "
            "SELECT 'svc-' || n, now() FROM generate_series(1, 200) n"
        )
        cursor.execute(
            """
            INSERT INTO releases_release
                (service_id, version, template, attributes, comment, created_by_id, created_at,
                 deleted_at, deleted_by_id)
            SELECT s.id, '1.' || n, 'x', '{}', '', %(user)s, now(),
                   CASE WHEN n %% 10 = 0 THEN now() END, CASE WHEN n %% 10 = 0 THEN %(user)s END
            FROM generate_series(1, 20000) n
            JOIN releases_service s ON s.name = 'svc-' || (n %% 200 + 1)
            """,
            {"user": alice.pk},
        )
        cursor.execute(
            "INSERT INTO clusters_namespace (cluster_id, name, attributes, created_at) "
            "SELECT %s, 'ns-' || n, '{}', now() FROM generate_series(1, 50) n",
            [cluster.pk],
        )
        cursor.execute(
            """
            INSERT INTO deployments_deployment
                (release_id, service_id, namespace_id, requested_attributes, attributes, manifest,
                 status, reason, timeout_seconds, applied_objects, workloads, created_by_id,
                 created_at)
            SELECT r.id, r.service_id, ns.id, '{}', '{}', '', 'succeeded', '', 60, '[]', '[]',
                   %(user)s, now()
            FROM releases_release r
            CROSS JOIN generate_series(1, 2) copy
            JOIN clusters_namespace ns ON ns.name = 'ns-' || ((r.id + copy) %% 50 + 1)
            """,
            {"user": alice.pk},
        )
        # A namespace with few deployments (400), where reading the primary key backwards until
        # 51 turn up would cross the whole table: the planner must take the partial index. (For
        # one of the fifty even ones, both plans are fair, and which it picked varied with
        # ANALYZE's sample.)
        cursor.execute(
            "INSERT INTO clusters_namespace (cluster_id, name, attributes, created_at) "
            "VALUES (%s, 'ns-rare', '{}', now())",
            [cluster.pk],
        )
        cursor.execute(
            "UPDATE deployments_deployment SET namespace_id = "
            "(SELECT id FROM clusters_namespace WHERE name = 'ns-rare') WHERE mod(id, 100) = 0"
        )
        cursor.execute("ANALYZE")
    middle = Release.all_objects.order_by("id")[10000].pk
    return {
        "service": Service.objects.get(name="svc-8"),
        "namespace": Namespace.objects.get(name="ns-rare"),
        "middle": middle,
    }


def reads_an_index_in_order(text: str) -> bool:
    return "Index Scan Backward using" in text and "Seq Scan" not in text and "Sort" not in text


def test_list_queries_use_their_indexes(data):
    # One test for all: the data takes a few seconds to make.
    releases, deployments = Release.objects, Deployment.objects
    cases = {
        "first page of releases": (releases.order_by("-id")[:51], None),
        "deep cursor page": (releases.filter(id__lt=data["middle"]).order_by("-id")[:51], None),
        "releases of a service": (
            releases.filter(service=data["service"]).order_by("-id")[:51],
            "release_alive_service_id",
        ),
        "first page of deployments": (deployments.order_by("-id")[:51], None),
        "deployments to a namespace": (
            deployments.filter(namespace=data["namespace"]).order_by("-id")[:51],
            "deployment_alive_namespace_id",
        ),
        "deployments of a service": (
            deployments.filter(service=data["service"]).order_by("-id")[:51],
            "deployment_alive_service_id",
        ),
        "latest deployment to a target": (
            deployments.filter(service=data["service"], namespace=data["namespace"]).order_by(
                "-id"
            )[:1],
            "deployment_alive_target_id",
        ),
    }
    problems = []
    for name, (queryset, index) in cases.items():
        text = queryset.explain()
        in_order = reads_an_index_in_order(text) if index is None else index in text
        if not in_order or "Seq Scan" in text or "Sort" in text:
            problems.append(f"{name}:\n{text}")
    assert not problems, "\n\n".join(problems)


def test_the_release_list_api_reads_its_indexes(data, alice):
    """GET /api/releases runs its own SQL (releases/selectors.py), not the querysets above."""
    from releases import selectors

    cases = {
        "first page": ({}, None, None),
        "deep cursor page": ({}, data["middle"], None),
        "previous page": ({}, data["middle"], None),
        "releases of a service": ({"service": "svc-8"}, None, "release_alive_service_id"),
        "releases by a person": ({"created_by": alice.username}, None, None),
    }
    problems = []
    for name, (filters, position, index) in cases.items():
        reverse = name == "previous page"
        sql = selectors.page_sql(filters, position=position, reverse=reverse)
        parameters = {**filters, "url": "x", "position": position, "limit": 51, "offset": 0}
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, parameters)
            text = "\n".join(row[0] for row in cursor.fetchall())
        in_order = ("Index Scan" in text) if index is None else index in text
        if not in_order or "Seq Scan on releases_release" in text or "Sort" in text:
            problems.append(f"{name}:\n{text}")
    assert not problems, "\n\n".join(problems)


def test_the_list_of_visible_deployments_reads_an_index(data, alice):
    """What a person with a role on a few namespaces lists: one `namespace_id IN (subquery)`
    beside the filters, read in id order without sorting or scanning the deployments."""
    from teams import access
    from tests.conftest import grant

    for name in ("ns-3", "ns-4", "ns-5"):
        grant("viewer", Namespace.objects.get(name=name), user=alice)
    visible = access.limit_to_visible(Deployment.objects.all(), alice)

    text = visible.order_by("-id")[:51].explain()
    assert "Index Scan Backward using" in text, text
    assert "Seq Scan on deployments_deployment" not in text and "Sort" not in text, text
    superuser = User.objects.create_superuser("root")
    assert access.limit_to_visible(Deployment.objects.all(), superuser).query.where == (
        Deployment.objects.all().query.where  # superusers skip the filter
    )
