"""Nothing waits for a worker that stopped: the scheduled check, judged by the heartbeat.

The check is called directly with the moment it judges (`now`), never waited for.
"""

import os
import socket
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from clusters.models import Cluster, Namespace
from deployments import services
from deployments.models import Deployment
from tests.conftest import open_to_teams

pytestmark = pytest.mark.django_db
Status = Deployment.Status


@pytest.fixture
def namespace() -> Namespace:
    cluster = Cluster(name="eu", timeout_seconds=60)
    cluster.set_kubeconfig("{}")
    cluster.save()
    return open_to_teams(Namespace.objects.create(cluster=cluster, name="staging"))


@pytest.fixture
def deploy(make_release, alice, namespace):
    def make(version: str = "1.0.0", timeout: int = 60) -> Deployment:
        return services.create_deployment(
            release=make_release(version=version), namespace=namespace, attributes={},
            user=alice, timeout_seconds=timeout,
        )  # fmt: skip

    return make


def queued() -> int:
    return OrmQ.objects.count()


def test_a_pending_deployment_behind_a_long_rollout_is_left_waiting(deploy):
    # The case: a 30-minute rollout with a 10-minute one queued behind it, at 15 minutes.
    asked = timezone.now()
    running, waiting = deploy("1", timeout=1800), deploy("2", timeout=600)
    now = asked + timedelta(minutes=15)
    Deployment.objects.filter(pk=running.pk).update(
        status=Status.RUNNING, started_at=asked, heartbeat_at=now - timedelta(seconds=2)
    )
    before = queued()

    assert services.check_unfinished_deployments(now=now) == 0

    assert Deployment.objects.get(pk=waiting.pk).status == Status.PENDING
    assert Deployment.objects.get(pk=running.pk).status == Status.RUNNING
    assert queued() == before


def test_a_rollout_whose_heartbeat_stopped_is_queued_again_once(deploy):
    deployment = deploy()
    now = timezone.now()
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Status.RUNNING, started_at=now - timedelta(seconds=30),
        heartbeat_at=now - timedelta(seconds=25), worker="web-1:42",
    )  # fmt: skip
    before = queued()

    assert services.check_unfinished_deployments() == 1
    assert services.check_unfinished_deployments() == 0  # it was vouched for just now

    assert queued() == before + 1
    deployment.refresh_from_db()
    assert deployment.status == Status.RUNNING
    assert deployment.log_entries.last().message == (
        "The worker following this deployment (web-1:42) stopped sending its heartbeat; queued "
        "again for another worker."
    )


def test_only_the_oldest_of_a_stranded_target_is_queued_again(deploy):
    # The worker that takes it runs the target's queue in order.
    first, second = deploy("1"), deploy("2")
    now = timezone.now() + timedelta(minutes=2)
    before = queued()
    assert services.check_unfinished_deployments(now=now) == 1
    assert queued() == before + 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.heartbeat_at is not None and second.heartbeat_at is None


def test_a_deployment_still_waiting_is_queued_again_less_and_less_often(deploy):
    waiting = deploy()
    asked = waiting.created_at
    Deployment.objects.filter(pk=waiting.pk).update(heartbeat_at=asked + timedelta(seconds=70))
    before = queued()
    # 100 s old, queued again 30 s ago: it waits until half its age has passed since.
    assert services.check_unfinished_deployments(now=asked + timedelta(seconds=100)) == 0
    assert services.check_unfinished_deployments(now=asked + timedelta(seconds=150)) == 1
    assert queued() == before + 1


def test_a_rollout_with_a_live_heartbeat_is_left_alone(deploy):
    deployment = deploy()
    now = timezone.now()
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Status.RUNNING, started_at=now - timedelta(hours=1), heartbeat_at=now
    )
    assert services.check_unfinished_deployments() == 0
    assert Deployment.objects.get(pk=deployment.pk).status == Status.RUNNING


def test_a_deployment_long_past_its_timeout_without_a_worker_is_failed(deploy):
    deployment = deploy()
    long_ago = timezone.now() - timedelta(seconds=60) - services.STALE_GRACE - timedelta(seconds=1)
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Status.RUNNING, started_at=long_ago, heartbeat_at=long_ago
    )

    assert services.check_unfinished_deployments() == 1

    deployment.refresh_from_db()
    assert deployment.status == Status.FAILED
    assert "worker" in deployment.reason
    assert deployment.finished_at is not None


def test_a_cancelled_rollout_whose_worker_stopped_ends_cancelled(deploy, alice):
    deployment = deploy()
    now = timezone.now()
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Status.RUNNING, started_at=now - timedelta(seconds=40),
        heartbeat_at=now - timedelta(seconds=30),
        applied_objects=[{"apiVersion": "v1", "kind": "Service", "name": "web"}],
    )  # fmt: skip
    assert deployment.cancel(by=alice) is False

    assert services.check_unfinished_deployments() == 1

    deployment.refresh_from_db()
    assert deployment.status == Status.CANCELLED
    assert "Left in the cluster as applied: service/web" in deployment.log_entries.last().message


def test_a_starting_worker_queues_again_the_rollouts_of_dead_workers_here(deploy):
    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid now names no process
    here = socket.gethostname()
    dead, alive, elsewhere = deploy("1"), deploy("2"), deploy("3")
    now = timezone.now()
    for deployment, worker in [(dead, f"{here}:{finished.pid}"), (alive, f"{here}:{os.getpid()}"),
                               (elsewhere, f"other-host:{finished.pid}")]:  # fmt: skip
        Deployment.objects.filter(pk=deployment.pk).update(
            status=Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker
        )
    before = queued()

    assert services.requeue_deployments_of_dead_workers() == 1

    assert queued() == before + 1
    assert dead.log_entries.last().message == (
        f"The worker following this deployment ({here}:{finished.pid}) died; queued again for "
        "another worker."
    )
    for untouched in (alive, elsewhere):
        assert "died" not in untouched.log_entries.last().message


def test_the_check_runs_every_minute_by_a_migration():
    # Unapply and apply again (other tests may have flushed the rows that migrations made).
    call_command("migrate", "deployments", "0001", verbosity=0)
    call_command("migrate", "deployments", verbosity=0)
    schedule = Schedule.objects.get(name="check unfinished deployments")
    assert schedule.func == "deployments.tasks.check_unfinished_deployments"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)
    assert not Schedule.objects.filter(name="fail stale deployments").exists()
