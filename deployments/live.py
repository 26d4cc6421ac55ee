"""What is live after a rollout failed: one sentence for the deployment's reason.

A Deployment whose new pods cannot start keeps its old ReplicaSet serving (the rolling update
never takes an old pod down before a new one is available, up to maxUnavailable). The person
reading the reason wants to know that first, then why the new pods fail:

    1.0.1 still serves 3 of 4 pods; 2 new pods fail: image registry.example/app:1.0.2 not found.

Computed from what the worker watched at the end (the workload, its ReplicaSets, its pods and,
when it watches them, the events): plain dicts shaped like the API's JSON. Everything here is a
pure function, like rollout.py; the rollout rules' own message (the raw detail) stays in the log.

Which release an old pod belongs to is read from its `version` (or `app.kubernetes.io/version`)
label, which Kubernaut's templates set from the deploy-time variable; without one, its image
stands in for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from deployments import rollout

VERSION_LABELS = ("version", "app.kubernetes.io/version")
MAX_CAUSE_CHARS = 300

_IMAGE_MISSING = re.compile(r"not found|manifest unknown|name unknown|does not exist", re.I)
_IMAGE_REFUSED = re.compile(r"unauthorized|access denied|forbidden", re.I)
_PROBE_FAILED = re.compile(r"probe failed", re.I)


def reason_for(
    workload: dict | None,
    live: Mapping[str, Mapping[str, dict]],
    *,
    version: str,
    fallback: str,
) -> str:
    """The reason of a deployment whose rollout of `workload` failed or timed out.

    `live` is the worker's view: kind -> name -> object ("Pod", "ReplicaSet", "Event").
    Only a Deployment can be told apart into old and new pods; for other kinds, or when the
    controller has not yet said which ReplicaSet is new, the rollout rules' message stays.
    """
    if not workload or workload.get("kind") != "Deployment":
        return fallback
    replica_sets = list((live.get("ReplicaSet") or {}).values())
    new_hash = rollout.new_replicaset_hash(workload, replica_sets)
    if new_hash is None:
        return fallback
    pods = [
        pod
        for pod in (live.get("Pod") or {}).values()
        if _selected(workload, pod) and not _dig(pod, "metadata", "deletionTimestamp")
    ]
    events = list((live.get("Event") or {}).values())
    return sentence(workload, pods, events, new_hash=new_hash, version=version) or fallback


def sentence(
    workload: dict, pods: Iterable[dict], events: Iterable[dict], *, new_hash: str, version: str
) -> str:
    """'<old version> still serves N of M pods; K new pods fail: <why>.' ('' if nothing to say)."""
    desired = _int(_dig(workload, "spec", "replicas"), 1)
    old_ready: Counter[str] = Counter()
    new_ready, failing = 0, []
    for pod in pods:
        is_new = _dig(pod, "metadata", "labels", "pod-template-hash") == new_hash
        if _ready(pod):
            if is_new:
                new_ready += 1
            else:
                old_ready[_version_of(pod)] += 1
        elif is_new:
            failing.append(pod)

    parts = []
    served = sum(old_ready.values())
    if served:
        names = _and([name if name != version else f"the previous {name}" for name in old_ready])
        verb = "serves" if len(old_ready) == 1 else "serve"
        parts.append(f"{names} still {verb} {served} of {desired} {_pods(desired)}")
    if new_ready:
        parts.append(f"{version} serves {new_ready}" + ("" if served else f" of {desired}"))
    if not served and not new_ready:
        parts.append(f"no pod of deployment/{_dig(workload, 'metadata', 'name')} is serving")
    if failing:
        count = f"{len(failing)} new {_pods(len(failing))}"
        cause = _cause(failing, events)
        if _deadline_exceeded(workload):
            parts.append(f"{count} did not get ready within the progress deadline: {cause}")
        else:
            parts.append(f"{count} {'fails' if len(failing) == 1 else 'fail'}: {cause}")
    else:
        return ""  # nothing new to blame (a quota, a paused rollout): the rules' message says more
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _cause(pods: list[dict], events: list[dict]) -> str:
    """The most telling reason among the failing pods (lower rank says more)."""
    found = [cause for pod in pods if (cause := _pod_cause(pod, events))]
    if not found:
        return "not ready yet"
    return _bounded(min(found)[1])


def _pod_cause(pod: dict, events: list[dict]) -> tuple[int, str] | None:
    for condition in _dicts(_dig(pod, "status", "conditions")):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            return 1, f"cannot be scheduled: {condition.get('message') or 'no node fits'}"
    if _dig(pod, "status", "phase") == "Failed":
        why = _dig(pod, "status", "message") or _dig(pod, "status", "reason") or "it stopped"
        return 2, f"the pod failed: {why}"
    statuses = _dicts(_dig(pod, "status", "initContainerStatuses")) + _dicts(
        _dig(pod, "status", "containerStatuses")
    )
    causes = []
    for cs in statuses:
        name = cs.get("name") or "?"
        waiting = _dig(cs, "state", "waiting") or {}
        reason, message = waiting.get("reason") or "", waiting.get("message") or ""
        if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
            image = cs.get("image") or _spec_image(pod, name) or "?"
            said = " ".join([message, *_event_messages(events, pod, "image")])
            if reason == "InvalidImageName":
                causes.append((0, f"image {image} is not a valid image name"))
            elif _IMAGE_MISSING.search(said):
                causes.append((0, f"image {image} not found"))
            elif _IMAGE_REFUSED.search(said):
                causes.append((0, f"image {image} may not be pulled (access denied)"))
            else:
                causes.append((3, f"image {image} cannot be pulled yet: {message or reason}"))
        elif reason == "CrashLoopBackOff":
            last = _dig(cs, "lastState", "terminated") or {}
            code = last.get("exitCode", "?")
            causes.append(
                (0, f"container {name} keeps crashing (CrashLoopBackOff, exit code {code})")
            )
        elif reason in ("CreateContainerConfigError", "CreateContainerError"):
            causes.append((0, f"container {name} cannot start: {message or reason}"))
        elif reason and reason not in ("ContainerCreating", "PodInitializing"):
            causes.append((3, f"container {name} is waiting: {reason}"))
        elif _dig(cs, "state", "running") is not None and cs.get("ready") is not True:
            probe = [m for m in _event_messages(events, pod, "probe") if _PROBE_FAILED.search(m)]
            causes.append((2, f"container {name} is not ready: {probe[-1]}" if probe
                           else f"container {name} is running but not ready"))  # fmt: skip
    return min(causes) if causes else (4, "still starting")


def _event_messages(events: list[dict], pod: dict, about: str) -> list[str]:
    """Messages of events about this pod, oldest first, that mention `about` (image, probe)."""
    name = _dig(pod, "metadata", "name")
    messages = []
    for event in events:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        message = event.get("message") or event.get("note") or ""
        if involved.get("kind") == "Pod" and involved.get("name") == name and about in message:
            messages.append(message)
    return messages


def _deadline_exceeded(workload: dict) -> bool:
    return any(
        c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
        for c in _dicts(_dig(workload, "status", "conditions"))
    )


def _selected(workload: dict, pod: dict) -> bool:
    wanted = _dig(workload, "spec", "selector", "matchLabels") or {}
    labels = _dig(pod, "metadata", "labels") or {}
    return bool(wanted) and all(labels.get(key) == value for key, value in wanted.items())


def _version_of(pod: dict) -> str:
    labels = _dig(pod, "metadata", "labels") or {}
    for label in VERSION_LABELS:
        if labels.get(label):
            return str(labels[label])
    containers = _dicts(_dig(pod, "spec", "containers"))
    images = [c.get("image") for c in containers if c.get("image")]
    return f"the previous release ({', '.join(images)})" if images else "the previous release"


def _spec_image(pod: dict, container: str) -> str:
    for spec in _dicts(_dig(pod, "spec", "initContainers")) + _dicts(
        _dig(pod, "spec", "containers")
    ):
        if spec.get("name") == container:
            return spec.get("image") or ""
    return ""


def _ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in _dicts(_dig(pod, "status", "conditions"))
    )


def _pods(count: int) -> str:
    return "pod" if count == 1 else "pods"


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _bounded(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 3] + "..."


def _dig(obj, *keys):
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _int(value, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
