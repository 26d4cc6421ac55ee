"""What the cluster runs now, next to what Kubernaut last deployed there.

For the newest successful deployment of a service in a namespace, its objects are read from the
cluster (through the one seam, clusters/kube.py) and each is judged:

- **ok**: every field Kubernaut set has the value it set. The row shows the workloads' images
  and ready/desired pods.
- **drift**: a field Kubernaut set now holds another value (someone ran `kubectl scale`,
  `kubectl set image`, `kubectl edit`). Only the fields of the applied manifest count: what the
  server fills in (defaults, status, managedFields) or others add (annotations of controllers,
  injected sidecars in a list keyed by name) is not drift, as `kubectl diff` would not show it
  either.
- **missing**: the object is gone from the cluster (404).
- **unreachable**: the cluster did not answer within the pages' budget
  (KUBERNAUT_LIVE_TIMEOUT_MS, all clusters together, asked in parallel) or refused; the page
  renders without it.

What "applied" means is rebuilt from the deployment's stored manifest exactly as the worker
applied it (deployments/apply.py's labels); pre-deploy hooks are left out, since a finished
migration Job may be cleaned away by design. A reading is reused for KUBERNAUT_LIVE_CACHE_SECONDS
(django's cache) so that pages refreshing every few seconds do not each ask the cluster.
"""

from __future__ import annotations

import base64
import difflib
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from clusters.kube import ClusterClient, ClusterError
from deployments import apply, manifests, preview
from deployments.models import Deployment
from releases.templating import TemplateProblem

OK, DRIFT, MISSING, UNREACHABLE = "ok", "drift", "missing", "unreachable"
# Worst first: the row's state is its worst object's.
SEVERITY = (UNREACHABLE, MISSING, DRIFT, OK)
# Only these metadata fields are Kubernaut's to set; the rest is the server's.
COMPARED_METADATA = ("name", "namespace", "labels", "annotations")
CACHE_PREFIX = "live-state:"


@dataclass
class LiveObject:
    """One applied object as the cluster holds it now."""

    name: str  # kind/name as kubectl says it
    state: str
    images: list[str] = field(default_factory=list)
    ready: int | None = None  # pods, for workloads
    desired: int | None = None
    diff: str = ""  # applied vs live, the fields Kubernaut set only (drift)

    @property
    def diff_lines(self) -> list[tuple[str, str]]:
        return preview.ObjectChange(name=self.name, is_new=False, diff=self.diff).diff_lines


@dataclass
class LiveState:
    """The live state of one deployment's objects; `problem` says why it could not be read."""

    state: str
    objects: list[LiveObject] = field(default_factory=list)
    problem: str = ""

    @property
    def images(self) -> list[str]:
        return sorted({image for obj in self.objects for image in obj.images})

    @property
    def ready(self) -> int | None:
        counted = [obj.ready for obj in self.objects if obj.desired is not None]
        return sum(n or 0 for n in counted) if counted else None

    @property
    def desired(self) -> int | None:
        counted = [obj.desired for obj in self.objects if obj.desired is not None]
        return sum(counted) if counted else None

    @property
    def sentence(self) -> str:
        """What the badge's title says."""
        if self.state == UNREACHABLE:
            return self.problem
        named = [obj.name for obj in self.objects if obj.state == self.state]
        if self.state == MISSING:
            return f"Gone from the cluster: {', '.join(named)}."
        if self.state == DRIFT:
            return f"Changed in the cluster since it was deployed: {', '.join(named)}."
        return "The cluster runs what Kubernaut deployed."


# --- comparing ------------------------------------------------------------------------------


def _same_scalar(live, applied) -> bool:
    # The API answers 80 where a manifest said "80" (int-or-string fields) and back.
    if live == applied:
        return True
    scalars = (str, int, float)
    return (
        isinstance(live, scalars)
        and isinstance(applied, scalars)
        and not isinstance(live, bool)
        and not isinstance(applied, bool)
        and str(live) == str(applied)
    )


def _named(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def projected(live, applied):
    """`live` cut down to the shape of `applied`: only the fields the manifest set, so that
    `projected(live, applied) == applied` exactly when nothing Kubernaut set has changed.

    Lists of named items (containers, env, volumes) are matched by name, as the API merges
    them; items only the cluster has are left out (an injected sidecar is not drift). Other
    lists are matched by position and keep the cluster's extra items.
    """
    if isinstance(applied, dict):
        if not isinstance(live, dict):
            return live
        return {key: projected(live[key], value) for key, value in applied.items() if key in live}
    if isinstance(applied, list):
        if not isinstance(live, list):
            return live
        if _named(applied) and _named(live):
            by_name = {item["name"]: item for item in live}
            return [
                projected(by_name[item["name"]], item)
                for item in applied
                if item["name"] in by_name
            ]
        return [projected(item, wanted) for item, wanted in zip(live, applied, strict=False)] + (
            live[len(applied) :]
        )
    return applied if _same_scalar(live, applied) else live


def intended(obj: dict) -> dict:
    """What Kubernaut set on an object: the manifest's fields, metadata limited to its own."""
    cleaned = apply.without_server_fields(obj)
    cleaned["metadata"] = {
        key: value for key, value in cleaned["metadata"].items() if key in COMPARED_METADATA
    }
    if _is_secret(cleaned) and isinstance(cleaned.get("stringData"), dict):
        # The API keeps stringData only as base64 in data (stringData is write-only).
        data = dict(cleaned.get("data") or {})
        for key, value in cleaned.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        cleaned["data"] = data
    return cleaned


def _is_secret(obj: dict) -> bool:
    return obj.get("apiVersion") == "v1" and obj.get("kind") == "Secret"


def _masked(wanted: dict, seen: dict) -> tuple[dict, dict]:
    """A Secret's values hidden on both sides of its diff, saying only which changed: a value
    set by hand in the cluster was never Kubernaut's to show."""
    wanted_data, seen_data = wanted.get("data") or {}, seen.get("data") or {}
    hidden = dict.fromkeys(wanted_data, "(hidden)")
    changed = {
        key: "(hidden)" if seen_data.get(key) == value else "(hidden, changed in the cluster)"
        for key, value in wanted_data.items()
        if key in seen_data
    }
    masked_wanted = {**wanted, "data": hidden} if "data" in wanted else wanted
    masked_seen = {**seen, "data": changed} if "data" in seen else seen
    return masked_wanted, masked_seen


def judge(applied: dict, live: dict | None) -> LiveObject:
    """One applied object against the cluster's (None: it is gone)."""
    name = manifests.describe(applied)
    if live is None:
        return LiveObject(name=name, state=MISSING)
    wanted = intended(applied)
    seen = projected(live, wanted)
    images, ready, desired = workload_figures(live)
    found = LiveObject(name=name, state=OK, images=images, ready=ready, desired=desired)
    if seen != wanted:
        found.state = DRIFT
        if _is_secret(wanted):
            wanted, seen = _masked(wanted, seen)
        found.diff = "".join(
            difflib.unified_diff(
                preview.as_yaml(wanted),
                preview.as_yaml(seen),
                fromfile=f"deployed {name}",
                tofile=f"live {name}",
            )
        )
    return found


def workload_figures(obj: dict) -> tuple[list[str], int | None, int | None]:
    """(images, ready pods, desired pods) of a workload; ([], None, None) for other kinds."""
    kind, spec, status = obj.get("kind"), obj.get("spec") or {}, obj.get("status") or {}
    pod_spec = ((spec.get("template") or {}).get("spec")) or (spec if kind == "Pod" else {})
    images = [
        container.get("image")
        for container in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or [])
        if isinstance(container, dict) and container.get("image")
    ]
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        desired = spec.get("replicas")
        return images, status.get("readyReplicas") or 0, 1 if desired is None else desired
    if kind == "DaemonSet":
        return images, status.get("numberReady") or 0, status.get("desiredNumberScheduled") or 0
    return images, None, None


# --- reading --------------------------------------------------------------------------------


@dataclass
class _Wanted:
    """What one deployment applied, read from the database before any thread starts."""

    pk: int
    cluster_name: str
    objects: list[dict]
    problem: str = ""


def applied_objects(manifest: str, service: str, namespace: str) -> list[dict]:
    """The deployment's objects as the worker applied them (labelled), hooks left out."""
    objects = manifests.objects_to_apply(manifest, namespace)
    return apply.plan(objects, service=service, namespace=namespace).objects


def _read(client: ClusterClient, wanted: list[_Wanted]) -> dict[int, LiveState]:
    """Read one cluster's objects for its deployments; runs in a thread, no database."""
    states: dict[int, LiveState] = {}
    try:
        for item in wanted:
            if item.problem:
                states[item.pk] = LiveState(UNREACHABLE, problem=item.problem)
                continue
            found = []
            for obj in item.objects:
                metadata = obj["metadata"]
                try:
                    live = client.get(
                        obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")
                    )
                except ClusterError as error:
                    if error.retryable or error.status is not None:
                        raise  # the cluster as a whole: down, refusing the credentials, ...
                    live = None  # a kind the cluster no longer serves (its CRD was deleted)
                found.append(judge(obj, live))
            worst = min((o.state for o in found), key=SEVERITY.index, default=OK)
            states[item.pk] = LiveState(worst, found)
    except ClusterError as error:
        for item in wanted:
            states.setdefault(item.pk, LiveState(UNREACHABLE, problem=str(error)))
    finally:
        client.close()
    return states


def live_state(deployments: list[Deployment], *, fresh: bool = False) -> dict[int, LiveState]:
    """The live state of each deployment (its namespace and cluster loaded), by id.

    Answers within KUBERNAUT_LIVE_TIMEOUT_MS whatever the clusters do: one thread per cluster,
    each request bounded by the same budget; a cluster that has not answered by then is
    unreachable. Readings come from the cache when they are recent. One query at most (the
    manifests of the deployments not in the cache, on clusters whose kubeconfig can be used).
    `fresh`: ask the clusters even when a recent reading is cached (the drift page).
    """
    if not deployments:
        return {}
    keys = {d.pk: f"{CACHE_PREFIX}{d.pk}" for d in deployments}
    reuse = settings.KUBERNAUT_LIVE_CACHE_SECONDS and not fresh
    cached = cache.get_many(list(keys.values())) if reuse else {}
    states = {pk: cached[key] for pk, key in keys.items() if key in cached}
    todo = [d for d in deployments if d.pk not in states]
    if not todo:
        return states
    budget = settings.KUBERNAUT_LIVE_TIMEOUT_MS / 1000
    started = time.monotonic()
    read: dict[int, LiveState] = {}

    # Clients first (no network): a cluster whose kubeconfig cannot be used costs no query and
    # no thread. The threads get ready clients: they never touch the database or the keys.
    by_cluster: dict[int, list[Deployment]] = {}
    for deployment in todo:
        by_cluster.setdefault(deployment.namespace.cluster_id, []).append(deployment)
    clients: dict[int, ClusterClient] = {}
    for cluster_id, members in by_cluster.items():
        cluster = members[0].namespace.cluster
        try:
            clients[cluster_id] = ClusterClient.for_cluster(cluster, timeout=(budget, budget))
        except ClusterError as error:
            read.update({d.pk: LiveState(UNREACHABLE, problem=str(error)) for d in members})

    wanted: dict[int, list[_Wanted]] = {}
    if clients:
        usable = [d.pk for d in todo if d.namespace.cluster_id in clients]
        details = {
            pk: (manifest, service)
            for pk, manifest, service in Deployment.objects.filter(pk__in=usable).values_list(
                "pk", "manifest", "service__name"
            )
        }
        for cluster_id in clients:
            for deployment in by_cluster[cluster_id]:
                if deployment.pk not in details:
                    continue  # deleted meanwhile: nothing to show
                manifest, service = details[deployment.pk]
                item = _Wanted(deployment.pk, deployment.namespace.cluster.name, [])
                try:
                    item.objects = applied_objects(manifest, service, deployment.namespace.name)
                except TemplateProblem as problem:
                    item.problem = f"The deployed manifest cannot be read again: {problem}"
                wanted.setdefault(cluster_id, []).append(item)

    for cluster_id, client in clients.items():
        if cluster_id not in wanted:
            client.close()
    if wanted:
        pool = ThreadPoolExecutor(max_workers=min(8, len(wanted)), thread_name_prefix="live")
        futures = {
            pool.submit(_read, clients[cluster_id], items): items
            for cluster_id, items in wanted.items()
        }
        wait_for(futures, timeout=max(0.0, budget - (time.monotonic() - started)))
        pool.shutdown(wait=False)  # a late answer is dropped; the requests' own timeouts end them
        for future, items in futures.items():
            if future.done() and future.exception() is None:
                read.update(future.result())
                continue
            name = items[0].cluster_name
            problem = (
                f"Cluster {name} did not answer within {budget:g} s; what runs there cannot be "
                "shown now."
                if not future.done()
                else f"Cluster {name} could not be read: {future.exception()}"
            )
            read.update({item.pk: LiveState(UNREACHABLE, problem=problem) for item in items})
    if settings.KUBERNAUT_LIVE_CACHE_SECONDS:
        cache.set_many(
            {keys[pk]: state for pk, state in read.items()}, settings.KUBERNAUT_LIVE_CACHE_SECONDS
        )
    return {**states, **read}
