"""What is live after a failed rollout, in one sentence (deployments/live.py): pure functions,
fed objects shaped like the API's JSON. The runner's use of it against the sandbox is tested in
tests/test_automatic_rollback.py."""

import pytest

from deployments import live

NEW, OLD = "new5f9", "old7c2"


def workload(replicas=4, conditions=(), observed=True):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "uid": "u1", "generation": 2,
                     "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "app"}}},
        "status": {"observedGeneration": 2 if observed else 1, "conditions": list(conditions)},
    }  # fmt: skip


def replica_set(template_hash, revision):
    return {
        "metadata": {
            "name": f"app-{template_hash}",
            "labels": {"pod-template-hash": template_hash},
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [{"kind": "Deployment", "name": "app", "uid": "u1"}],
        }
    }


def pod(name, template_hash=OLD, version="1.0.1", ready=True, waiting=None, running=False,
        image="registry.example/app:1.0.1", conditions=()):  # fmt: skip
    labels = {"app": "app", "pod-template-hash": template_hash}
    if version:
        labels["version"] = version
    status = {"image": image, "name": "app", "ready": ready}
    if waiting:
        status["state"] = {"waiting": waiting}
    elif running or ready:
        status["state"] = {"running": {}}
    if isinstance(waiting, dict) and waiting.get("reason") == "CrashLoopBackOff":
        status["lastState"] = {"terminated": {"exitCode": 3}}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {
            "phase": "Running" if ready or running else "Pending",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"},
                           *conditions],
            "containerStatuses": [status],
        },
    }  # fmt: skip


MISSING = {"reason": "ErrImagePull", "message": "registry.example/app:1.0.2: not found"}


def failing(name, waiting=MISSING, **fields):
    return pod(name, NEW, "1.0.2", ready=False, waiting=waiting,
               image="registry.example/app:1.0.2", **fields)  # fmt: skip


def reason(pods, events=(), obj=None, fallback="the rules' message"):
    view = {
        "ReplicaSet": {"a": replica_set(OLD, "1"), "b": replica_set(NEW, "2")},
        "Pod": {p["metadata"]["name"]: p for p in pods},
        "Event": {str(i): e for i, e in enumerate(events)},
    }
    return live.reason_for(obj or workload(), view, version="1.0.2", fallback=fallback)


def event(pod_name, message, reason="Failed"):
    return {"involvedObject": {"kind": "Pod", "name": pod_name}, "reason": reason,
            "message": message}  # fmt: skip


def test_the_old_release_still_serving_comes_first():
    pods = [pod("o1"), pod("o2"), pod("o3"), failing("n1"), failing("n2")]
    assert reason(pods) == (
        "1.0.1 still serves 3 of 4 pods; 2 new pods fail: image registry.example/app:1.0.2 "
        "not found."
    )


def test_nothing_serving_is_said_first():
    assert reason([failing("n1")], obj=workload(replicas=1)) == (
        "No pod of deployment/app is serving; 1 new pod fails: image "
        "registry.example/app:1.0.2 not found."
    )


def test_new_pods_that_got_ready_are_counted_apart():
    pods = [pod("o1"), pod("o2"), pod("n0", NEW, "1.0.2"), failing("n1")]
    assert reason(pods).startswith("1.0.1 still serves 2 of 4 pods; 1.0.2 serves 1; 1 new pod")


def test_several_old_versions_are_named():
    pods = [pod("o1", version="1.0.0"), pod("o2"), failing("n1")]
    assert reason(pods).startswith("1.0.0 and 1.0.1 still serve 2 of 4 pods;")


def test_without_a_version_label_the_image_names_the_old_pods():
    pods = [pod("o1", version=None), failing("n1")]
    assert reason(pods).startswith(
        "The previous release (registry.example/app:1.0.1) still serves 1 of 4 pods;"
    )


def test_a_redeploy_of_the_same_version_says_previous():
    pods = [pod("o1", version="1.0.2"), failing("n1")]
    assert reason(pods).startswith("The previous 1.0.2 still serves 1 of 4 pods;")


@pytest.mark.parametrize(
    ("waiting", "events", "cause"),
    [
        ({"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x"'},
         [event("n1", 'Failed to pull image "registry.example/app:1.0.2": manifest unknown')],
         "image registry.example/app:1.0.2 not found"),
        ({"reason": "ErrImagePull", "message": "pull access denied, unauthorized"}, [],
         "image registry.example/app:1.0.2 may not be pulled (access denied)"),
        ({"reason": "ErrImagePull", "message": "i/o timeout"}, [],
         "image registry.example/app:1.0.2 cannot be pulled yet: i/o timeout"),
        ({"reason": "InvalidImageName", "message": "bad"}, [],
         "image registry.example/app:1.0.2 is not a valid image name"),
        ({"reason": "CrashLoopBackOff", "message": "back-off"}, [],
         "container app keeps crashing (CrashLoopBackOff, exit code 3)"),
        ({"reason": "CreateContainerConfigError", "message": 'secret "db" not found'}, [],
         'container app cannot start: secret "db" not found'),
    ],
)  # fmt: skip
def test_the_cause_is_short_and_names_the_image_or_container(waiting, events, cause):
    assert reason([pod("o1"), failing("n1", waiting)], events) == (
        f"1.0.1 still serves 1 of 4 pods; 1 new pod fails: {cause}."
    )


def test_a_readiness_probe_failure_is_quoted_from_the_events():
    new = failing("n1", waiting=None, running=True)
    probe = event("n1", "Readiness probe failed: HTTP probe failed with statuscode: 503",
                  reason="Unhealthy")  # fmt: skip
    assert reason([new], [probe]).endswith(
        "1 new pod fails: container app is not ready: Readiness probe failed: HTTP probe "
        "failed with statuscode: 503."
    )
    assert reason([new]).endswith("container app is running but not ready.")


def test_an_unschedulable_pod_says_so():
    unschedulable = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "message": "0/3 nodes are available: 3 Insufficient cpu."}  # fmt: skip
    new = failing("n1", waiting=None, conditions=[unschedulable])
    assert reason([new]).endswith(
        "cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu."
    )


def test_the_most_telling_cause_wins_over_a_pod_still_starting():
    starting = failing("n1", waiting={"reason": "ContainerCreating"})
    assert reason([starting, failing("n2")]).endswith("image registry.example/app:1.0.2 not found.")


def test_an_exceeded_progress_deadline_is_named():
    deadline = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    obj = workload(conditions=[deadline])
    text = reason([pod("o1"), failing("n1", waiting=None, running=True)], obj=obj)
    assert text == (
        "1.0.1 still serves 1 of 4 pods; 1 new pod did not get ready within the progress "
        "deadline: container app is running but not ready."
    )


@pytest.mark.parametrize(
    "obj",
    [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}},
        workload(observed=False),  # the controller has not said which ReplicaSet is new
        None,
    ],
)
def test_the_rules_message_stays_when_old_and_new_cannot_be_told_apart(obj):
    view = {"ReplicaSet": {"b": replica_set(NEW, "2")}, "Pod": {"n1": failing("n1")}}
    assert live.reason_for(obj, view, version="2", fallback="raw") == "raw"


def test_the_rules_message_stays_when_no_new_pod_fails():
    # e.g. a quota forbids the new pods: there are none to blame, the rules' message says why
    assert reason([pod("o1")]) == "the rules' message"


def test_long_causes_are_bounded():
    waiting = {"reason": "CreateContainerConfigError", "message": "x" * 2000}
    assert len(reason([failing("n1", waiting)])) < 400
