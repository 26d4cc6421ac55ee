"""End to end: the API, a real qcluster worker process, PostgreSQL and the sandbox cluster."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from deployments.models import Deployment
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


def test_worker_killed_during_a_rollout_still_ends(alice_api, target, release_attributes):
    # A pod that never gets ready keeps the rollout going while the worker is killed.
    register(alice_api, "1", **{**release_attributes, "never_ready": "1"})
    settings = {"KUBERNAUT_TASK_TIMEOUT": "12", "KUBERNAUT_TASK_RETRY": "13"}
    worker = start_qcluster(**settings)
    try:
        deployment_id = deploy(alice_api, target, "1", timeout_seconds=10)
        deadline = time.monotonic() + 20
        while Deployment.objects.get(pk=deployment_id).status != Status.RUNNING:
            assert time.monotonic() < deadline, "the worker never started the deployment"
            time.sleep(0.1)
        kill(worker)
        assert Deployment.objects.get(pk=deployment_id).status == Status.RUNNING

        worker = start_qcluster(**settings)
        body, log = follow(alice_api, deployment_id, seconds=60)
    finally:
        stop(worker)

    assert body["status"] in ("timed_out", "failed")
    assert any("Resuming" in line for line in log), log
