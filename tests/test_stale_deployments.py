"""Nothing stays running forever: the scheduled check fails deployments whose worker is gone."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from clusters.models import Cluster, Namespace
from deployments import services
from deployments.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def deployment(make_release, alice) -> Deployment:
    cluster = Cluster(name="eu", timeout_seconds=60)
    cluster.set_kubeconfig("{}")
    cluster.save()
    namespace = Namespace.objects.create(cluster=cluster, name="staging")
    return services.create_deployment(
        release=make_release(), namespace=namespace, attributes={}, user=alice
    )


def test_a_deployment_long_past_its_timeout_is_failed(deployment):
    long_ago = timezone.now() - timedelta(seconds=60) - services.STALE_GRACE - timedelta(seconds=1)
    Deployment.objects.filter(pk=deployment.pk).update(status="running", started_at=long_ago)

    assert services.fail_stale_deployments() == 1

    deployment.refresh_from_db()
    assert deployment.status == "failed"
    assert "worker" in deployment.reason
    assert deployment.finished_at is not None


def test_a_deployment_within_its_time_is_left_alone(deployment):
    Deployment.objects.filter(pk=deployment.pk).update(status="running", started_at=timezone.now())
    assert services.fail_stale_deployments() == 0
    deployment.refresh_from_db()
    assert deployment.status == "running"


def test_the_check_is_scheduled_by_a_migration():
    # Unapply and apply again (other tests may have flushed the rows that migrations made).
    call_command("migrate", "deployments", "0001", verbosity=0)
    call_command("migrate", "deployments", verbosity=0)
    schedule = Schedule.objects.get(name="fail stale deployments")
    assert schedule.func == "deployments.tasks.fail_stale_deployments"
    assert schedule.repeats == -1
