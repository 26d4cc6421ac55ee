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


def test_progress_deadline_exceeded_fails_with_the_probes_answer(target, alice):
    deployment = run(make(target, alice, never_ready="1", deadline="2"))
    assert deployment.status == Status.FAILED, log_of(deployment)
    assert "progress deadline" in deployment.reason
    # Only the kubelet's Unhealthy event says why the container is not ready.
    assert "Readiness probe failed" in deployment.reason


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


def in_thread(function, *args) -> threading.Event:
    """Run function(*args) in a thread with its own database connection; the event says done."""
    done = threading.Event()

    def work():
        try:
            function(*args)
        finally:
            connection.close()
            done.set()

    threading.Thread(target=work, daemon=True).start()
    return done


def wait_for(condition, seconds: float = 15, what: str = "the condition"):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)
    return found


def test_a_busy_target_never_holds_a_worker(target, alice):
    first = make(target, alice, version="1")
    second = make(target, alice, version="2")
    # As if a worker were rolling out the first: it holds the target's lock.
    keys = [target.pk % 2**31, first.service_id % 2**31]
    Deployment.objects.filter(pk=first.pk).update(
        status=Status.RUNNING, started_at=first.created_at
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", keys)

    started = time.monotonic()
    assert in_thread(runner.run, second.pk).wait(5), "the worker waited for the lock"

    assert time.monotonic() - started < 2
    second.refresh_from_db()
    assert second.status == Status.PENDING
    assert f"Waiting for deployment #{first.pk}" in log_of(second)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", keys)
    # The first's worker died; whoever takes its task again runs both, in order.
    run(first)
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.SUCCEEDED, Status.SUCCEEDED), log_of(second)
    assert second.started_at >= first.finished_at


def test_the_holder_runs_what_was_asked_while_it_rolled_out(target, alice):
    first = make(target, alice, version="1", never_ready="1")
    holder = in_thread(runner.run, first.pk)
    wait_for(lambda: Deployment.objects.get(pk=first.pk).workloads, what="the rollout")

    second = make(target, alice, version="2")
    started = time.monotonic()
    runner.run(second.pk)  # its own worker: the target is busy, so it leaves at once
    assert time.monotonic() - started < 2
    assert Deployment.objects.get(pk=second.pk).status == Status.PENDING

    first.cancel(by=alice)
    assert holder.wait(20)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.CANCELLED
    assert second.status == Status.SUCCEEDED, log_of(second)
    assert second.started_at >= first.finished_at


def test_a_cancelled_rollout_ends_within_seconds_saying_what_is_left(target, alice):
    deployment = make(target, alice, never_ready="1")
    done = in_thread(runner.run, deployment.pk)
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).workloads, what="the rollout")

    asked = time.monotonic()
    assert deployment.cancel(by=alice) is False  # running: its worker ends it
    wait_for(lambda: Deployment.objects.get(pk=deployment.pk).is_finished, 5, "the cancel")
    took = time.monotonic() - asked

    assert done.wait(5)
    deployment.refresh_from_db()
    assert deployment.status == Status.CANCELLED
    assert deployment.reason == "Cancelled by alice; 2 applied object(s) stay in the cluster."
    assert log_of(deployment).endswith(
        "Cancelled by alice. Left in the cluster as applied: service/hello-world, "
        "deployment.apps/hello-world; the rollout was not followed further."
    )
    print(f"cancelled after {took:.2f} s")


def test_cluster_unreachable_mid_rollout_fails_naming_the_cluster(make_target, alice, monkeypatch):
    from sandbox.testing import running_sandbox

    monkeypatch.setattr(runner, "WATCH_RETRIES", 1)  # production tries 5 times over ~30 s
    with running_sandbox(ready_delay=0.1) as own:
        target = make_target(own.kubeconfig.read_text(), cluster_name="edge")
        deployment = make(target, alice, never_ready="1")
        done = in_thread(runner.run, deployment.pk)
        wait_for(lambda: Deployment.objects.get(pk=deployment.pk).workloads, what="the rollout")
    # The sandbox is gone: its address refuses connections.
    assert done.wait(30)
    deployment.refresh_from_db()
    assert deployment.status == Status.FAILED
    assert deployment.reason.startswith(f"The cluster edge at {own.url} is unreachable"), (
        deployment.reason
    )


def test_the_status_and_the_last_log_line_commit_together(target, alice):
    # At commit, PostgreSQL refuses a finished status whose last log line is not there yet.
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION test_final_line() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NOT EXISTS (SELECT 1 FROM deployments_logentry
                             WHERE deployment_id = NEW.id AND time >= NEW.finished_at) THEN
                RAISE EXCEPTION 'deployment % finished without its last log line', NEW.id;
              END IF;
              RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER test_final_line AFTER UPDATE OF status
              ON deployments_deployment DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
              WHEN (NEW.finished_at IS NOT NULL) EXECUTE FUNCTION test_final_line();
        """)  # fmt: skip
    try:
        deployment = run(make(target, alice))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_final_line ON deployments_deployment; "
                           "DROP FUNCTION test_final_line();")  # fmt: skip
    assert deployment.status == Status.SUCCEEDED
    assert log_of(deployment).endswith(
        "Succeeded: Rolled out deployment/hello-world. Ready: service/hello-world."
    )


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
