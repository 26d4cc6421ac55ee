"""Simulated controllers, driven by store changes and timers (never polling).

* Deployment -> ReplicaSets (pod-template-hash, revision annotation, rolling updates
  within maxSurge/maxUnavailable, Progressing/Available conditions, progress deadline).
* ReplicaSet, StatefulSet, DaemonSet and Job -> Pods.
* The kubelet of the single node is in ``sandbox/kubelet.py`` (a base class of Controllers:
  the same thread, queue and timers).

Everything runs on one thread; store listeners only enqueue keys.
"""

from __future__ import annotations

import calendar
import contextlib
import copy
import hashlib
import heapq
import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from sandbox.api import Api, ApiError, now
from sandbox.endpoints import EndpointsController
from sandbox.history import sync_revisions, truncate_history
from sandbox.kubelet import (
    PODS,
    Kubelet,
    _controller_of,
    _finished,
    pod_ready,
)
from sandbox.registry import ImageChecker
from sandbox.resources import BY_PLURAL, Resource
from sandbox.store import WatchEvent
from sandbox.volumes import VolumesController

DEPLOYMENTS = BY_PLURAL["deployments"]
REPLICASETS = BY_PLURAL["replicasets"]
STATEFULSETS = BY_PLURAL["statefulsets"]
DAEMONSETS = BY_PLURAL["daemonsets"]
JOBS = BY_PLURAL["jobs"]
MANAGER = "kube-controller-manager"
REVISION = "deployment.kubernetes.io/revision"
WATCHED = {"pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs"}


def template_hash(template: dict[str, Any]) -> str:
    """A stable short hash of a pod template, in the API server's name alphabet."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def _owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned(objs: list[dict[str, Any]], owner: dict[str, Any]) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [o for o in objs if (_controller_of(o) or {}).get("uid") == uid]


def _int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def _epoch(stamp: str) -> float:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def _set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: str,
    reason: str,
    message: str,
    stamp: str,
    touch: bool = True,
) -> None:
    for cond in conditions:
        if cond["type"] == type_:
            if cond["status"] != status:
                cond["lastTransitionTime"] = stamp
            if touch or cond["reason"] != reason:
                cond["lastUpdateTime"] = stamp
            cond.update(status=status, reason=reason, message=message)
            return
    conditions.append(
        {
            "type": type_,
            "status": status,
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }
    )


class Controllers(Kubelet):
    def __init__(self, api: Api, ready_delay: float = 1.0, registry: str | None = None) -> None:
        self.api = api
        self.ready_delay = max(float(ready_delay), 0.0)
        self.images = ImageChecker(registry)
        self.cond = threading.Condition()
        self.queue: dict[tuple[str, str, str], None] = {}
        self.timers: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self.seq = itertools.count()
        self.kubelet: dict[str, dict[str, Any]] = {}  # pod uid -> simulated runtime state
        self.ips = itertools.count(2)
        self.deadlines: set[tuple[str, str, float]] = set()  # pending progress-deadline checks
        self.preloaded: set[str] = set()  # images already on the node (kube-system's)
        self.stopping = False
        self.thread: threading.Thread | None = None
        # Controllers kept in their own modules: queue key prefix -> handler(namespace, name),
        # and functions mapping a store event to the keys it makes due.
        self.extensions: dict[str, Callable[[str, str], None]] = {}
        self.watchers: list[Callable[[WatchEvent], list[tuple[str, str, str]]]] = []
        self.endpoints = EndpointsController(self)
        self.volumes = VolumesController(self)
        api.store.listeners.append(self._on_event)

    # --- scheduling ------------------------------------------------------------------------

    def _on_event(self, ev: WatchEvent) -> None:
        plural = ev.resource.plural
        extra = [key for watcher in self.watchers for key in watcher(ev)]
        if plural not in WATCHED:
            if extra:
                with self.cond:
                    self.queue.update(dict.fromkeys(extra))
                    self.cond.notify()
            return
        meta = ev.obj["metadata"]
        keys = [(plural, meta.get("namespace", ""), meta["name"])]
        owner = _controller_of(ev.obj)
        if owner and owner.get("kind") in (
            "ReplicaSet",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "Job",
        ):
            keys.append((owner["kind"].lower() + "s", meta.get("namespace", ""), owner["name"]))
        if plural == "pods" and ev.type == "DELETED":
            keys = keys[1:]
            self.after(0, self.kubelet.pop, meta.get("uid"), None)
        with self.cond:
            for key in keys + extra:
                self.queue[key] = None
            self.cond.notify()

    def after(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        with self.cond:
            heapq.heappush(self.timers, (time.monotonic() + delay, next(self.seq), fn, args))
            self.cond.notify()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="sandbox-controllers", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self.cond:
                while (
                    not self.stopping
                    and not self.queue
                    and (not self.timers or self.timers[0][0] > time.monotonic())
                ):
                    timeout = self.timers[0][0] - time.monotonic() if self.timers else None
                    self.cond.wait(timeout)
                if self.stopping:
                    return
                keys = list(self.queue)
                self.queue.clear()
                due = []
                while self.timers and self.timers[0][0] <= time.monotonic():
                    due.append(heapq.heappop(self.timers))
            for _, _, fn, args in due:
                self._safely(fn, *args)
            for key in keys:
                self._safely(self._reconcile, *key)

    def _safely(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except ApiError as exc:
            if exc.code == 409 and fn == self._reconcile:
                with self.cond:  # lost a race with a client write: try again
                    self.queue[args] = None  # type: ignore[index]
        except Exception:  # noqa: BLE001 - a controller bug must not kill the sandbox
            import traceback

            traceback.print_exc()

    def _reconcile(self, plural: str, namespace: str, name: str) -> None:
        if plural in self.extensions:
            return self.extensions[plural](namespace, name)
        resource = BY_PLURAL[plural]
        obj = self.api.find(resource, namespace, name)
        if obj is None:
            return
        if obj["metadata"].get("deletionTimestamp"):
            return
        handler = getattr(self, f"_sync_{plural}")
        handler(obj)

    # --- helpers ----------------------------------------------------------------------------

    def event(
        self,
        obj: dict[str, Any],
        reason: str,
        message: str,
        type_: str = "Normal",
        component: str = "",
    ) -> None:
        self.api.record_event(obj, type_, reason, message, component or MANAGER)

    def _save_status(self, resource: Resource, obj: dict[str, Any], status: dict[str, Any]) -> None:
        self.api.put_status(resource, obj, status, MANAGER)

    def _update(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        return self.api.update(resource, meta["namespace"], meta["name"], obj, manager=MANAGER)

    def _create_pod(
        self,
        owner: dict[str, Any],
        name: str | None,
        extra_labels: dict[str, str],
        customize: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any] | None:
        template = copy.deepcopy(owner["spec"]["template"])
        meta = template.get("metadata") or {}
        meta["labels"] = {**(meta.get("labels") or {}), **extra_labels}
        meta["ownerReferences"] = [_owner_ref(owner)]
        meta.pop("name", None)
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = owner["metadata"]["name"] + "-"
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}
        if customize is not None:
            customize(pod)
        try:
            return self.api.create(PODS, owner["metadata"]["namespace"], pod, manager=MANAGER)
        except ApiError as exc:
            self.event(owner, "FailedCreate", f"Error creating: {exc.message}", "Warning")
            return None

    def _delete(self, resource: Resource, obj: dict[str, Any]) -> None:
        with contextlib.suppress(ApiError):  # already gone is fine
            self.api.delete(resource, obj["metadata"]["namespace"], obj["metadata"]["name"])

    def _pods(self, namespace: str) -> list[dict[str, Any]]:
        return self.api.list(PODS, namespace)

    # --- ReplicaSet ---------------------------------------------------------------------------

    def _sync_replicasets(self, rs: dict[str, Any]) -> None:
        pods = _owned(self._pods(rs["metadata"]["namespace"]), rs)
        want = rs["spec"].get("replicas", 1)
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pod = self._create_pod(rs, None, {})
                if pod is None:
                    break
                pods.append(pod)
                self.event(
                    rs,
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                    component="replicaset-controller",
                )
        elif len(pods) > want:
            # Not-ready and younger pods go first, as in the real controller.
            pods.sort(
                key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]), reverse=False
            )
            for pod in pods[: len(pods) - want]:
                self._delete(PODS, pod)
                self.event(
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component="replicaset-controller",
                )
            pods = pods[len(pods) - want :]
        ready = sum(1 for p in pods if pod_ready(p))
        labels = (rs["spec"]["template"].get("metadata") or {}).get("labels") or {}
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(
                1
                for p in pods
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
            ),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        self._save_status(REPLICASETS, rs, status)

    # --- Deployment ---------------------------------------------------------------------------

    def _sync_deployments(self, d: dict[str, Any]) -> None:
        spec, meta = d["spec"], d["metadata"]
        namespace = meta["namespace"]
        replicas = spec.get("replicas", 1)
        all_rs = _owned(self.api.list(REPLICASETS, namespace), d)
        template = copy.deepcopy(spec["template"])
        hash_ = template_hash(template)
        new_rs = None
        for rs in all_rs:
            rs_template = copy.deepcopy(rs["spec"]["template"])
            (rs_template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
            if rs_template == template:
                new_rs = rs
        old_rs = [rs for rs in all_rs if rs is not new_rs]
        max_revision = max(
            (int(rs["metadata"].get("annotations", {}).get(REVISION, 0)) for rs in all_rs),
            default=0,
        )
        strategy = spec.get("strategy") or {}
        rolling = strategy.get("rollingUpdate") or {}
        surge = _int_or_percent(rolling.get("maxSurge", "25%"), replicas, True)
        unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        recreate = strategy.get("type") == "Recreate"
        if recreate:
            surge, unavailable = 0, replicas
        created = False
        paused = bool(spec.get("paused"))
        if new_rs is None and not paused:
            new_rs = self._new_replicaset(d, template, hash_, max_revision + 1)
            created = new_rs is not None
        elif new_rs is not None:
            revision = int(new_rs["metadata"].get("annotations", {}).get(REVISION, 0))
            if revision < max_revision:  # rolled back to an old template
                new_rs["metadata"].setdefault("annotations", {})[REVISION] = str(max_revision + 1)
                new_rs = self._update(REPLICASETS, new_rs)
        if new_rs is not None and not paused:
            self._scale_rollout(d, new_rs, old_rs, replicas, surge, unavailable, recreate)
            all_rs = _owned(self.api.list(REPLICASETS, namespace), d)
            new_rs = (
                next(rs for rs in all_rs if rs["metadata"]["uid"] == new_rs["metadata"]["uid"])
                if any(rs["metadata"]["uid"] == new_rs["metadata"]["uid"] for rs in all_rs)
                else new_rs
            )
            self._cleanup_history(d, [rs for rs in all_rs if rs is not new_rs])
        if new_rs is not None:
            revision = new_rs["metadata"].get("annotations", {}).get(REVISION)
            annotations = d["metadata"].get("annotations") or {}
            if revision and annotations.get(REVISION) != revision:
                # The real controller mirrors the revision onto the Deployment (rollout undo
                # and history rely on it).
                changed = copy.deepcopy(d)
                changed["metadata"]["annotations"] = {**annotations, REVISION: revision}
                d = self._update(DEPLOYMENTS, changed)
        self._deployment_status(d, new_rs, all_rs, replicas, unavailable, created)

    def _new_replicaset(
        self, d: dict[str, Any], template: dict[str, Any], hash_: str, revision: int
    ) -> dict[str, Any] | None:
        meta = d["metadata"]
        labels = {
            **((template.get("metadata") or {}).get("labels") or {}),
            "pod-template-hash": hash_,
        }
        template = copy.deepcopy(template)
        template.setdefault("metadata", {})["labels"] = labels
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = hash_
        spec = d["spec"]
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{hash_}",
                "labels": labels,
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                    "deployment.kubernetes.io/max-replicas": str(spec.get("replicas", 1) + 1),
                },
                "ownerReferences": [_owner_ref(d)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        try:
            created = self.api.create(REPLICASETS, meta["namespace"], rs, manager=MANAGER)
        except ApiError as exc:
            if exc.code == 409:
                return self.api.find(REPLICASETS, meta["namespace"], rs["metadata"]["name"])
            raise
        return created

    def _set_replicas(self, d: dict[str, Any], rs: dict[str, Any], count: int) -> None:
        before = rs["spec"].get("replicas", 0)
        if before == count:
            return
        rs = copy.deepcopy(rs)
        rs["spec"]["replicas"] = count
        rs["metadata"].setdefault("annotations", {})[
            "deployment.kubernetes.io/desired-replicas"
        ] = str(d["spec"].get("replicas", 1))
        self._update(REPLICASETS, rs)
        verb = "up" if count > before else "down"
        self.event(
            d,
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {count}",
            component="deployment-controller",
        )

    def _scale_rollout(
        self,
        d: dict[str, Any],
        new_rs: dict[str, Any],
        old_rs: list[dict[str, Any]],
        replicas: int,
        surge: int,
        unavailable: int,
        recreate: bool,
    ) -> None:
        def spec_replicas(rs: dict[str, Any]) -> int:
            return rs["spec"].get("replicas", 0)

        def available(rs: dict[str, Any]) -> int:
            # Status may lag a scale-down we just made; never count more than the spec allows.
            return min((rs.get("status") or {}).get("availableReplicas", 0), spec_replicas(rs))

        active_old = [rs for rs in old_rs if spec_replicas(rs) > 0]
        if recreate:
            for rs in active_old:
                self._set_replicas(d, rs, 0)
            namespace = d["metadata"]["namespace"]
            old_pods = [p for rs in old_rs for p in _owned(self._pods(namespace), rs)]
            if not old_pods:
                self._set_replicas(d, new_rs, replicas)
            return
        if not active_old:
            self._set_replicas(d, new_rs, replicas)
            return
        # Scale the new ReplicaSet up within maxSurge.
        total = sum(spec_replicas(rs) for rs in old_rs) + spec_replicas(new_rs)
        room = replicas + surge - total
        if room > 0 and spec_replicas(new_rs) < replicas:
            target = min(replicas, spec_replicas(new_rs) + room)
            self._set_replicas(d, new_rs, target)
            new_rs = {**new_rs, "spec": {**new_rs["spec"], "replicas": target}}
        # Scale old ReplicaSets down within maxUnavailable.
        total = sum(spec_replicas(rs) for rs in old_rs) + spec_replicas(new_rs)
        min_available = replicas - unavailable
        new_unavailable = spec_replicas(new_rs) - available(new_rs)
        budget = total - min_available - new_unavailable
        for rs in sorted(active_old, key=lambda r: r["metadata"]["creationTimestamp"]):
            if budget <= 0:
                break
            unhealthy = spec_replicas(rs) - available(rs)
            cut = min(budget, unhealthy)
            if cut > 0:
                self._set_replicas(d, rs, spec_replicas(rs) - cut)
                rs["spec"]["replicas"] = spec_replicas(rs) - cut
                budget -= cut
        total_available = sum(available(rs) for rs in old_rs) + available(new_rs)
        budget = total_available - min_available
        for rs in sorted(active_old, key=lambda r: r["metadata"]["creationTimestamp"]):
            if budget <= 0:
                break
            cut = min(budget, spec_replicas(rs))
            if cut > 0:
                self._set_replicas(d, rs, spec_replicas(rs) - cut)
                budget -= cut

    def _cleanup_history(self, d: dict[str, Any], old_rs: list[dict[str, Any]]) -> None:
        limit = d["spec"].get("revisionHistoryLimit", 10)
        idle = [
            rs
            for rs in old_rs
            if rs["spec"].get("replicas", 0) == 0
            and (rs.get("status") or {}).get("replicas", 0) == 0
        ]
        idle.sort(key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, 0)))
        for rs in idle[: max(len(idle) - limit, 0)]:
            self._delete(REPLICASETS, rs)

    def _deployment_status(
        self,
        d: dict[str, Any],
        new_rs: dict[str, Any] | None,
        all_rs: list[dict[str, Any]],
        replicas: int,
        max_unavailable: int,
        created: bool,
    ) -> None:
        def st(rs: dict[str, Any] | None, key: str) -> int:
            return ((rs or {}).get("status") or {}).get(key, 0)

        old = d.get("status") or {}
        status: dict[str, Any] = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": sum(st(rs, "replicas") for rs in all_rs),
            "updatedReplicas": st(new_rs, "replicas"),
            "readyReplicas": sum(st(rs, "readyReplicas") for rs in all_rs),
            "availableReplicas": sum(st(rs, "availableReplicas") for rs in all_rs),
        }
        if replicas - status["availableReplicas"] > 0:
            status["unavailableReplicas"] = replicas - status["availableReplicas"]
        conditions = copy.deepcopy(old.get("conditions") or [])
        stamp = now()
        if status["availableReplicas"] >= replicas - max_unavailable:
            _set_condition(
                conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                stamp,
                touch=False,
            )
        else:
            _set_condition(
                conditions,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                stamp,
                touch=False,
            )
        rs_name = (new_rs or {}).get("metadata", {}).get("name", "")
        complete = (
            new_rs is not None
            and status["updatedReplicas"] == replicas
            and status["replicas"] == replicas
            and status["availableReplicas"] == replicas
            and st(new_rs, "availableReplicas") == replicas
        )
        counters = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        progressed = any(status[k] != old.get(k, 0) for k in counters) or d["metadata"].get(
            "generation", 1
        ) != old.get("observedGeneration")
        progressing = next((c for c in conditions if c["type"] == "Progressing"), None)
        deadline = d["spec"].get("progressDeadlineSeconds", 600)
        if created:
            _set_condition(
                conditions,
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{rs_name}"',
                stamp,
            )
        elif complete:
            if not progressing or progressing["reason"] != "NewReplicaSetAvailable":
                _set_condition(
                    conditions,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                    stamp,
                )
        elif progressed or progressing is None:
            _set_condition(
                conditions,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                stamp,
            )
        elif progressing["reason"] != "ProgressDeadlineExceeded" and new_rs is not None:
            started = _epoch(progressing["lastUpdateTime"])
            if time.time() - started >= deadline:
                _set_condition(
                    conditions,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                    stamp,
                )
        progressing = next((c for c in conditions if c["type"] == "Progressing"), None)
        if progressing and progressing["status"] == "True" and not complete:
            # Wake up when the deadline would pass (timestamps have 1 s resolution), with at
            # most one pending timer per deployment and deadline.
            started = _epoch(progressing["lastUpdateTime"])
            key = (d["metadata"]["namespace"], d["metadata"]["name"], started + deadline)
            if key not in self.deadlines:
                self.deadlines.add(key)
                delay = max(started + deadline - time.time(), 0) + 1.05
                self.after(delay, self._deadline_due, key)
        conditions.sort(key=lambda c: c["type"] != "Available")
        # Zero counts are omitted from JSON by the real API server.
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        status["conditions"] = conditions
        self._save_status(DEPLOYMENTS, d, status)

    def _deadline_due(self, key: tuple[str, str, float]) -> None:
        self.deadlines.discard(key)
        self._enqueue("deployments", key[0], key[1])

    def _enqueue(self, plural: str, namespace: str, name: str) -> None:
        with self.cond:
            self.queue[(plural, namespace, name)] = None

    def resync(self) -> None:
        """Reconcile every object, as controllers do when they start (after a restart)."""
        for plural in WATCHED:
            for obj in self.api.list(BY_PLURAL[plural]):
                meta = obj["metadata"]
                self._enqueue(plural, meta.get("namespace", ""), meta["name"])
        with self.cond:
            self.cond.notify()

    # --- StatefulSet ------------------------------------------------------------------------

    def _sync_statefulsets(self, sts: dict[str, Any]) -> None:
        spec, meta = sts["spec"], sts["metadata"]
        name, replicas = meta["name"], spec.get("replicas", 1)
        revision = f"{name}-{template_hash(spec['template'])}"
        sync_revisions(self, sts, revision.rsplit("-", 1)[1])
        pods = {p["metadata"]["name"]: p for p in _owned(self._pods(meta["namespace"]), sts)}
        parallel = spec.get("podManagementPolicy") == "Parallel"
        busy = False
        for i in range(replicas):
            pod_name = f"{name}-{i}"
            pod = pods.get(pod_name)
            if pod is None:
                labels = {
                    "controller-revision-hash": revision,
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(i),
                }
                customize = self.volumes.statefulset_pod(sts, i)
                if customize is None:  # a claim could not be created (event recorded)
                    busy = True
                    break
                if self._create_pod(sts, pod_name, labels, customize) is not None:
                    self.event(
                        sts,
                        "SuccessfulCreate",
                        f"create Pod {pod_name} in StatefulSet {name} successful",
                        component="statefulset-controller",
                    )
                busy = True
                if not parallel:
                    break
            elif not pod_ready(pod):
                busy = True
                if not parallel:
                    break
        extra = sorted(
            (p for n, p in pods.items() if int(n.rsplit("-", 1)[-1] or 0) >= replicas),
            key=lambda p: -int(p["metadata"]["name"].rsplit("-", 1)[-1]),
        )
        if extra and (parallel or not busy):
            for pod in extra if parallel else extra[:1]:
                self._delete(PODS, pod)
                self.volumes.statefulset_scaled_down(sts, pod)
                self.event(
                    sts,
                    "SuccessfulDelete",
                    f"delete Pod {pod['metadata']['name']} in StatefulSet {name} successful",
                    component="statefulset-controller",
                )
            busy = True
        partition = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get(
            "partition", 0
        )
        if not busy and (spec.get("updateStrategy") or {}).get("type") != "OnDelete":
            stale = [
                p
                for p in pods.values()
                if p["metadata"]["labels"].get("controller-revision-hash") != revision
                and int(p["metadata"]["name"].rsplit("-", 1)[-1]) >= partition
                and int(p["metadata"]["name"].rsplit("-", 1)[-1]) < replicas
            ]
            if stale:
                stale.sort(key=lambda p: -int(p["metadata"]["name"].rsplit("-", 1)[-1]))
                self._delete(PODS, stale[0])
        pods = {p["metadata"]["name"]: p for p in _owned(self._pods(meta["namespace"]), sts)}
        updated = sum(
            1
            for p in pods.values()
            if p["metadata"]["labels"].get("controller-revision-hash") == revision
        )
        ready = sum(1 for p in pods.values() if pod_ready(p))
        old = sts.get("status") or {}
        current_revision = old.get("currentRevision") or revision
        if updated == len(pods) == replicas and ready == replicas:
            current_revision = revision
        current = sum(
            1
            for p in pods.values()
            if p["metadata"]["labels"].get("controller-revision-hash") == current_revision
        )
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        self._save_status(STATEFULSETS, sts, status)
        live = {current_revision, revision}
        live |= {p["metadata"]["labels"].get("controller-revision-hash", "") for p in pods.values()}
        truncate_history(self, sts, live)

    # --- DaemonSet -------------------------------------------------------------------------

    def _sync_daemonsets(self, ds: dict[str, Any]) -> None:
        meta = ds["metadata"]
        revision = template_hash(ds["spec"]["template"])
        sync_revisions(self, ds, revision)
        pods = _owned(self._pods(meta["namespace"]), ds)
        current = [
            p for p in pods if p["metadata"]["labels"].get("controller-revision-hash") == revision
        ]
        for pod in pods:
            if pod not in current:
                self._delete(PODS, pod)
                self.event(
                    ds,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component="daemonset-controller",
                )
        if not current:
            labels = {
                "controller-revision-hash": revision,
                "pod-template-generation": str(meta.get("generation", 1)),
            }
            pod = self._create_pod(ds, None, labels)
            if pod is not None:
                current = [pod]
                self.event(
                    ds,
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                    component="daemonset-controller",
                )
        ready = sum(1 for p in current if pod_ready(p))
        status = {
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": len(current[:1]),
            "numberMisscheduled": 0,
            "numberReady": ready,
            "updatedNumberScheduled": len(current[:1]),
            "numberAvailable": ready,
            "observedGeneration": meta.get("generation", 1),
        }
        if not ready:
            status["numberUnavailable"] = 1
        self._save_status(DAEMONSETS, ds, status)
        live = {revision} | {p["metadata"]["labels"].get("controller-revision-hash") for p in pods}
        truncate_history(self, ds, {f"{meta['name']}-{h}" for h in live})

    # --- Job ---------------------------------------------------------------------------------

    def _sync_jobs(self, job: dict[str, Any]) -> None:
        spec, meta = job["spec"], job["metadata"]
        old = job.get("status") or {}
        if any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in old.get("conditions") or []
        ):
            return
        pods = _owned(self._pods(meta["namespace"]), job)
        succeeded = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
        failed = sum(1 for p in pods if p["status"].get("phase") == "Failed")
        active = [p for p in pods if not _finished(p)]
        completions = spec.get("completions", 1)
        stamp = now()
        suspended = bool(spec.get("suspend"))
        status: dict[str, Any] = {"uncountedTerminatedPods": {}}
        if not suspended:
            status["startTime"] = old.get("startTime", stamp)
        # Suspended is kept across syncs (False once resumed); the final pair replaces nothing.
        conditions = [c for c in old.get("conditions") or [] if c.get("type") == "Suspended"]

        def add(type_: str, reason: str, message: str, value: str = "True") -> None:
            for cond in conditions:
                if cond["type"] == type_:
                    if cond["status"] != value:
                        cond.update(
                            status=value,
                            reason=reason,
                            message=message,
                            lastProbeTime=stamp,
                            lastTransitionTime=stamp,
                        )
                    return
            conditions.append(
                {
                    "type": type_,
                    "status": value,
                    "lastProbeTime": stamp,
                    "lastTransitionTime": stamp,
                    "reason": reason,
                    "message": message,
                }
            )

        if conditions and not suspended:
            add("Suspended", "JobResumed", "Job resumed", "False")
        if suspended:
            add("Suspended", "JobSuspended", "Job suspended")
            for pod in active:
                self._delete(PODS, pod)
            if active:
                self.event(job, "Suspended", "Job suspended", component="job-controller")
            active = []
        elif succeeded >= completions:
            # 1.31+ servers add SuccessCriteriaMet first, then Complete.
            for type_ in ("SuccessCriteriaMet", "Complete"):
                add(type_, "CompletionsReached", "Reached expected number of succeeded pods")
            status["completionTime"] = stamp
            self.event(job, "Completed", "Job completed", component="job-controller")
        elif failed > spec.get("backoffLimit", 6):
            for type_ in ("FailureTarget", "Failed"):
                add(type_, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
            for pod in active:
                self._delete(PODS, pod)
            active = []
            self.event(
                job,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                "Warning",
                component="job-controller",
            )
        else:
            want = min(spec.get("parallelism", 1), completions - succeeded)
            labels = {
                "batch.kubernetes.io/controller-uid": meta["uid"],
                "batch.kubernetes.io/job-name": meta["name"],
                "controller-uid": meta["uid"],
                "job-name": meta["name"],
            }
            for _ in range(want - len(active)):
                pod = self._create_pod(job, None, labels)
                if pod is None:
                    break
                active.append(pod)
                self.event(
                    job,
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                    component="job-controller",
                )
        status.update(
            {
                "active": len(active),
                "succeeded": succeeded,
                "failed": failed,
                "ready": sum(1 for p in active if pod_ready(p)),
                "terminating": 0,
            }
        )
        kept = ("uncountedTerminatedPods", "ready", "terminating")
        status = {k: v for k, v in status.items() if v or k in kept}
        if conditions:
            status["conditions"] = conditions
        self._save_status(JOBS, job, status)
