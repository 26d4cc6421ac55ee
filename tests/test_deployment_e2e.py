"""End to end: the API, a real qcluster worker process, PostgreSQL and the sandbox cluster."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from deployments import services
from deployments.models import Deployment, LogEntry
from tests.test_deployment_runner import TEMPLATE

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent
Status = Deployment.Status


def start_qcluster(**settings: str) -> subprocess.Popen:
    database = connection.settings_dict
    url = (
        f"postgresql://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
        f"{database['PORT']}/{database['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "KUBERNAUT_ENV_FILE": "", **settings}
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the cluster's main process, as a process manager would: it stops its workers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def kill(process: subprocess.Popen) -> None:
    """kill -9 of every process of the cluster at once, as when a machine dies."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def worker():
    process = start_qcluster()
    yield process
    stop(process)


@pytest.fixture
def release_attributes():
    return {"image": "registry.example/hello:1", "replicas": "2", "deadline": "600",
            "crash": "0", "never_ready": "0"}  # fmt: skip


def register(api, version, **attributes) -> None:
    response = api.post(
        "/api/releases",
        {"service": "hello-world", "version": version, "template": TEMPLATE,
         "attributes": attributes},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()


def deploy(api, target, version, **extra) -> int:
    response = api.post(
        "/api/deployments",
        {"service": "hello-world", "version": version, "cluster": target.cluster.name,
         "namespace": target.name, **extra},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def follow(api, deployment_id: int, seconds: float = 60) -> tuple[dict, list[str]]:
    """Read the log as a client would, a page after the last line seen, until it finishes."""
    lines, after, deadline = [], 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = api.get(f"/api/deployments/{deployment_id}/log?after={after}").json()
        lines += [entry["message"] for entry in body["log"]]
        after = body["log"][-1]["id"] if body["log"] else after
        if body["finished"]:
            return api.get(f"/api/deployments/{deployment_id}").json(), lines
        time.sleep(0.2)
    raise AssertionError(f"deployment {deployment_id} did not finish: {lines}")


def test_deploy_through_the_api_succeeds(alice_api, target, worker, release_attributes):
    register(alice_api, "1", **release_attributes)
    started = time.monotonic()

    deployment, log = follow(alice_api, deploy(alice_api, target, "1"))

    assert deployment["status"] == "succeeded", log
    assert "deployment.apps/hello-world created" in log
    print(f"deployed in {time.monotonic() - started:.2f} s")


def test_missing_image_fails_with_the_reason(alice_api, target, worker, release_attributes):
    register(alice_api, "1", **{**release_attributes, "image": "hello:does-not-exist"})
    deployment, log = follow(alice_api, deploy(alice_api, target, "1"))
    assert deployment["status"] == "failed"
    assert "not found" in deployment["reason"]


def test_two_deployments_to_one_place_run_one_after_the_other(
    alice_api, target, worker, release_attributes
):
    register(alice_api, "1", **release_attributes)
    register(alice_api, "2", **release_attributes)
    first = deploy(alice_api, target, "1")
    second = deploy(alice_api, target, "2")

    first_body, _ = follow(alice_api, first)
    second_body, _ = follow(alice_api, second)

    assert first_body["status"] == second_body["status"] == "succeeded"
    # One after the other, in the order asked for: the newest request is what ends up live.
    assert second_body["started_at"] >= first_body["finished_at"]


def test_redeploy_and_roll_back(alice_api, target, worker, release_attributes):
    register(alice_api, "1", **release_attributes)
    register(alice_api, "2", **{**release_attributes, "image": "registry.example/hello:2"})
    one, _ = follow(alice_api, deploy(alice_api, target, "1"))
    two, _ = follow(alice_api, deploy(alice_api, target, "2"))

    response = alice_api.post(f"/api/deployments/{one['id']}/redeploy", {}, format="json")
    assert response.status_code == 202
    back, log = follow(alice_api, response.json()["id"])

    assert (one["status"], two["status"], back["status"]) == ("succeeded",) * 3
    assert back["version"] == "1"
    assert "deployment.apps/hello-world configured" in log


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.1)
    return found


def test_a_busy_target_holds_up_no_other_namespace(alice_api, make_target, release_attributes):
    busy, free = make_target(), make_target()
    register(alice_api, "1", **{**release_attributes, "never_ready": "1"})
    register(alice_api, "2", **release_attributes)
    worker = start_qcluster(KUBERNAUT_WORKERS="2")
    try:
        first = deploy(alice_api, busy, "1", timeout_seconds=60)
        wait_for(lambda: Deployment.objects.get(pk=first).workloads, 30, "the first rollout")
        waiting = [deploy(alice_api, busy, "2"), deploy(alice_api, busy, "2")]
        elsewhere = deploy(alice_api, free, "2")

        body, _ = follow(alice_api, elsewhere, seconds=30)

        assert body["status"] == "succeeded"
        statuses = Deployment.objects.filter(pk__in=[first, *waiting]).order_by("id")
        assert list(statuses.values_list("status", flat=True)) == ["running", "pending", "pending"]
        assert alice_api.post(f"/api/deployments/{first}/cancel").status_code == 202
        one, _ = follow(alice_api, waiting[0])
        two, _ = follow(alice_api, waiting[1])
    finally:
        stop(worker)
    assert (one["status"], two["status"]) == ("succeeded", "succeeded")
    assert two["started_at"] >= one["finished_at"]  # in the order asked for


def test_a_killed_workers_rollout_is_resumed_by_a_live_one(
    alice_api, target, release_attributes, settings
):
    # A pod that never gets ready keeps the rollout going while its worker is killed. Default
    # task timeout and retry: django-q would hand the task out again only after 2000 s.
    register(alice_api, "1", **{**release_attributes, "never_ready": "1"})
    short = {"KUBERNAUT_HEARTBEAT_SECONDS": "1", "KUBERNAUT_HEARTBEAT_STALE_SECONDS": "3"}
    settings.KUBERNAUT_HEARTBEAT_STALE_SECONDS = 3
    workers = [start_qcluster(**short), start_qcluster(**short)]
    try:
        deployment_id = deploy(alice_api, target, "1", timeout_seconds=60)
        taken = wait_for(
            lambda: Deployment.objects.filter(pk=deployment_id).exclude(workloads=[]).first(),
            30, "a worker to start the rollout",
        )  # fmt: skip
        pid = int(taken.worker.rsplit(":", 1)[1])
        victim = next(w for w in workers if w.pid == os.getpgid(pid))
        kill(victim)
        killed_at = time.monotonic()

        # The scheduled check, called as the scheduler would, until the heartbeat is stale.
        wait_for(services.check_unfinished_deployments, 15, "the check to queue it again")
        resumed = wait_for(
            lambda: LogEntry.objects.filter(
                deployment_id=deployment_id, message__startswith="Resuming on worker"
            ).first(),
            15, "a live worker to resume it",
        )  # fmt: skip
        took = time.monotonic() - killed_at
        assert alice_api.post(f"/api/deployments/{deployment_id}/cancel").status_code == 202
        body, log = follow(alice_api, deployment_id, seconds=15)
    finally:
        for worker in workers:
            stop(worker)

    assert f"({taken.worker}) stopped" in resumed.message
    assert body["status"] == "cancelled", log
    assert took < 10
    print(f"resumed {took:.1f} s after the kill")


def test_a_killed_worker_process_is_replaced_and_its_rollout_resumed_at_once(
    alice_api, target, release_attributes
):
    # Default settings: the qcluster replaces the killed worker, and the new one queues the
    # deployment again as it starts (django-q's post_spawn), without waiting for the heartbeat.
    register(alice_api, "1", **{**release_attributes, "never_ready": "1"})
    worker = start_qcluster()
    try:
        deployment_id = deploy(alice_api, target, "1", timeout_seconds=60)
        taken = wait_for(
            lambda: Deployment.objects.filter(pk=deployment_id).exclude(workloads=[]).first(),
            30, "a worker to start the rollout",
        )  # fmt: skip
        os.kill(int(taken.worker.rsplit(":", 1)[1]), signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(
            lambda: LogEntry.objects.filter(
                deployment_id=deployment_id, message__startswith="Resuming on worker"
            ).exists(),
            20, "the replacement worker to resume it",
        )  # fmt: skip
        took = time.monotonic() - killed_at
        assert alice_api.post(f"/api/deployments/{deployment_id}/cancel").status_code == 202
        body, log = follow(alice_api, deployment_id, seconds=15)
    finally:
        stop(worker)

    assert f"The worker following this deployment ({taken.worker}) died; queued again" in "\n".join(
        log
    )
    assert body["status"] == "cancelled"
    assert took < 10
    print(f"resumed {took:.1f} s after the kill")
