"""Rollout rules: is a workload rolled out, still progressing, or failed?

A worker watches each applied workload and, after every watch event, calls `evaluate` with
the live object, its pods and recent events (plain dicts shaped like the API's JSON, camelCase
keys). Everything here is a pure function: no I/O, no Django, no kubernetes client.

Where the rules come from:

- Success and progress follow `kubectl rollout status` (kubectl's
  pkg/polymorphichelpers/rollout_status.go):
  - Deployment: the controller has observed the current generation, every replica is updated,
    no old replicas are left and every updated replica is available.
    A `Progressing` condition with reason `ProgressDeadlineExceeded` is a failure.
  - StatefulSet: observed generation, `readyReplicas` reaches `spec.replicas`, then all pods
    above the rolling-update partition are updated (and, without a partition, the current
    revision has caught up with the update revision).
  - DaemonSet: observed generation, every scheduled pod updated and available.
  - Job (not in kubectl): `succeeded >= completions` (default 1) or a `Complete` condition;
    a `Failed` condition is a failure.
- Failing fast follows Shopify's krane (lib/krane/kubernetes_resource/pod.rb) and Argo CD's
  health checks: a pod of the current template in a state that will not fix itself fails the
  rollout now instead of after the progress deadline. Doomed states are CrashLoopBackOff,
  an image that does not exist (or that we may not pull), an invalid image name, a container
  that cannot be created or configured, a container that cannot run, and a long-running pod
  in phase Failed. A readiness probe that never passes is *not* doomed: the app may still be
  warming up, so that case ends with the progress deadline or the caller's timeout, and the
  progressing message says which container is not ready and why.

Pods that are terminating, or that belong to an older template, never fail a rollout: they
are on their way out. A Deployment's pods only say which template they belong to through
their `pod-template-hash` label, which the Deployment itself does not carry; pass
`current_pod_template_hash` (see `new_replicaset_hash`) or every live pod counts.
For Jobs, crashes and failed pods are left to the Job's own backoffLimit.

Events (optional) only enrich messages, and tell a missing image apart from a slow registry
when the pod's own message does not say.

Other kinds (`must_wait_for` says which are followed at all):

- PersistentVolumeClaim: ready once `Bound` (kstatus); `Lost` is a failure (Argo CD).
- Service: ExternalName, or without a selector (its endpoints are the user's): nothing to wait
  for. LoadBalancer: an address in `status.loadBalancer.ingress` (Argo CD, krane's "published").
  Any other with a selector: at least one ready endpoint in its EndpointSlices (krane waits until
  the selector matches a pod; a ready endpoint says more: selector, ports and a ready pod agree).
  A Service whose manifest workloads all ask for 0 replicas is not waited for (krane's
  `exposes_zero_replica_workload?`).
- Ingress: done once applied, as kstatus has it: many ingress controllers never write an
  address, so waiting for one would hang (Argo CD waits; we do not).
- Configuration, RBAC and policy kinds (ConfigMap, Secret, Role, NetworkPolicy, ...), and the
  kinds that are not rolled out (bare Pods, ReplicaSets, CronJobs): done once applied.
- Anything else, custom resources above all, by kstatus' generic rules: a controller that has
  not observed the current generation (`status.observedGeneration`, or a condition's own
  `observedGeneration`) is still working; `Stalled=True` fails, `Reconciling=True` is
  progressing; then a `Ready` (else `Available`) condition decides: `True` is ready, anything
  else keeps waiting and its message explains a timeout. Without either condition the object
  counts as ready once applied (kstatus' "Current").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PROGRESSING = "progressing"
SUCCEEDED = "succeeded"
FAILED = "failed"

WORKLOAD_KINDS = frozenset(
    {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("batch", "Job")}
)

# Long messages (containerd repeats the image reference three times) would swamp a log line.
MAX_DETAIL_CHARS = 300

# An image pull error with one of these in its message will not go away by retrying:
# the tag or repository is missing, or the registry refuses us.
_PERMANENT_PULL_ERROR = re.compile(
    r"not found|manifest unknown|does not exist|name unknown|unauthorized|access denied",
    re.IGNORECASE,
)

# krane: the kubelet reports this while it is still fetching a Secret or ConfigMap for the
# pod; it resolves by itself.
_TRANSIENT_CONFIG_ERROR = re.compile(r"failed to sync .* cache", re.IGNORECASE)

# A pod that failed for one of these reasons was pushed off its node (eviction, preemption,
# node shutdown, admission race); the controller replaces it, so the rollout is not doomed.
_TRANSIENT_POD_FAILURES = {"Evicted", "Preempting", "Shutdown", "NodeShutdown", "Terminated"}

# The kubelet's Unhealthy event says what the probe got, e.g. "statuscode: 503".
_PROBE_FAILED = re.compile(r"probe failed", re.IGNORECASE)

# Waiting reasons that are simply a step of a healthy start, worth less as an explanation.
_NORMAL_WAITING_REASONS = {"ContainerCreating", "PodInitializing"}

# Exit code 128 from ContainerCannotRun has been seen for node or runtime hiccups (krane).
_TRANSIENT_CANNOT_RUN_EXIT_CODE = 128


@dataclass(frozen=True)
class Progress:
    state: str  # PROGRESSING | SUCCEEDED | FAILED
    ready: int  # replicas ready/available/completed so far
    desired: int
    message: str  # one line for a person


# Done once applied: nothing in their status says more (or they are not rolled out).
DONE_ONCE_APPLIED_KINDS = frozenset(
    {
        ("", "Namespace"), ("", "ConfigMap"), ("", "Secret"), ("", "ServiceAccount"),
        ("", "LimitRange"), ("", "ResourceQuota"), ("", "PersistentVolume"), ("", "Endpoints"),
        ("", "Pod"), ("", "ReplicationController"), ("apps", "ReplicaSet"),
        ("apps", "ControllerRevision"), ("batch", "CronJob"),
        ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("networking.k8s.io", "Ingress"), ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"), ("discovery.k8s.io", "EndpointSlice"),
        ("autoscaling", "HorizontalPodAutoscaler"), ("policy", "PodDisruptionBudget"),
        ("scheduling.k8s.io", "PriorityClass"), ("storage.k8s.io", "StorageClass"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    }
)  # fmt: skip

# The label EndpointSlices carry to say which Service they belong to.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def is_workload(obj: dict) -> bool:
    """True for the kinds whose rollout `evaluate` can follow."""
    return _group_kind(obj) in WORKLOAD_KINDS


def must_wait_for(obj: dict) -> bool:
    """True when `evaluate` has something to wait for once the object is applied."""
    group_kind = _group_kind(obj)
    if group_kind in WORKLOAD_KINDS or group_kind == ("", "PersistentVolumeClaim"):
        return True
    if group_kind == ("", "Service"):
        spec = _dig(obj, "spec") or {}
        if spec.get("type") == "ExternalName":
            return False
        return spec.get("type") == "LoadBalancer" or bool(spec.get("selector"))
    return bool(group_kind[1]) and group_kind not in DONE_ONCE_APPLIED_KINDS


def objects_to_follow(objects: Iterable[dict]) -> list[dict]:
    """The objects of one manifest whose readiness a deployment waits for, in their order."""
    objects = _dicts(objects)
    return [
        obj
        for obj in objects
        if must_wait_for(obj) and not _exposes_only_idle_workloads(obj, objects)
    ]


def kinds_to_watch(followed: Iterable[dict]) -> set[tuple[str, str]]:
    """(apiVersion, kind) pairs to watch so that `evaluate` sees what it needs."""
    followed = _dicts(followed)
    # Events too: some failures only an event explains (a readiness probe's answer).
    kinds = {(obj["apiVersion"], obj["kind"]) for obj in followed} | {
        ("v1", "Pod"),
        ("v1", "Event"),
    }
    if any(_group_kind(obj) == ("apps", "Deployment") for obj in followed):
        kinds.add(("apps/v1", "ReplicaSet"))
    if any(_group_kind(obj) == ("", "Service") for obj in followed):
        kinds.add(("discovery.k8s.io/v1", "EndpointSlice"))
    return kinds


def success_sentence(followed: Iterable[dict]) -> str:
    """The reason a deployment whose followed objects are all ready gives."""
    followed = _dicts(followed)
    workloads = [_short_name(obj) for obj in followed if is_workload(obj)]
    others = [_short_name(obj) for obj in followed if not is_workload(obj)]
    parts = [f"Rolled out {', '.join(workloads)}." if workloads else ""]
    parts.append(f"Ready: {', '.join(others)}." if others else "")
    return " ".join(part for part in parts if part)


def evaluate(
    obj: dict,
    pods: Iterable[dict],
    events: Iterable[dict] = (),
    *,
    current_pod_template_hash: str | None = None,
    endpoint_slices: Iterable[dict] = (),
) -> Progress:
    """The rollout state of the live workload `obj`, given its pods and recent events.

    `current_pod_template_hash` names the pods of the template being rolled out: for a
    Deployment it is compared with the pods' `pod-template-hash` label (see
    `new_replicaset_hash`), for a StatefulSet or DaemonSet with `controller-revision-hash`.
    A StatefulSet's own `status.updateRevision` is used when no hash is given. Without a
    hash, every pod that is not terminating counts.
    For a Service, `endpoint_slices` are the namespace's EndpointSlices (only its own count).
    """
    try:
        group_kind = _group_kind(obj)
        if group_kind == ("", "Service"):
            return _service(obj, _dicts(endpoint_slices))
        if group_kind == ("", "PersistentVolumeClaim"):
            return _pvc(obj, _dicts(events))
        if group_kind not in WORKLOAD_KINDS and must_wait_for(obj):
            return _by_conditions(obj)
        return _evaluate(obj, _dicts(pods), _dicts(events), current_pod_template_hash)
    except Exception as error:
        # A malformed object must not crash the worker; it keeps waiting until its timeout.
        return Progress(PROGRESSING, 0, 0, f"{_display_name(obj)}: cannot read status: {error!r}")


def new_replicaset_hash(deployment: dict, replicasets: Iterable[dict]) -> str | None:
    """The `pod-template-hash` of the Deployment's current ReplicaSet, if it can be told.

    The Deployment controller stamps the same `deployment.kubernetes.io/revision` annotation
    on the Deployment and on its newest ReplicaSet. Until the controller has observed the
    Deployment's current generation that annotation may still name the previous ReplicaSet,
    so then the answer is None.
    """
    if not _observed(deployment):
        return None
    revision_key = "deployment.kubernetes.io/revision"
    revision = _dig(deployment, "metadata", "annotations", revision_key)
    uid = _dig(deployment, "metadata", "uid")
    name = _dig(deployment, "metadata", "name")
    if not revision:
        return None
    for rs in _dicts(replicasets):
        owners = _dicts(_dig(rs, "metadata", "ownerReferences"))
        owned = any(
            owner.get("kind") == "Deployment"
            and (owner.get("uid") == uid if uid else owner.get("name") == name)
            for owner in owners
        )
        if owned and _dig(rs, "metadata", "annotations", revision_key) == revision:
            template_hash = _dig(rs, "metadata", "labels", "pod-template-hash")
            return template_hash if isinstance(template_hash, str) else None
    return None


def deployment_pods_hash(deployment: dict, replicasets: Iterable[dict]) -> str:
    """The hash a worker judges a Deployment's pods by: its current ReplicaSet's, or "" (no pod)
    while that is not known yet. Pods of an earlier rollout, still failing right after a rollback
    re-applied the good template, are then never taken for the new ones."""
    return new_replicaset_hash(deployment, replicasets) or ""


# --- per kind -------------------------------------------------------------------------------


def _evaluate(
    obj: dict, pods: list[dict], events: list[dict], template_hash: str | None
) -> Progress:
    group_kind = _group_kind(obj)
    if group_kind == ("apps", "Deployment"):
        return _deployment(obj, pods, events, template_hash)
    if group_kind == ("apps", "StatefulSet"):
        return _statefulset(obj, pods, events, template_hash)
    if group_kind == ("apps", "DaemonSet"):
        return _daemonset(obj, pods, events, template_hash)
    if group_kind == ("batch", "Job"):
        return _job(obj, pods, events)
    # Anything else (a ConfigMap, a Service) is done once applied: nothing rolls out.
    return Progress(SUCCEEDED, 0, 0, f"{_display_name(obj)}: not a workload, nothing to wait for")


def _deployment(
    obj: dict, pods: list[dict], events: list[dict], template_hash: str | None
) -> Progress:
    name = _display_name(obj)
    status = _dig(obj, "status") or {}
    desired = max(_int(_dig(obj, "spec", "replicas"), 1), 0)
    updated = _int(_dig(status, "updatedReplicas"))
    total = _int(_dig(status, "replicas"))
    available = _int(_dig(status, "availableReplicas"))
    # availableReplicas also counts old pods; assume those are all available, so the bar
    # never shows new replicas as available before they are.
    old = max(total - updated, 0)
    ready = _clamp(min(available - old, updated), desired)
    observed = _observed(obj)
    counts = f"{ready}/{desired} pods available"
    hint = _hint(pods, events, "pod-template-hash", template_hash, counts)

    if not observed:
        stage = "waiting for the deployment controller to observe the new spec"
    else:
        progressing = _condition(obj, "Progressing")
        if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
            message = f"{name} exceeded its progress deadline"
            if hint:
                message = _join(message, hint, "; ")
            else:
                message = _join(message, _text(progressing.get("message")))
            return Progress(FAILED, ready, desired, message)
        if updated < desired:
            stage = f"{updated} of {desired} new replicas have been updated"
        elif total > updated:
            stage = f"{total - updated} old replicas are pending termination"
        elif available < updated:
            stage = f"{available} of {updated} updated replicas are available"
        else:
            return Progress(SUCCEEDED, ready, desired, f"{name}: successfully rolled out")

    failed = _fail_fast(name, pods, events, "pod-template-hash", template_hash, observed,
                        ready, desired, "available")  # fmt: skip
    if failed:
        return failed
    if _dig(obj, "spec", "paused") is True:
        stage += " (rollout is paused)"
    replica_failure = _condition(obj, "ReplicaFailure")
    if replica_failure and replica_failure.get("status") == "True":
        # e.g. a ResourceQuota forbids creating pods: there are no pods to explain it.
        stage += f"; {_text(replica_failure.get('message'))}"
    return Progress(PROGRESSING, ready, desired, _join(f"{name}: {stage}", hint, "; "))


def _statefulset(
    obj: dict, pods: list[dict], events: list[dict], template_hash: str | None
) -> Progress:
    name = _display_name(obj)
    status = _dig(obj, "status") or {}
    desired = max(_int(_dig(obj, "spec", "replicas"), 1), 0)
    ready_replicas = _int(_dig(status, "readyReplicas"))
    ready = _clamp(ready_replicas, desired)
    updated = _int(_dig(status, "updatedReplicas"))
    update_revision = _dig(status, "updateRevision")
    current_revision = _dig(status, "currentRevision")
    strategy = _dig(obj, "spec", "updateStrategy", "type") or "RollingUpdate"
    partition = _int(_dig(obj, "spec", "updateStrategy", "rollingUpdate", "partition"))
    observed = _observed(obj)
    # Pods of the revision being rolled out carry it in their controller-revision-hash label.
    if template_hash is None and observed and isinstance(update_revision, str):
        template_hash = update_revision

    if not observed:
        stage = "waiting for the statefulset controller to observe the new spec"
    elif ready_replicas < desired:
        stage = f"{ready_replicas} of {desired} pods are ready"
    elif strategy == "RollingUpdate" and partition > 0:
        target = max(desired - partition, 0)
        if updated >= target:
            return Progress(
                SUCCEEDED,
                ready,
                desired,
                f"{name}: partitioned rollout complete ({updated} pods updated)",
            )
        stage = f"{updated} of {target} pods above partition {partition} have been updated"
    elif strategy == "RollingUpdate" and (
        updated < desired
        or (update_revision and current_revision and current_revision != update_revision)
    ):
        stage = f"{updated} of {desired} pods have been updated to revision {update_revision}"
    else:
        # OnDelete only replaces pods that someone deletes: ready pods are all we can wait for.
        return Progress(SUCCEEDED, ready, desired, f"{name}: successfully rolled out")

    failed = _fail_fast(name, pods, events, "controller-revision-hash", template_hash, observed,
                        ready, desired, "ready")  # fmt: skip
    if failed:
        return failed
    counts = f"{ready}/{desired} pods ready"
    hint = _hint(pods, events, "controller-revision-hash", template_hash, counts)
    return Progress(PROGRESSING, ready, desired, _join(f"{name}: {stage}", hint, "; "))


def _daemonset(
    obj: dict, pods: list[dict], events: list[dict], template_hash: str | None
) -> Progress:
    name = _display_name(obj)
    status = _dig(obj, "status") or {}
    desired = max(_int(_dig(status, "desiredNumberScheduled")), 0)
    available = _int(_dig(status, "numberAvailable"))
    updated = _int(_dig(status, "updatedNumberScheduled"))
    ready = _clamp(available, desired)
    strategy = _dig(obj, "spec", "updateStrategy", "type") or "RollingUpdate"
    # Right after creation there is no status, so desired is still 0: not a success.
    observed = _observed(obj)

    if not observed:
        stage = "waiting for the daemon set controller to observe the new spec"
    elif strategy == "RollingUpdate" and updated < desired:
        stage = f"{updated} of {desired} new pods have been updated"
    elif available < desired:
        stage = f"{available} of {desired} updated pods are available"
    else:
        return Progress(SUCCEEDED, ready, desired, f"{name}: successfully rolled out")

    failed = _fail_fast(name, pods, events, "controller-revision-hash", template_hash, observed,
                        ready, desired, "available")  # fmt: skip
    if failed:
        return failed
    counts = f"{ready}/{desired} pods available"
    hint = _hint(pods, events, "controller-revision-hash", template_hash, counts)
    return Progress(PROGRESSING, ready, desired, _join(f"{name}: {stage}", hint, "; "))


def _fail_fast(
    name: str,
    pods: list[dict],
    events: list[dict],
    hash_label: str,
    template_hash: str | None,
    observed: bool,
    ready: int,
    desired: int,
    word: str,
) -> Progress | None:
    """FAILED when a current pod of a long-running workload cannot succeed, else None."""
    # Before the controller has seen the new spec, the pods we are given may all be from
    # the previous release; only an explicit hash lets us judge them.
    if not observed and template_hash is None:
        return None
    doomed = _find_doomed(pods, events, hash_label, template_hash, long_running=True)
    if not doomed:
        return None
    return Progress(FAILED, ready, desired, _failure(name, ready, desired, word, doomed))


def _job(obj: dict, pods: list[dict], events: list[dict]) -> Progress:
    name = _display_name(obj)
    status = _dig(obj, "status") or {}
    desired = max(_int(_dig(obj, "spec", "completions"), 1), 0)
    succeeded = _int(_dig(status, "succeeded"))
    ready = _clamp(succeeded, desired)

    # FailureTarget is the controller's decision to fail, set before it cleans up the pods.
    for kind in ("Failed", "FailureTarget"):
        failed = _condition(obj, kind)
        if failed and failed.get("status") == "True":
            why = ": ".join(
                text for text in (_text(failed.get("reason")), _text(failed.get("message"))) if text
            )
            return Progress(FAILED, ready, desired, _join(f"{name} failed", why))
    complete = _condition(obj, "Complete") or _condition(obj, "SuccessCriteriaMet")
    if (complete and complete.get("status") == "True") or succeeded >= desired:
        return Progress(SUCCEEDED, ready, desired, f"{name}: completed ({succeeded} succeeded)")

    # Crashes and failed pods count towards the Job's backoffLimit, so the Job controller
    # decides about those; an image or config error never does and would hang forever.
    doomed = _find_doomed(pods, events, None, None, long_running=False)
    if doomed:
        return Progress(FAILED, ready, desired, _failure(name, ready, desired, "completed", doomed))
    stage = f"{succeeded} of {desired} completions succeeded, {_int(_dig(status, 'active'))} active"
    if _int(_dig(status, "failed")):
        stage += f", {_int(_dig(status, 'failed'))} failed"
    if _dig(obj, "spec", "suspend") is True:
        stage += " (job is suspended)"
    hint = _hint(pods, events, None, None, None)
    return Progress(PROGRESSING, ready, desired, _join(f"{name}: {stage}", hint, "; "))


# --- other kinds ----------------------------------------------------------------------------


def _pvc(obj: dict, events: list[dict]) -> Progress:
    name = _display_name(obj)
    phase = _text(_dig(obj, "status", "phase")) or "Pending"
    if phase == "Bound":
        volume = _text(_dig(obj, "spec", "volumeName"))
        return Progress(SUCCEEDED, 1, 1, _join(f"{name}: bound", f"to volume {volume}", " "))
    if phase == "Lost":
        return Progress(FAILED, 0, 1, f"{name}: lost its volume {_dig(obj, 'spec', 'volumeName')}")
    # e.g. ProvisioningFailed, or WaitForFirstConsumer until a pod uses the claim.
    why = _latest_event_about(events, obj)
    return Progress(PROGRESSING, 0, 1, _join(f"{name}: {phase.lower()}, not bound yet", why, "; "))


def _service(obj: dict, endpoint_slices: list[dict]) -> Progress:
    name = _display_name(obj)
    spec = _dig(obj, "spec") or {}
    if spec.get("type") == "LoadBalancer":
        ingress = _dicts(_dig(obj, "status", "loadBalancer", "ingress"))
        addresses = [_text(i.get("ip") or i.get("hostname")) for i in ingress]
        if any(addresses):
            return Progress(SUCCEEDED, 1, 1, f"{name}: load balancer at {', '.join(addresses)}")
        return Progress(PROGRESSING, 0, 1, f"{name}: waiting for the load balancer's address")
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        return Progress(SUCCEEDED, 0, 0, f"{name}: no selector, nothing to wait for")
    service_name = _dig(obj, "metadata", "name")
    # Pods that publish while not ready are what the Service sends traffic to.
    any_will_do = spec.get("publishNotReadyAddresses") is True
    ready = not_ready = 0
    for endpoint_slice in endpoint_slices:
        if _dig(endpoint_slice, "metadata", "labels", SERVICE_NAME_LABEL) != service_name:
            continue
        for endpoint in _dicts(endpoint_slice.get("endpoints")):
            # The API: a missing `ready` means unknown, which consumers take as ready.
            if any_will_do or _dig(endpoint, "conditions", "ready") is not False:
                ready += 1
            else:
                not_ready += 1
    if ready:
        return Progress(SUCCEEDED, 1, 1, f"{name}: {ready} ready endpoint{'s' * (ready > 1)}")
    shown = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
    if not_ready:
        stage = f"{not_ready} endpoint{'s' * (not_ready > 1)}, none ready yet"
    else:
        stage = f"no ready endpoint yet: no ready pod matches its selector {shown}"
    return Progress(PROGRESSING, 0, 1, f"{name}: {stage}")


def _by_conditions(obj: dict) -> Progress:
    """kstatus' generic rules, then the Ready (or Available) condition."""
    name = _display_name(obj)
    if _dig(obj, "metadata", "deletionTimestamp"):
        return Progress(PROGRESSING, 0, 1, f"{name}: being deleted")
    generation = _int(_dig(obj, "metadata", "generation"), -1)
    observed = _int(_dig(obj, "status", "observedGeneration"), -1)
    if observed >= 0 and generation >= 0 and observed < generation:
        return Progress(
            PROGRESSING, 0, 1,
            f"{name}: waiting for its controller to observe generation {generation} "
            f"(it has seen {observed})",
        )  # fmt: skip
    stalled = _condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        return Progress(FAILED, 0, 1, _join(f"{name} is stalled", _condition_text(stalled)))
    reconciling = _condition(obj, "Reconciling")
    if reconciling and reconciling.get("status") == "True":
        return Progress(
            PROGRESSING, 0, 1, _join(f"{name}: reconciling", _condition_text(reconciling))
        )
    for condition_type in ("Ready", "Available"):
        condition = _condition(obj, condition_type)
        if not condition:
            continue
        seen = _int(condition.get("observedGeneration"), -1)
        if seen >= 0 and generation >= 0 and seen < generation:
            return Progress(
                PROGRESSING, 0, 1,
                f"{name}: {condition_type} describes generation {seen}, not {generation} yet",
            )  # fmt: skip
        if condition.get("status") == "True":
            return Progress(SUCCEEDED, 1, 1, f"{name}: {condition_type}")
        status = _text(condition.get("status")) or "Unknown"
        return Progress(
            PROGRESSING, 0, 1,
            _join(f"{name}: {condition_type} is {status}", _condition_text(condition)),
        )  # fmt: skip
    return Progress(SUCCEEDED, 0, 0, f"{name}: no Ready or Available condition to wait for")


def _condition_text(condition: dict) -> str:
    reason, message = _text(condition.get("reason")), _text(condition.get("message"))
    return _join(reason, message) if reason else message


def _exposes_only_idle_workloads(obj: dict, objects: list[dict]) -> bool:
    """A Service whose selector matches only workloads of the manifest set to 0 replicas."""
    if _group_kind(obj) != ("", "Service"):
        return False
    selector = _dig(obj, "spec", "selector")
    if not isinstance(selector, dict) or not selector:
        return False
    replicas = []
    for other in objects:
        if _group_kind(other) not in (("apps", "Deployment"), ("apps", "StatefulSet")):
            continue
        labels = _dig(other, "spec", "template", "metadata", "labels") or {}
        if isinstance(labels, dict) and all(labels.get(k) == v for k, v in selector.items()):
            replicas.append(_int(_dig(other, "spec", "replicas"), 1))
    return bool(replicas) and not any(replicas)


def _latest_event_about(events: list[dict], obj: dict) -> str:
    """The newest event message about the object itself (any kind), e.g. ProvisioningFailed."""
    name, kind = _dig(obj, "metadata", "name"), _dig(obj, "kind")
    newest: tuple[datetime, int, str] | None = None
    for position, event in enumerate(events):
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if not isinstance(involved, dict):
            continue
        if involved.get("kind") != kind or involved.get("name") != name:
            continue
        message = _text(event.get("message") or event.get("note"))
        key = (_event_time(event), position, message)
        if message and (newest is None or key[:2] > newest[:2]):
            newest = key
    return newest[2] if newest else ""


# --- pods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Doom:
    pod: str
    container: str | None
    reason: str
    detail: str


def _current_pods(
    pods: list[dict], hash_label: str | None, template_hash: str | None
) -> list[dict]:
    """Pods that are not going away and belong to the template being rolled out."""
    current = []
    for pod in pods:
        if _dig(pod, "metadata", "deletionTimestamp"):
            continue
        old_template = (
            hash_label is not None
            and template_hash is not None
            and _dig(pod, "metadata", "labels", hash_label) != template_hash
        )
        if old_template:
            continue
        current.append(pod)
    return current


def _container_statuses(pod: dict) -> list[tuple[dict, bool]]:
    """(status, is_init_container) for every container of the pod, init containers first."""
    init = [(cs, True) for cs in _dicts(_dig(pod, "status", "initContainerStatuses"))]
    return init + [(cs, False) for cs in _dicts(_dig(pod, "status", "containerStatuses"))]


def _find_doomed(
    pods: list[dict],
    events: list[dict],
    hash_label: str | None,
    template_hash: str | None,
    *,
    long_running: bool,
) -> _Doom | None:
    for pod in _current_pods(pods, hash_label, template_hash):
        doom = _pod_doom(pod, events, long_running)
        if doom:
            return doom
    return None


def _pod_doom(pod: dict, events: list[dict], long_running: bool) -> _Doom | None:
    pod_name = _text(_dig(pod, "metadata", "name")) or "?"
    pod_reason = _text(_dig(pod, "status", "reason"))
    if (
        long_running
        and _dig(pod, "status", "phase") == "Failed"
        and pod_reason not in _TRANSIENT_POD_FAILURES
        and not pod_reason.startswith("OutOf")  # OutOfcpu, OutOfmemory: node admission race
    ):
        detail = _text(_dig(pod, "status", "message")) or "the pod stopped and will not restart"
        return _Doom(pod_name, None, pod_reason or "PodFailed", detail)

    for cs, _ in _container_statuses(pod):
        container = _text(cs.get("name")) or None
        waiting_reason = _text(_dig(cs, "state", "waiting", "reason"))
        waiting_message = _text(_dig(cs, "state", "waiting", "message"))

        if waiting_reason == "CrashLoopBackOff" and long_running:
            return _Doom(pod_name, container, waiting_reason, _crash_detail(cs, waiting_message))
        if waiting_reason in ("ErrImagePull", "ImagePullBackOff"):
            # The back-off message is often only 'Back-off pulling image "x"'; the pull
            # error itself is then in the kubelet's Failed event.
            if _PERMANENT_PULL_ERROR.search(waiting_message):
                return _Doom(pod_name, container, waiting_reason, waiting_message)
            from_event = _latest_event_message(events, pod, container, _PERMANENT_PULL_ERROR)
            if from_event:
                return _Doom(pod_name, container, waiting_reason, from_event)
        if waiting_reason in ("InvalidImageName", "CreateContainerError") or (
            waiting_reason == "CreateContainerConfigError"
            and not _TRANSIENT_CONFIG_ERROR.search(waiting_message)
        ):
            detail = (
                waiting_message
                or _latest_event_message(events, pod, container, None)
                or "no details given"
            )
            return _Doom(pod_name, container, waiting_reason, detail)

        if long_running:
            for state in ("state", "lastState"):
                exit_code = _dig(cs, state, "terminated", "exitCode")
                if (
                    _dig(cs, state, "terminated", "reason") == "ContainerCannotRun"
                    and exit_code != _TRANSIENT_CANNOT_RUN_EXIT_CODE
                ):
                    message = _text(_dig(cs, state, "terminated", "message")) or "no details given"
                    detail = f"exit code {exit_code}: {message}"
                    return _Doom(pod_name, container, "ContainerCannotRun", detail)
    return None


def _crash_detail(cs: dict, waiting_message: str) -> str:
    last = _dig(cs, "lastState", "terminated")
    if not isinstance(last, dict) or not last:
        return waiting_message or "the container keeps crashing"
    detail = f"exited with code {last.get('exitCode', '?')}"
    if last.get("reason"):
        detail += f" ({_text(last.get('reason'))})"
    restarts = _int(cs.get("restartCount"))
    if restarts:
        detail += f" after {restarts} restarts"
    if last.get("message"):
        # The termination message is what the app said last (terminationMessagePath).
        detail += f": {_text(last.get('message'))}"
    return detail


def _hint(
    pods: list[dict],
    events: list[dict],
    hash_label: str | None,
    template_hash: str | None,
    counts: str | None,
) -> str:
    """Why the current pods are not ready yet, for a person watching a slow rollout."""
    best: tuple[int, str] | None = None
    for pod in _current_pods(pods, hash_label, template_hash):
        found = _pod_hint(pod, events)
        if found and (best is None or found[0] < best[0]):
            best = found
    if best is None:
        return ""
    return f"{counts}: {best[1]}" if counts else best[1]


def _pod_hint(pod: dict, events: list[dict]) -> tuple[int, str] | None:
    """(priority, explanation) for a pod that is not ready; lower priority says more."""
    phase = _dig(pod, "status", "phase")
    if _pod_ready(pod) or phase in ("Succeeded", "Failed"):
        return None
    where = f" (pod {_text(_dig(pod, 'metadata', 'name')) or '?'})"
    for condition in _dicts(_dig(pod, "status", "conditions")):
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") == "Unschedulable"
        ):
            return 0, f"cannot be scheduled: {_text(condition.get('message'))}{where}"

    hints: list[tuple[int, str]] = []
    for cs, is_init in _container_statuses(pod):
        label = f"{'init container' if is_init else 'container'} {_text(cs.get('name'))}"
        waiting = _dig(cs, "state", "waiting")
        if isinstance(waiting, dict):
            reason = _text(waiting.get("reason")) or "waiting"
            message = _text(waiting.get("message"))
            priority = 3 if reason in _NORMAL_WAITING_REASONS else 1
            hints.append((priority, _join(f"{label} is waiting: {reason}", message) + where))
        elif isinstance(_dig(cs, "state", "running"), dict):
            if is_init:
                hints.append((3, f"{label} is running{where}"))
            elif cs.get("ready") is not True:
                probe = _latest_event_message(events, pod, _text(cs.get("name")), _PROBE_FAILED)
                text = _join(f"{label} is running but not ready", probe)
                hints.append((2, text + where))
    if hints:
        return min(hints, key=lambda hint: hint[0])
    return 4, f"pod is {_text(phase).lower() or 'pending'}{where}"


def _pod_ready(pod: dict) -> bool:
    return any(
        condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in _dicts(_dig(pod, "status", "conditions"))
    )


# --- events ---------------------------------------------------------------------------------


def _latest_event_message(
    events: list[dict], pod: dict, container: str | None, matches: re.Pattern[str] | None
) -> str:
    """The newest message of an event about this pod (and container) that matches.

    Without a pattern, only the kubelet's Failed and BackOff events count, since those
    carry the error behind a waiting container.
    """
    pod_name = _dig(pod, "metadata", "name")
    pod_namespace = _dig(pod, "metadata", "namespace")
    newest: tuple[datetime, int, str] | None = None
    for position, event in enumerate(events):
        # core/v1 names it involvedObject/message, events.k8s.io/v1 regarding/note.
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if not isinstance(involved, dict) or involved.get("kind") != "Pod":
            continue
        if involved.get("name") != pod_name:
            continue
        if pod_namespace and involved.get("namespace") not in (None, pod_namespace):
            continue
        field_path = _text(involved.get("fieldPath"))
        if container and "{" in field_path and not field_path.endswith("{" + container + "}"):
            continue
        message = _text(event.get("message") or event.get("note"))
        if not message:
            continue
        if matches is None:
            if event.get("reason") not in ("Failed", "BackOff"):
                continue
        elif not matches.search(message):
            continue
        # Same timestamp (or none): the later one in the list wins.
        key = (_event_time(event), position, message)
        if newest is None or key[:2] > newest[:2]:
            newest = key
    return newest[2] if newest else ""


def _event_time(event: dict) -> datetime:
    for value in (
        event.get("lastTimestamp"),
        event.get("deprecatedLastTimestamp"),
        event.get("eventTime"),
        _dig(event, "series", "lastObservedTime"),
        event.get("firstTimestamp"),
        _dig(event, "metadata", "creationTimestamp"),
    ):
        moment = _parse_time(value)
        if moment:
            return moment
    return datetime.min.replace(tzinfo=UTC)


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    # The API always means UTC; a naive value must still compare with aware ones.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- small helpers --------------------------------------------------------------------------


def _dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]..., or None as soon as a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def _text(value: Any) -> str:
    """A one-line, bounded string; '' for None."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    if len(text) > MAX_DETAIL_CHARS:
        text = text[: MAX_DETAIL_CHARS - 3] + "..."
    return text


def _dicts(value: Any) -> list[dict]:
    if isinstance(value, dict) or not isinstance(value, Iterable) or isinstance(value, str):
        return []
    return [item for item in value if isinstance(item, dict)]


def _clamp(value: int, upper: int) -> int:
    return max(0, min(value, upper))


def _join(first: str, second: str, separator: str = ": ") -> str:
    return f"{first}{separator}{second}" if second else first


def _group_kind(obj: Any) -> tuple[str, str]:
    api_version = _dig(obj, "apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
    kind = _dig(obj, "kind")
    return group, kind if isinstance(kind, str) else ""


def _short_name(obj: Any) -> str:
    """kind/name, as the success sentence has always named objects: deployment/hello-world."""
    return f"{(_dig(obj, 'kind') or 'object').lower()}/{_dig(obj, 'metadata', 'name') or '?'}"


def _display_name(obj: Any) -> str:
    """kubectl's resource/name form: deployment.apps/hello-world, job.batch/migrate."""
    group, kind = _group_kind(obj)
    resource = kind.lower() or "object"
    if group:
        resource += "." + group
    return f"{resource}/{_text(_dig(obj, 'metadata', 'name')) or '?'}"


def _condition(obj: dict, condition_type: str) -> dict | None:
    for condition in _dicts(_dig(obj, "status", "conditions")):
        if condition.get("type") == condition_type:
            return condition
    return None


def _observed(obj: dict) -> bool:
    """Has the controller seen the current spec? Until then its status describes an older one."""
    observed = _int(_dig(obj, "status", "observedGeneration"), -1)
    # The API leaves out a zero observedGeneration: absent means "not yet".
    return observed > 0 and observed >= _int(_dig(obj, "metadata", "generation"))


def _failure(name: str, ready: int, desired: int, noun: str, doom: _Doom) -> str:
    where = f"pod {doom.pod}" + (f", container {doom.container}" if doom.container else "")
    return f"{name}: {ready}/{desired} pods {noun}: {doom.reason}: {doom.detail} ({where})"


# --- following live objects (the worker's watch feeds these) ----------------------------------


def apply_event(objects: dict[str, dict], event_type: str, payload: Any) -> None:
    """Keep `objects` (by name) as a watch says: SYNC (a fresh list), ADDED, MODIFIED, DELETED."""
    if event_type == "SYNC":
        objects.clear()
        objects.update({obj["metadata"]["name"]: obj for obj in payload})
    elif event_type == "DELETED":
        objects.pop(payload["metadata"]["name"], None)
    elif event_type in ("ADDED", "MODIFIED"):
        objects[payload["metadata"]["name"]] = payload


def selector_matches(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels and matchExpressions) as the API server applies it."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pods_of(workload: dict, pods: Iterable[dict]) -> list[dict]:
    """The workload's pods by its selector (a Job without one: by its controller-uid label)."""
    selector = workload.get("spec", {}).get("selector") or {}
    if workload.get("kind") == "Job" and not selector:
        uid = workload["metadata"].get("uid")
        return [p for p in pods if p["metadata"].get("labels", {}).get("controller-uid") == uid]
    if not selector:
        return []
    return [p for p in pods if selector_matches(selector, p["metadata"].get("labels") or {})]


def pod_summary(pod: dict) -> str:
    """One line on a pod's phase and containers, for the log of a failed rollout."""
    status = pod.get("status") or {}
    parts = [status.get("phase", "Unknown")]
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if "waiting" in state:
            waiting = state["waiting"]
            detail = f"waiting: {waiting.get('reason', '')} {waiting.get('message', '')}".strip()
        elif "terminated" in state:
            detail = f"terminated: {state['terminated'].get('reason', '')}"
        else:
            detail = "running" + (", ready" if container.get("ready") else ", not ready")
        restarts = container.get("restartCount", 0)
        parts.append(f"container {container.get('name')} {detail} (restarts {restarts})")
    return "; ".join(parts)


def events_about(pods: Iterable[dict], events: Iterable[dict]) -> list[dict]:
    """The events whose object is one of the pods: what `evaluate` reads them for."""
    names = {_dig(pod, "metadata", "name") for pod in pods}
    return [
        event
        for event in events
        if (event.get("involvedObject") or event.get("regarding") or {}).get("name") in names
    ]
