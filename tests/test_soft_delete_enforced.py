"""Soft delete is enforced by PostgreSQL: a DELETE on those tables fails, whoever sends it."""

import pytest
from django.db import IntegrityError, connection, transaction

from clusters.models import Cluster, Namespace
from deployments.models import Deployment
from releases.models import Release

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(make_release, alice):
    release = make_release()
    cluster = Cluster(name="main")
    cluster.set_kubeconfig("{}")
    cluster.save()
    namespace = Namespace.objects.create(cluster=cluster, name="staging")
    deployment = Deployment.objects.create(
        release=release, service=release.service, namespace=namespace, created_by=alice,
        manifest="", timeout_seconds=60,
    )  # fmt: skip
    return [release, cluster, namespace, deployment]


def test_the_orm_cannot_delete_a_row(rows):
    deployment = rows[-1]  # nothing refers to it, so no foreign key is what stops it
    refused = pytest.raises(IntegrityError, match="never removed: set deleted_at")
    with refused, transaction.atomic():
        deployment.delete()
    assert Deployment.all_objects.filter(pk=deployment.pk).exists()


@pytest.mark.parametrize(
    "model", [Release, Cluster, Namespace, Deployment], ids=lambda m: m.__name__
)
def test_raw_sql_cannot_delete_a_row(rows, model):
    table = model._meta.db_table
    refused = pytest.raises(IntegrityError, match=f"rows of {table} are never removed")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
    assert model.all_objects.count() == 1


def test_soft_delete_and_restore_still_work(rows, alice):
    release = rows[0]
    assert release.soft_delete(by=alice)
    assert not Release.objects.filter(pk=release.pk).exists()
    release.restore()
    assert Release.objects.filter(pk=release.pk).exists()
