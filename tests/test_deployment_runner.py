"""The worker's job (deployments.runner), run inline against the sandbox cluster over HTTP.

The sandbox's failure conventions (docs/sandbox.md): an image containing `does-not-exist` cannot
be pulled; a container with env SANDBOX_CRASH=1 crashes; SANDBOX_NEVER_READY=1 never gets ready.
"""

import threading
import time

import pytest
import yaml
from django.db import connection

from deployments import runner, services
from deployments.models import Deployment
from releases import services as release_services

pytestmark = pytest.mark.django_db(transaction=True)
Status = Deployment.Status

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service }}
spec:
  replicas: {{ replicas }}
  progressDeadlineSeconds: {{ deadline }}
  selector:
    matchLabels: {app: "{{ service }}"}
  template:
    metadata:
      labels: {app: "{{ service }}"}
    spec:
      containers:
        - name: app
          image: {{ image }}
          env:
            - {name: SANDBOX_CRASH, value: "{{ crash }}"}
            - {name: SANDBOX_NEVER_READY, value: "{{ never_ready }}"}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ service }}
spec:
  selector: {app: "{{ service }}"}
  ports: [{port: 80}]
"""


def make(target, user, version="1", timeout=30, **attributes):
    values = {"image": "registry.example/hello:1", "replicas": "2", "deadline": "600",
              "crash": "0", "never_ready": "0", **attributes}  # fmt: skip
    release = release_services.create_release(
        service="hello-world", version=version, template=TEMPLATE, attributes=values,
        comment="", user=user,
    )  # fmt: skip
    return services.create_deployment(
        release=release, namespace=target, attributes={}, user=user, timeout_seconds=timeout
    )


def run(deployment) -> Deployment:
    runner.run(deployment.pk)
    deployment.refresh_from_db()
    return deployment


def log_of(deployment) -> str:
    return "\n".join(e.message for e in deployment.log_entries.all())


def test_good_release_rolls_out(target, alice):
    started = time.monotonic()
    deployment = run(make(target, alice))

    assert deployment.status == Status.SUCCEEDED, log_of(deployment)
    assert time.monotonic() - started < 10
    log = log_of(deployment)
    assert "service/hello-world created" in log
    assert "deployment.apps/hello-world created" in log
    assert log.index("service/hello-world") < log.index("deployment.apps/hello-world")
    assert [o["kind"] for o in deployment.applied_objects] == ["Service", "Deployment"]
    assert deployment.workloads == [
        {"kind": "Deployment", "name": "hello-world", "ready": 2, "desired": 2,
         "state": "succeeded"}
    ]  # fmt: skip
    assert deployment.reason == "Rolled out deployment/hello-world. Ready: service/hello-world."
    assert deployment.finished_at and deployment.started_at


def test_applying_again_reports_unchanged(target, alice):
    first = run(make(target, alice, version="1"))
    again = run(services.redeploy(first, user=alice))
    assert again.status == Status.SUCCEEDED
    assert "deployment.apps/hello-world unchanged" in log_of(again)


def test_missing_image_fails_fast_with_the_reason(target, alice):
    started = time.monotonic()
    deployment = run(make(target, alice, image="registry.example/hello:does-not-exist"))

    assert deployment.status == Status.FAILED, log_of(deployment)
    assert time.monotonic() - started < 15
    assert "hello-world" in deployment.reason
    assert "not found" in deployment.reason
    assert "pod/hello-world-" in log_of(deployment)  # the pods' states are in the log
    assert "event " in log_of(deployment)  # and the recent events


def test_crash_loop_fails_fast(target, alice):
    deployment = run(make(target, alice, crash="1"))
    assert deployment.status == Status.FAILED, log_of(deployment)
    assert "CrashLoopBackOff" in deployment.reason


def test_progress_deadline_exceeded_fails(target, alice):
    deployment = run(make(target, alice, never_ready="1", deadline="2"))
    assert deployment.status == Status.FAILED, log_of(deployment)
    assert "progress deadline" in deployment.reason


def test_hard_timeout_ends_in_timed_out(target, alice):
    deployment = run(make(target, alice, never_ready="1", timeout=10))
    assert deployment.status == Status.TIMED_OUT, log_of(deployment)
    assert deployment.reason.startswith("Not rolled out within 10 s")
    assert "not ready" in deployment.reason


def test_object_rejected_by_the_cluster_fails_with_its_message(target, alice):
    deployment = make(target, alice)
    broken = list(yaml.safe_load_all(deployment.manifest))
    broken[0]["spec"]["replicas"] = "lots"  # got past the checks somehow: the cluster says no
    Deployment.objects.filter(pk=deployment.pk).update(manifest=yaml.safe_dump_all(broken))

    deployment = run(deployment)

    assert deployment.status == Status.FAILED
    assert deployment.reason.startswith("deployment.apps/hello-world was rejected by the cluster")


def test_unreachable_cluster_fails_without_retrying(target, alice):
    cluster = target.cluster
    config = yaml.safe_load(cluster.kubeconfig)
    config["clusters"][0]["cluster"]["server"] = "http://127.0.0.1:9"  # nothing listens there
    cluster.set_kubeconfig(yaml.safe_dump(config))
    cluster.save()

    deployment = run(make(target, alice))

    assert deployment.status == Status.FAILED
    assert "unreachable" in deployment.reason


def test_wrong_token_fails_with_the_clusters_answer(target, alice):
    cluster = target.cluster
    config = yaml.safe_load(cluster.kubeconfig)
    config["users"][0]["user"]["token"] = "wrong"
    cluster.set_kubeconfig(yaml.safe_dump(config))
    cluster.save()

    deployment = run(make(target, alice))

    assert deployment.status == Status.FAILED
    assert "refused Kubernaut's credentials (401)" in deployment.reason


def test_a_finished_deployment_delivered_again_is_left_alone(target, alice):
    deployment = run(make(target, alice))
    entries = deployment.log_entries.count()
    run(deployment)
    assert deployment.status == Status.SUCCEEDED
    assert deployment.log_entries.count() == entries


def test_a_running_deployment_delivered_again_is_resumed(target, alice):
    deployment = make(target, alice)
    # As if a worker had claimed it and died before finishing.
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Status.RUNNING, started_at=deployment.created_at
    )
    deployment = run(deployment)
    assert deployment.status == Status.SUCCEEDED
    assert "Resuming" in log_of(deployment)


def test_second_deployment_to_the_same_place_waits_for_the_first(target, alice):
    first = make(target, alice, version="1")
    second = make(target, alice, version="2")
    # Hold the target's lock as a running worker would.
    keys = [target.pk % 2**31, first.service_id % 2**31]
    Deployment.objects.filter(pk=first.pk).update(status=Status.RUNNING)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", keys)
    done = threading.Event()

    def work():
        try:
            runner.run(second.pk)
        finally:
            connection.close()
            done.set()

    threading.Thread(target=work, daemon=True).start()
    time.sleep(1.5)
    second.refresh_from_db()
    assert second.status == Status.PENDING
    assert f"Waiting for deployment #{first.pk}" in log_of(second)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", keys)
    assert done.wait(30)
    second.refresh_from_db()
    assert second.status == Status.SUCCEEDED, log_of(second)


def test_the_lock_holder_runs_older_waiting_deployments_first(target, alice):
    first = make(target, alice, version="1")
    second = make(target, alice, version="2")

    run(second)  # the second's task reached a worker before the first's

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == Status.SUCCEEDED
    assert first.finished_at <= second.started_at
    assert f"Waiting for the earlier deployment #{first.pk}" in log_of(second)
    run(first)  # its own task arrives later and finds it done
    assert first.log_entries.filter(message__startswith="Started").count() == 1
