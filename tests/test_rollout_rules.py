"""deployments.rollout: when a workload is rolled out, still progressing, or doomed.

Every object below is shaped like what the API server returns (camelCase JSON); only the
fields the rules read, plus enough realistic context to keep the tests honest.
"""

import copy

import pytest

from deployments.rollout import (
    FAILED,
    PROGRESSING,
    SUCCEEDED,
    Progress,
    evaluate,
    is_workload,
    kinds_to_watch,
    must_wait_for,
    new_replicaset_hash,
    objects_to_follow,
    success_sentence,
)

NEW_HASH = "7c9f8d6b5"
OLD_HASH = "5d4b7f9c8"
POD = f"hello-world-{NEW_HASH}-x2x8k"
IMAGE = "registry.local/hello:9.9"
NOT_FOUND = (
    f'rpc error: code = NotFound desc = failed to pull and unpack image "{IMAGE}": '
    f'failed to resolve reference "{IMAGE}": {IMAGE}: not found'
)
TIMEOUT = (
    f'rpc error: code = Unknown desc = failed to pull and unpack image "{IMAGE}": '
    f'failed to resolve reference "{IMAGE}": failed to do request: '
    'Head "https://registry.local/v2/hello/manifests/9.9": dial tcp 10.0.0.5:443: i/o timeout'
)


# --- builders -------------------------------------------------------------------------------


def deployment(
    *,
    replicas=2,
    generation=2,
    observed=2,
    updated=2,
    total=2,
    available=2,
    conditions=None,
    status=True,
):
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "hello-world",
            "namespace": "default",
            "uid": "0b5e8c3a-1111-4c1e-9a51-d2f1f0a1b2c3",
            "generation": generation,
            "annotations": {"deployment.kubernetes.io/revision": "2"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "hello-world"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": {"app": "hello-world"}},
                "spec": {"containers": [{"name": "app", "image": IMAGE}]},
            },
        },
    }
    if status:
        obj["status"] = {
            "observedGeneration": observed,
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": conditions
            if conditions is not None
            else [
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "ReplicaSetUpdated",
                    "message": f'ReplicaSet "hello-world-{NEW_HASH}" is progressing.',
                    "lastUpdateTime": "2026-11-24T03:58:00Z",
                    "lastTransitionTime": "2026-11-24T03:58:00Z",
                }
            ],
        }
    return obj


def running(ready=True, restarts=0):
    return {
        "name": "app",
        "image": IMAGE,
        "imageID": "",
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": "2026-11-24T03:58:10Z"}},
        "lastState": {},
    }


def waiting(reason, message=None, name="app", restarts=0, last_terminated=None):
    state = {"reason": reason}
    if message is not None:
        state["message"] = message
    return {
        "name": name,
        "image": IMAGE,
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "state": {"waiting": state},
        "lastState": {"terminated": last_terminated} if last_terminated else {},
    }


def crash_looping(exit_code=1, reason="Error", restarts=4, message=None, name="app"):
    terminated = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": "2026-11-24T03:59:01Z",
        "finishedAt": "2026-11-24T03:59:02Z",
        "containerID": "containerd://3f1c0d",
    }
    if message:
        terminated["message"] = message
    return waiting(
        "CrashLoopBackOff",
        f"back-off 40s restarting failed container={name} pod=hello-world-{NEW_HASH}-x2x8k",
        name=name,
        restarts=restarts,
        last_terminated=terminated,
    )


def pod(
    name=POD,
    *,
    containers=None,
    init_containers=None,
    phase="Running",
    ready=None,
    labels=None,
    terminating=False,
    conditions=None,
    reason=None,
    message=None,
):
    containers = containers if containers is not None else [running()]
    if ready is None:
        ready = all(c["ready"] for c in containers)
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": labels
            if labels is not None
            else {"app": "hello-world", "pod-template-hash": NEW_HASH},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"hello-world-{NEW_HASH}"}
            ],
        },
        "spec": {"containers": [{"name": "app", "image": IMAGE}], "restartPolicy": "Always"},
        "status": {
            "phase": phase,
            "conditions": conditions
            if conditions is not None
            else [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
                {"type": "ContainersReady", "status": "True" if ready else "False"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "hostIP": "10.0.0.12",
            "podIP": "10.244.1.7",
            "startTime": "2026-11-24T03:58:05Z",
            "containerStatuses": containers,
        },
    }
    if init_containers is not None:
        obj["status"]["initContainerStatuses"] = init_containers
    if terminating:
        obj["metadata"]["deletionTimestamp"] = "2026-11-24T04:00:00Z"
        obj["metadata"]["deletionGracePeriodSeconds"] = 30
    if reason:
        obj["status"]["reason"] = reason
    if message:
        obj["status"]["message"] = message
    return obj


def event(reason, message, *, pod_name=POD, at, type_="Warning"):
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod_name}.1", "namespace": "default"},
        "involvedObject": {
            "kind": "Pod",
            "namespace": "default",
            "name": pod_name,
            "apiVersion": "v1",
            "fieldPath": "spec.containers{app}",
        },
        "reason": reason,
        "message": message,
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
        "type": type_,
    }


def rolling_out():
    """A Deployment whose 2 new replicas exist but are not available yet."""
    return deployment(updated=2, total=2, available=0)


# --- is_workload ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("apps/v1", "Deployment", True),
        ("apps/v1", "StatefulSet", True),
        ("apps/v1", "DaemonSet", True),
        ("batch/v1", "Job", True),
        ("v1", "Service", False),
        ("v1", "ConfigMap", False),
        ("batch/v1", "CronJob", False),
        ("example.com/v1", "Deployment", False),
    ],
)
def test_is_workload_knows_the_four_rollout_kinds(api_version, kind, expected):
    assert is_workload({"apiVersion": api_version, "kind": kind}) is expected


def test_is_workload_is_false_for_odd_input():
    assert is_workload({}) is False
    assert is_workload(None) is False
    assert is_workload({"apiVersion": 1, "kind": ["Deployment"]}) is False


# --- Deployment stages ----------------------------------------------------------------------


def test_deployment_without_status_right_after_creation_is_progressing():
    result = evaluate(deployment(generation=1, status=False), [])
    assert result == Progress(
        PROGRESSING,
        0,
        2,
        "deployment.apps/hello-world: "
        "waiting for the deployment controller to observe the new spec",
    )


def test_deployment_waits_until_controller_observes_new_generation():
    result = evaluate(deployment(generation=3, observed=2), [pod()])
    assert result.state == PROGRESSING
    assert "observe the new spec" in result.message


def test_deployment_waits_for_new_replicas_to_be_updated():
    result = evaluate(deployment(updated=1, total=3, available=2), [])
    assert result.state == PROGRESSING
    assert result.message == "deployment.apps/hello-world: 1 of 2 new replicas have been updated"
    # Two available pods but only one updated, and two old ones may be among the available.
    assert (result.ready, result.desired) == (0, 2)


def test_deployment_waits_for_old_replicas_to_terminate():
    result = evaluate(deployment(updated=2, total=3, available=3), [])
    assert result.state == PROGRESSING
    assert result.message == "deployment.apps/hello-world: 1 old replicas are pending termination"
    assert result.ready == 2


def test_deployment_waits_for_updated_replicas_to_become_available():
    result = evaluate(deployment(updated=2, total=2, available=1), [])
    assert result == Progress(
        PROGRESSING, 1, 2, "deployment.apps/hello-world: 1 of 2 updated replicas are available"
    )


def test_deployment_fully_rolled_out_succeeds():
    result = evaluate(deployment(), [pod(), pod(f"hello-world-{NEW_HASH}-q7wz2")])
    assert result == Progress(
        SUCCEEDED, 2, 2, "deployment.apps/hello-world: successfully rolled out"
    )


def test_deployment_replicas_default_to_one():
    obj = deployment(updated=1, total=1, available=1)
    del obj["spec"]["replicas"]
    result = evaluate(obj, [pod()])
    assert (result.state, result.ready, result.desired) == (SUCCEEDED, 1, 1)


def test_deployment_scaled_to_zero_succeeds():
    result = evaluate(deployment(replicas=0, updated=0, total=0, available=0), [])
    assert (result.state, result.ready, result.desired) == (SUCCEEDED, 0, 0)


def test_deployment_past_progress_deadline_fails():
    deadline = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": f'ReplicaSet "hello-world-{NEW_HASH}" has timed out progressing.',
    }
    result = evaluate(deployment(available=0, conditions=[deadline]), [])
    assert result.state == FAILED
    assert result.message.startswith("deployment.apps/hello-world exceeded its progress deadline")
    assert "has timed out progressing" in result.message


def test_progress_deadline_of_previous_generation_is_not_a_failure():
    # Right after a new apply the old condition is still there until the controller resyncs.
    deadline = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    result = evaluate(deployment(generation=3, observed=2, conditions=[deadline]), [])
    assert result.state == PROGRESSING


def test_progress_deadline_message_says_why_pods_are_not_ready():
    deadline = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    pods = [pod(containers=[running(ready=False)])]
    result = evaluate(deployment(available=0, conditions=[deadline]), pods)
    assert result.state == FAILED
    assert "container app is running but not ready" in result.message


def test_paused_deployment_says_so():
    obj = deployment(updated=1, total=2, available=2)
    obj["spec"]["paused"] = True
    assert evaluate(obj, []).message.endswith("(rollout is paused)")


def test_deployment_quota_failure_is_shown_while_progressing():
    conditions = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "reason": "FailedCreate",
            "message": 'pods "hello-world-7c9f8d6b5-abcde" is forbidden: exceeded quota: '
            "compute, requested: cpu=500m, used: cpu=2, limited: cpu=2",
        }
    ]
    result = evaluate(deployment(updated=0, total=0, available=0, conditions=conditions), [])
    assert result.state == PROGRESSING
    assert "exceeded quota" in result.message


# --- failing fast ---------------------------------------------------------------------------


def test_deployment_with_crashing_pod_fails_fast():
    pods = [pod(containers=[crash_looping(exit_code=1, restarts=4)])]
    result = evaluate(rolling_out(), pods)
    assert result.state == FAILED
    assert result.message == (
        "deployment.apps/hello-world: 0/2 pods available: CrashLoopBackOff: "
        f"exited with code 1 (Error) after 4 restarts (pod {POD}, "
        "container app)"
    )


def test_crash_message_includes_termination_message_and_oom_reason():
    pods = [pod(containers=[crash_looping(exit_code=137, reason="OOMKilled", message="bye")])]
    result = evaluate(rolling_out(), pods)
    assert result.state == FAILED
    assert "exited with code 137 (OOMKilled) after 4 restarts: bye" in result.message


def test_crashing_init_container_fails_fast():
    pods = [
        pod(
            phase="Pending",
            init_containers=[crash_looping(exit_code=2, name="migrate")],
            containers=[waiting("PodInitializing", name="app")],
        )
    ]
    result = evaluate(rolling_out(), pods)
    assert result.state == FAILED
    assert "CrashLoopBackOff: exited with code 2" in result.message
    assert "container migrate" in result.message


def test_image_not_found_fails_fast():
    pods = [pod(phase="Pending", containers=[waiting("ErrImagePull", NOT_FOUND)])]
    result = evaluate(rolling_out(), pods)
    assert result.state == FAILED
    assert result.message.startswith(
        "deployment.apps/hello-world: 0/2 pods available: ErrImagePull: rpc error"
    )
    assert f"{IMAGE}: not found" in result.message


def test_transient_image_pull_error_keeps_progressing():
    pods = [pod(phase="Pending", containers=[waiting("ErrImagePull", TIMEOUT)])]
    result = evaluate(rolling_out(), pods)
    assert result.state == PROGRESSING
    assert "; 0/2 pods available: container app is waiting: ErrImagePull: " in result.message
    assert "i/o timeout" in result.message


def test_image_pull_backoff_with_not_found_event_fails_fast():
    # The back-off message does not say why; the kubelet's Failed event does. The newest
    # Failed event is the generic "Error: ImagePullBackOff", so the matching one is used.
    pods = [
        pod(
            phase="Pending",
            containers=[waiting("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"')],
        )
    ]
    events = [
        event("Pulling", f'Pulling image "{IMAGE}"', at="2026-11-24T03:58:06Z", type_="Normal"),
        event("Failed", f'Failed to pull image "{IMAGE}": {NOT_FOUND}', at="2026-11-24T03:58:07Z"),
        event("Failed", "Error: ErrImagePull", at="2026-11-24T03:58:07Z"),
        event("BackOff", f'Back-off pulling image "{IMAGE}"', at="2026-11-24T03:58:20Z"),
        event("Failed", "Error: ImagePullBackOff", at="2026-11-24T03:58:20Z"),
    ]
    result = evaluate(rolling_out(), pods, events)
    assert result.state == FAILED
    assert f'0/2 pods available: ImagePullBackOff: Failed to pull image "{IMAGE}"' in (
        result.message
    )
    assert "not found" in result.message


def test_image_pull_backoff_whose_message_says_not_found_fails_fast():
    message = f'Back-off pulling image "{IMAGE}": ErrImagePull: {NOT_FOUND}'
    pods = [pod(phase="Pending", containers=[waiting("ImagePullBackOff", message)])]
    assert evaluate(rolling_out(), pods).state == FAILED


def test_image_pull_backoff_without_evidence_of_missing_image_keeps_progressing():
    pods = [
        pod(
            phase="Pending",
            containers=[waiting("ImagePullBackOff", f'Back-off pulling image "{IMAGE}"')],
        )
    ]
    events = [
        event("Failed", f'Failed to pull image "{IMAGE}": {TIMEOUT}', at="2026-11-24T03:58:07Z")
    ]
    result = evaluate(rolling_out(), pods, events)
    assert result.state == PROGRESSING
    assert "ImagePullBackOff" in result.message


def test_pull_access_denied_fails_fast():
    message = (
        "rpc error: code = Unknown desc = failed to pull and unpack image "
        f'"{IMAGE}": failed to authorize: failed to fetch oauth token: 401 Unauthorized'
    )
    pods = [pod(phase="Pending", containers=[waiting("ErrImagePull", message)])]
    assert evaluate(rolling_out(), pods).state == FAILED


def test_invalid_image_name_fails_fast():
    message = 'Failed to apply default image tag "registry.local/Hello:9.9": invalid reference'
    pods = [pod(phase="Pending", containers=[waiting("InvalidImageName", message)])]
    result = evaluate(rolling_out(), pods)
    assert result.state == FAILED
    assert "InvalidImageName: Failed to apply default image tag" in result.message


def test_missing_secret_fails_fast_with_create_container_config_error():
    pods = [
        pod(
            phase="Pending",
            containers=[waiting("CreateContainerConfigError", 'secret "hello-secrets" not found')],
        )
    ]
    result = evaluate(rolling_out(), pods)
    assert result.state == FAILED
    assert 'CreateContainerConfigError: secret "hello-secrets" not found' in result.message


def test_config_error_without_message_uses_the_latest_failed_event():
    pods = [pod(phase="Pending", containers=[waiting("CreateContainerConfigError")])]
    # Newest by timestamp, whatever the order of the list.
    events = [
        event("Failed", 'Error: secret "hello-secrets" not found', at="2026-11-24T03:58:09Z"),
        event("Failed", 'Error: configmap "old" not found', at="2026-11-24T03:58:01Z"),
        event("Pulled", "Container image already present", at="2026-11-24T03:58:10Z"),
        event("Failed", "Error: for another pod", pod_name="other-pod", at="2026-11-24T03:59:00Z"),
    ]
    result = evaluate(rolling_out(), pods, events)
    assert result.state == FAILED
    assert 'CreateContainerConfigError: Error: secret "hello-secrets" not found' in result.message


def test_config_cache_still_syncing_is_not_doomed():
    message = "failed to sync secret cache: timed out waiting for the condition"
    pods = [pod(phase="Pending", containers=[waiting("CreateContainerConfigError", message)])]
    assert evaluate(rolling_out(), pods).state == PROGRESSING


def test_create_container_error_fails_fast():
    message = 'failed to create containerd container: error unpacking image: "/app" is not a dir'
    pods = [pod(phase="Pending", containers=[waiting("CreateContainerError", message)])]
    assert evaluate(rolling_out(), pods).state == FAILED


def test_container_that_cannot_run_fails_fast():
    status = running(ready=False, restarts=1)
    status["state"] = {
        "terminated": {
            "exitCode": 127,
            "reason": "ContainerCannotRun",
            "message": 'exec: "/srv/start": stat /srv/start: no such file or directory',
        }
    }
    result = evaluate(rolling_out(), [pod(containers=[status])])
    assert result.state == FAILED
    assert "ContainerCannotRun: exit code 127: exec" in result.message


def test_container_cannot_run_with_exit_code_128_is_not_doomed():
    status = running(ready=False, restarts=1)
    status["lastState"] = {"terminated": {"exitCode": 128, "reason": "ContainerCannotRun"}}
    assert evaluate(rolling_out(), [pod(containers=[status])]).state == PROGRESSING


def test_failed_pod_of_a_deployment_fails_fast():
    failed = running(ready=False)
    failed["state"] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    pods = [pod(phase="Failed", containers=[failed], reason="DeadlineExceeded", message="boom")]
    result = evaluate(rolling_out(), pods)
    assert result.state == FAILED
    assert "DeadlineExceeded: boom" in result.message


def test_evicted_pod_is_not_a_failure():
    pods = [
        pod(
            phase="Failed",
            containers=[],
            reason="Evicted",
            message="The node was low on resource: memory.",
        )
    ]
    assert evaluate(rolling_out(), pods).state == PROGRESSING


def test_terminating_crashing_pod_is_ignored():
    pods = [pod(containers=[crash_looping()], terminating=True), pod("hello-world-new-1")]
    assert evaluate(rolling_out(), pods).state == PROGRESSING


def test_crashing_pod_of_old_template_is_ignored_when_hash_is_given():
    old = pod(
        f"hello-world-{OLD_HASH}-abcde",
        containers=[crash_looping()],
        labels={"app": "hello-world", "pod-template-hash": OLD_HASH},
    )
    result = evaluate(rolling_out(), [old, pod()], current_pod_template_hash=NEW_HASH)
    assert result.state == PROGRESSING
    # ...and the same pod of the current template does fail the rollout.
    assert evaluate(rolling_out(), [old], current_pod_template_hash=OLD_HASH).state == FAILED


def test_pods_are_not_judged_before_the_controller_observes_the_new_spec():
    # They may all be pods of the previous (broken) release.
    obj = deployment(generation=3, observed=2, available=0)
    assert evaluate(obj, [pod(containers=[crash_looping()])]).state == PROGRESSING


# --- explaining slow progress ---------------------------------------------------------------


def test_readiness_probe_never_passing_keeps_progressing_and_says_why():
    pods = [
        pod(containers=[running(ready=False)]),
        pod(f"hello-world-{NEW_HASH}-q7wz2", containers=[running(ready=False)]),
    ]
    events = [
        event(
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            at="2026-11-24T03:59:30Z",
        )
    ]
    result = evaluate(rolling_out(), pods, events)
    assert result == Progress(
        PROGRESSING,
        0,
        2,
        "deployment.apps/hello-world: 0 of 2 updated replicas are available; "
        "0/2 pods available: container app is running but not ready: "
        f"Readiness probe failed: HTTP probe failed with statuscode: 503 (pod {POD})",
    )


def test_unschedulable_pod_is_explained():
    pending = pod(
        phase="Pending",
        containers=[],
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
            }
        ],
    )
    result = evaluate(rolling_out(), [pending])
    assert result.state == PROGRESSING
    assert "cannot be scheduled: 0/3 nodes are available: 3 Insufficient cpu." in result.message


# --- StatefulSet ----------------------------------------------------------------------------


def statefulset(*, replicas=3, ready=3, updated=3, current="db-6b9cb", update="db-6b9cb", **kw):
    obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default", "generation": 2},
        "spec": {
            "replicas": replicas,
            "serviceName": "db",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        },
        "status": {
            "observedGeneration": 2,
            "replicas": replicas,
            "readyReplicas": ready,
            "currentReplicas": updated if current == update else replicas - updated,
            "updatedReplicas": updated,
            "currentRevision": current,
            "updateRevision": update,
            "availableReplicas": ready,
        },
    }
    obj.update(kw)
    return obj


def db_pod(name, revision, containers=None):
    return pod(
        name, containers=containers, labels={"app": "db", "controller-revision-hash": revision}
    )


def test_statefulset_rolled_out_succeeds():
    result = evaluate(statefulset(), [])
    assert result == Progress(SUCCEEDED, 3, 3, "statefulset.apps/db: successfully rolled out")


def test_statefulset_waits_for_pods_to_be_ready():
    result = evaluate(statefulset(ready=1, updated=1, current="db-old", update="db-new"), [])
    assert result == Progress(PROGRESSING, 1, 3, "statefulset.apps/db: 1 of 3 pods are ready")


def test_statefulset_waits_for_current_revision_to_catch_up():
    result = evaluate(statefulset(updated=3, current="db-old", update="db-new"), [])
    assert result.state == PROGRESSING
    assert "revision db-new" in result.message


def test_statefulset_partitioned_rollout_succeeds_once_pods_above_partition_are_updated():
    obj = statefulset(updated=1, current="db-old", update="db-new")
    obj["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 2
    assert evaluate(obj, []).state == SUCCEEDED
    obj["status"]["updatedReplicas"] = 0
    assert evaluate(obj, []).state == PROGRESSING


def test_statefulset_only_fails_for_pods_of_the_update_revision():
    obj = statefulset(ready=2, updated=1, current="db-old", update="db-new")
    old_crashing = db_pod("db-2", "db-old", [crash_looping()])
    assert evaluate(obj, [old_crashing]).state == PROGRESSING
    new_crashing = db_pod("db-2", "db-new", [crash_looping()])
    assert evaluate(obj, [new_crashing]).state == FAILED
    assert "statefulset.apps/db: 2/3 pods ready: CrashLoopBackOff" in (
        evaluate(obj, [new_crashing]).message
    )


def test_statefulset_with_on_delete_strategy_succeeds_once_pods_are_ready():
    # OnDelete never replaces pods by itself, so there is no update to wait for.
    obj = statefulset(updated=0, current="db-old", update="db-new")
    obj["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert evaluate(obj, []).state == SUCCEEDED


def test_statefulset_without_status_is_progressing():
    obj = statefulset()
    del obj["status"]
    result = evaluate(obj, [])
    assert (result.state, result.ready, result.desired) == (PROGRESSING, 0, 3)


# --- DaemonSet ------------------------------------------------------------------------------


def daemonset(*, desired=3, updated=3, available=3):
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "node-agent", "namespace": "kube-system", "generation": 4},
        "spec": {"updateStrategy": {"type": "RollingUpdate"}},
        "status": {
            "observedGeneration": 4,
            "currentNumberScheduled": desired,
            "desiredNumberScheduled": desired,
            "numberReady": available,
            "numberAvailable": available,
            "updatedNumberScheduled": updated,
            "numberMisscheduled": 0,
        },
    }


def test_daemonset_rolled_out_succeeds():
    assert evaluate(daemonset(), []) == Progress(
        SUCCEEDED, 3, 3, "daemonset.apps/node-agent: successfully rolled out"
    )


def test_daemonset_waits_for_pods_to_be_updated_then_available():
    result = evaluate(daemonset(updated=1, available=3), [])
    assert result.message == "daemonset.apps/node-agent: 1 of 3 new pods have been updated"
    result = evaluate(daemonset(updated=3, available=2), [])
    assert result == Progress(
        PROGRESSING, 2, 3, "daemonset.apps/node-agent: 2 of 3 updated pods are available"
    )


def test_daemonset_without_status_is_progressing():
    obj = daemonset()
    del obj["status"]
    result = evaluate(obj, [])
    assert result.state == PROGRESSING
    assert "observe the new spec" in result.message


def test_daemonset_with_missing_image_fails_fast():
    pods = [
        pod("node-agent-x7k2p", phase="Pending", containers=[waiting("ErrImagePull", NOT_FOUND)])
    ]
    result = evaluate(daemonset(available=2), pods)
    assert result.state == FAILED
    assert result.message.startswith("daemonset.apps/node-agent: 2/3 pods available: ErrImagePull")


# --- Job ------------------------------------------------------------------------------------


def job(*, completions=1, succeeded=None, active=None, failed=None, conditions=None):
    status = {"startTime": "2026-11-24T03:58:00Z"}
    for key, value in (("succeeded", succeeded), ("active", active), ("failed", failed)):
        if value is not None:
            status[key] = value
    if conditions:
        status["conditions"] = conditions
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "default", "generation": 1},
        "spec": {"completions": completions, "parallelism": 1, "backoffLimit": 6},
        "status": status,
    }


def job_pod(containers):
    return pod(
        "migrate-8kq2z",
        phase="Pending",
        containers=containers,
        labels={"job-name": "migrate", "batch.kubernetes.io/controller-uid": "42"},
    )


def test_job_with_enough_completions_succeeds():
    complete = [{"type": "Complete", "status": "True"}]
    result = evaluate(job(succeeded=1, conditions=complete), [])
    assert result == Progress(SUCCEEDED, 1, 1, "job.batch/migrate: completed (1 succeeded)")


def test_job_running_is_progressing():
    result = evaluate(job(completions=3, succeeded=1, active=1), [])
    assert result == Progress(
        PROGRESSING, 1, 3, "job.batch/migrate: 1 of 3 completions succeeded, 1 active"
    )


def test_job_with_failed_condition_fails_with_its_reason():
    failed = [
        {
            "type": "Failed",
            "status": "True",
            "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit",
        }
    ]
    result = evaluate(job(failed=7, conditions=failed), [])
    assert result == Progress(
        FAILED,
        0,
        1,
        "job.batch/migrate failed: "
        "BackoffLimitExceeded: Job has reached the specified backoff limit",
    )


def test_job_failure_target_condition_already_counts_as_failed():
    target = [{"type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded"}]
    result = evaluate(job(active=1, conditions=target), [])
    assert (result.state, result.message) == (FAILED, "job.batch/migrate failed: DeadlineExceeded")


def test_crashing_job_pod_is_left_to_the_backoff_limit():
    assert evaluate(job(active=1), [job_pod([crash_looping()])]).state == PROGRESSING


def test_job_pod_with_missing_image_fails_fast():
    result = evaluate(job(active=1), [job_pod([waiting("ErrImagePull", NOT_FOUND)])])
    assert result.state == FAILED
    assert result.message.startswith("job.batch/migrate: 0/1 pods completed: ErrImagePull")


def test_job_without_status_is_progressing():
    obj = job()
    del obj["status"]
    result = evaluate(obj, [])
    assert (result.state, result.ready, result.desired) == (PROGRESSING, 0, 1)


# --- new_replicaset_hash --------------------------------------------------------------------


def replicaset(template_hash, revision):
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"hello-world-{template_hash}",
            "labels": {"app": "hello-world", "pod-template-hash": template_hash},
            "annotations": {"deployment.kubernetes.io/revision": revision},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "hello-world",
                    "uid": "0b5e8c3a-1111-4c1e-9a51-d2f1f0a1b2c3",
                    "controller": True,
                }
            ],
        },
    }


def test_new_replicaset_hash_is_the_hash_of_the_current_revision():
    replicasets = [replicaset(OLD_HASH, "1"), replicaset(NEW_HASH, "2")]
    assert new_replicaset_hash(deployment(), replicasets) == NEW_HASH


def test_new_replicaset_hash_is_unknown_until_the_new_spec_is_observed():
    replicasets = [replicaset(OLD_HASH, "1"), replicaset(NEW_HASH, "2")]
    assert new_replicaset_hash(deployment(generation=3, observed=2), replicasets) is None


# --- robustness -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        None,
        {},
        "deployment",
        {"apiVersion": "apps/v1", "kind": "Deployment"},
        {"apiVersion": "apps/v1", "kind": "Deployment", "status": [], "spec": "x"},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"updateStrategy": None}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "status": {"observedGeneration": "4"}},
        {"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": [None, "x", {}]}},
    ],
)
def test_odd_objects_never_raise(obj):
    result = evaluate(obj, [None, {}, {"status": {"containerStatuses": [None, {"state": 3}]}}])
    assert isinstance(result, Progress)
    assert result.state in (PROGRESSING, SUCCEEDED, FAILED)


def test_non_workload_has_nothing_to_wait_for():
    result = evaluate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}, [])
    assert result == Progress(SUCCEEDED, 0, 0, "configmap/cfg: not a workload, nothing to wait for")


def test_evaluate_does_not_modify_its_input():
    obj, pods = rolling_out(), [pod(containers=[crash_looping()])]
    before = copy.deepcopy((obj, pods))
    evaluate(obj, pods)
    assert (obj, pods) == before


# --- readiness beyond workloads: PVCs, Services, custom resources -----------------------------


def custom(*conditions, generation=3, observed=3, status=True, **metadata):
    """A custom resource (say, a cert-manager Certificate) as its controller reports it."""
    obj = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "shop-tls", "namespace": "default", "generation": generation,
                     **metadata},
        "spec": {"secretName": "shop-tls", "dnsNames": ["shop.example.com"]},
    }  # fmt: skip
    if status:
        obj["status"] = {"conditions": list(conditions)}
        if observed is not None:
            obj["status"]["observedGeneration"] = observed
    return obj


def condition(type_, status, reason="", message="", **extra):
    return {"type": type_, "status": status, "reason": reason, "message": message, **extra}


@pytest.mark.parametrize(
    ("obj", "state", "message"),
    [
        (custom(condition("Ready", "True", "Ready", "Certificate is up to date")), SUCCEEDED,
         "certificate.cert-manager.io/shop-tls: Ready"),
        (custom(condition("Ready", "False", "Pending", "Issuing certificate as Secret does not "
                          "exist")), PROGRESSING,
         "certificate.cert-manager.io/shop-tls: Ready is False: Pending: Issuing certificate as "
         "Secret does not exist"),
        (custom(condition("Ready", "Unknown")), PROGRESSING,
         "certificate.cert-manager.io/shop-tls: Ready is Unknown"),
        # kstatus: a status written for an older spec says nothing about this one.
        (custom(condition("Ready", "True"), generation=4, observed=3), PROGRESSING,
         "certificate.cert-manager.io/shop-tls: waiting for its controller to observe generation "
         "4 (it has seen 3)"),
        (custom(condition("Ready", "True", observedGeneration=2), observed=None), PROGRESSING,
         "certificate.cert-manager.io/shop-tls: Ready describes generation 2, not 3 yet"),
        # kstatus' abnormal-true conditions.
        (custom(condition("Stalled", "True", "InvalidSpec", "dnsNames is empty"),
                condition("Ready", "False")), FAILED,
         "certificate.cert-manager.io/shop-tls is stalled: InvalidSpec: dnsNames is empty"),
        (custom(condition("Reconciling", "True", "Progressing", "issuing"),
                condition("Ready", "True")), PROGRESSING,
         "certificate.cert-manager.io/shop-tls: reconciling: Progressing: issuing"),
        # Available stands in when there is no Ready.
        (custom(condition("Available", "False", "", "0 of 1 replicas up")), PROGRESSING,
         "certificate.cert-manager.io/shop-tls: Available is False: 0 of 1 replicas up"),
        (custom(condition("Available", "True")), SUCCEEDED,
         "certificate.cert-manager.io/shop-tls: Available"),
        # kstatus' "Current": nothing in the status to wait for.
        (custom(), SUCCEEDED,
         "certificate.cert-manager.io/shop-tls: no Ready or Available condition to wait for"),
        (custom(status=False), SUCCEEDED,
         "certificate.cert-manager.io/shop-tls: no Ready or Available condition to wait for"),
        (custom(condition("Ready", "True"), deletionTimestamp="2026-01-01T00:00:00Z"),
         PROGRESSING, "certificate.cert-manager.io/shop-tls: being deleted"),
    ],
)  # fmt: skip
def test_custom_resources_follow_their_status_conditions(obj, state, message):
    progress = evaluate(obj, [])
    assert (progress.state, progress.message) == (state, message)


def test_a_custom_resource_that_stays_not_ready_explains_the_timeout():
    # The runner's timeout reason is the last progress message of what did not get ready.
    stuck = custom(condition("Ready", "False", "DoesNotExist", 'Issuer "letsencrypt" not found'))
    assert must_wait_for(stuck)
    assert evaluate(stuck, []).message.endswith('DoesNotExist: Issuer "letsencrypt" not found')


def claim(phase, events=()):
    obj = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pvc-1234"},
        "status": {"phase": phase},
    }  # fmt: skip
    return evaluate(obj, [], list(events))


def test_a_claim_is_ready_once_bound():
    assert claim("Bound") == Progress(
        SUCCEEDED, 1, 1, "persistentvolumeclaim/data: bound to volume pvc-1234"
    )


def test_a_pending_claim_says_why_from_its_events():
    event = {
        "involvedObject": {"kind": "PersistentVolumeClaim", "name": "data"},
        "reason": "ProvisioningFailed", "type": "Warning",
        "message": 'storageclass.storage.k8s.io "fast" not found',
    }  # fmt: skip
    progress = claim("Pending", [event])
    assert progress.state == PROGRESSING
    assert progress.message == (
        'persistentvolumeclaim/data: pending, not bound yet; storageclass.storage.k8s.io "fast" '
        "not found"
    )


def test_a_lost_claim_fails():
    assert claim("Lost").state == FAILED


def service(**spec):
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "shop", "namespace": "default"},
        "spec": {"ports": [{"port": 80}], **spec},
        "status": {"loadBalancer": {}},
    }  # fmt: skip


def endpoint_slice(service_name, *ready):
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{service_name}-abcde",
                     "labels": {"kubernetes.io/service-name": service_name}},
        "endpoints": [{"addresses": [f"10.244.0.{i}"], "conditions": {"ready": r}}
                      for i, r in enumerate(ready)],
    }  # fmt: skip


def test_a_service_is_ready_with_one_ready_endpoint_of_its_own():
    slices = [endpoint_slice("other", True), endpoint_slice("shop", False, True)]
    progress = evaluate(service(selector={"app": "shop"}), [], endpoint_slices=slices)
    assert progress == Progress(SUCCEEDED, 1, 1, "service/shop: 1 ready endpoint")


def test_a_service_waits_while_its_endpoints_are_not_ready():
    slices = [endpoint_slice("other", True), endpoint_slice("shop", False, False)]
    progress = evaluate(service(selector={"app": "shop"}), [], endpoint_slices=slices)
    assert progress == Progress(PROGRESSING, 0, 1, "service/shop: 2 endpoints, none ready yet")


def test_a_service_publishing_not_ready_addresses_takes_any_endpoint():
    obj = service(selector={"app": "shop"}, publishNotReadyAddresses=True)
    assert evaluate(obj, [], endpoint_slices=[endpoint_slice("shop", False)]).state == SUCCEEDED


def test_a_load_balancer_waits_for_its_address():
    obj = service(type="LoadBalancer", selector={"app": "shop"})
    waiting = evaluate(obj, [], endpoint_slices=[endpoint_slice("shop", True)])
    assert waiting.message == "service/shop: waiting for the load balancer's address"
    obj["status"] = {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}
    assert evaluate(obj, []).message == "service/shop: load balancer at lb.example.com"


@pytest.mark.parametrize(
    ("obj", "waits"),
    [
        (service(selector={"app": "shop"}), True),
        (service(type="LoadBalancer"), True),
        (service(), False),  # no selector: its endpoints are the user's
        (service(type="ExternalName", externalName="db.example.com"), False),
        ({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d"}}, True),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, False),
        ({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"}},
         False),  # kstatus: done once applied; many controllers never write an address
        ({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}}, False),
        (custom(), True),
    ],
)  # fmt: skip
def test_must_wait_for(obj, waits):
    assert must_wait_for(obj) is waits


def test_a_service_of_workloads_scaled_to_zero_is_not_waited_for():
    idle = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shop"},
        "spec": {"replicas": 0, "template": {"metadata": {"labels": {"app": "shop", "v": "1"}}}},
    }  # fmt: skip
    busy = copy.deepcopy(idle)
    busy["spec"]["replicas"] = 2
    svc = service(selector={"app": "shop"})
    assert objects_to_follow([svc, idle]) == [idle]
    assert objects_to_follow([svc, busy]) == [svc, busy]
    assert objects_to_follow([svc]) == [svc]  # selects pods from elsewhere: wait for them


def test_kinds_to_watch_include_what_the_rules_read():
    svc = service(selector={"app": "shop"})
    assert kinds_to_watch([svc, custom()]) == {
        ("v1", "Service"), ("cert-manager.io/v1", "Certificate"), ("v1", "Pod"), ("v1", "Event"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
    }  # fmt: skip


def test_success_sentence_names_workloads_then_the_rest():
    deployment_obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}}
    assert success_sentence([deployment_obj]) == "Rolled out deployment/a."
    assert success_sentence([service(), deployment_obj]) == (
        "Rolled out deployment/a. Ready: service/shop."
    )
    assert success_sentence([service()]) == "Ready: service/shop."


def test_a_worker_never_judges_a_deployment_by_pods_of_an_unknown_replicaset():
    """Right after a rollback re-applied a good template, the failing pods are the previous
    rollout's; until the new ReplicaSet is seen, the worker's hash matches no pod."""
    failed = running(ready=False)
    failed["state"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    pods = [pod(phase="Failed", containers=[failed], reason="DeadlineExceeded", message="boom")]
    from deployments.rollout import deployment_pods_hash

    unknown = deployment_pods_hash(rolling_out(), replicasets=[])
    assert unknown == ""
    assert evaluate(rolling_out(), pods, current_pod_template_hash=unknown).state != FAILED
    assert evaluate(rolling_out(), pods).state == FAILED  # without the worker's hash: all count
