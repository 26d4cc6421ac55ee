"""What a deployment applies, in which phase, and what it removes afterwards.

- **Labels.** Every object Kubernaut applies carries `app.kubernetes.io/managed-by: kubernaut`
  (the recommended label, as Helm sets it), `kubernaut.io/service: <service>` and
  `kubernaut.io/namespace: <target namespace>`: the tracking labels (Argo CD's
  `app.kubernetes.io/instance`) that prune finds objects by. Only the object's own labels: pod
  templates are left alone, since changing them would restart pods and could break selectors.
- **Hooks.** Objects annotated `kubernaut.io/hook: pre-deploy` (a migration Job, and the
  ConfigMap or Secret it needs) are applied first, in dependency order among themselves, and
  awaited; if one fails nothing else is applied. A hook Job or Pod left by an earlier deployment
  is deleted before it is applied again (Argo CD's default `BeforeHookCreation`): its pod template
  cannot change, and an unchanged finished Job would never run again.
- **Prune.** After a successful rollout, objects carrying this (service, namespace)'s labels that
  the manifest no longer has are deleted. The kinds looked at are those Kubernaut has ever applied
  for this service there (previous deployments' `applied_objects`) and those of the manifest:
  like kubectl's prune allowlist, but complete for custom resources and RBAC, without listing
  every kind the cluster serves. Namespaces, CRDs, PersistentVolumeClaims and PersistentVolumes
  are never pruned (deleting them deletes data or other teams' objects).
- **Server-owned fields.** `without_server_fields` is the one list of what the server writes on
  its own, used for "unchanged" in the log and for the preview's diffs.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection

from clusters.kube import ClusterClient, ClusterError
from deployments.manifests import CLUSTER_SCOPED_KINDS, describe

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kubernaut"
SERVICE_LABEL = "kubernaut.io/service"
NAMESPACE_LABEL = "kubernaut.io/namespace"
HOOK_ANNOTATION = "kubernaut.io/hook"
PRE_DEPLOY = "pre-deploy"
# On hook Jobs and Pods only (on other objects it would make every deployment a change).
DEPLOYMENT_ANNOTATION = "kubernaut.io/deployment-id"

# Kinds whose pod template cannot change once created: a hook of these kinds is created anew.
RECREATED_HOOK_KINDS = {("batch", "Job"), ("", "Pod")}

NEVER_PRUNED = {
    ("", "Namespace"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("", "PersistentVolumeClaim"),
    ("", "PersistentVolume"),
}

# Written by the server (or its controllers) on every object; never part of what was asked for.
SERVER_OWNED_METADATA = (
    "managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink",
    "deletionTimestamp", "deletionGracePeriodSeconds",
)  # fmt: skip
SERVER_OWNED_TOP_LEVEL = ("status",)

EVENTS_IN_HOOK_REASON = 3


def without_server_fields(obj: dict) -> dict:
    """The object without what the server owns (status, resourceVersion, managedFields, ...)."""
    cleaned = {k: v for k, v in obj.items() if k not in SERVER_OWNED_TOP_LEVEL}
    metadata = obj.get("metadata") or {}
    cleaned["metadata"] = {k: v for k, v in metadata.items() if k not in SERVER_OWNED_METADATA}
    return cleaned


def group_of(obj: dict) -> str:
    api_version = obj.get("apiVersion") or ""
    return api_version.rpartition("/")[0]


def identity(obj: dict) -> tuple[str, str, str, str]:
    """(group, kind, namespace, name): the same object whatever apiVersion names it."""
    metadata = obj.get("metadata") or {}
    return group_of(obj), obj.get("kind", ""), metadata.get("namespace") or "", metadata["name"]


def selector(service: str, namespace: str) -> str:
    return (
        f"{MANAGED_BY_LABEL}={MANAGED_BY},{SERVICE_LABEL}={service},{NAMESPACE_LABEL}={namespace}"
    )


def labelled(obj: dict, *, service: str, namespace: str) -> dict:
    """A copy of the object with Kubernaut's tracking labels (they win over the template's)."""
    metadata = obj.get("metadata") or {}
    labels = {
        **(metadata.get("labels") or {}),
        MANAGED_BY_LABEL: MANAGED_BY,
        SERVICE_LABEL: service,
        NAMESPACE_LABEL: namespace,
    }
    return {**obj, "metadata": {**metadata, "labels": labels}}


def is_hook(obj: dict) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(HOOK_ANNOTATION) == PRE_DEPLOY


@dataclass(frozen=True)
class Plan:
    """The labelled objects of one deployment, split into its two apply phases (each in apply
    order)."""

    hooks: list[dict]
    objects: list[dict]

    @property
    def all(self) -> list[dict]:
        return self.hooks + self.objects


def plan(objects: Iterable[dict], *, service: str, namespace: str, deployment_id=None) -> Plan:
    """Label the objects (already in apply order) and split off the pre-deploy hooks.

    With a deployment id, hook Jobs and Pods are annotated with it, so a resumed deployment
    recognises its own hook run and does not start it again.
    """
    hooks, rest = [], []
    for obj in objects:
        obj = labelled(obj, service=service, namespace=namespace)
        if is_hook(obj):
            if deployment_id is not None and (group_of(obj), obj["kind"]) in RECREATED_HOOK_KINDS:
                metadata = obj["metadata"]
                annotations = {**metadata["annotations"], DEPLOYMENT_ANNOTATION: str(deployment_id)}
                obj = {**obj, "metadata": {**metadata, "annotations": annotations}}
            hooks.append(obj)
        else:
            rest.append(obj)
    return Plan(hooks=hooks, objects=rest)


# --- hooks ----------------------------------------------------------------------------------


def is_recreated_hook(obj: dict) -> bool:
    return is_hook(obj) and (group_of(obj), obj.get("kind", "")) in RECREATED_HOOK_KINDS


def clear_previous_hook(client: ClusterClient, hook: dict, log: Callable[..., object]) -> None:
    """Delete a hook Job or Pod left by an earlier deployment, so that this one runs it anew."""
    if not is_recreated_hook(hook):
        return
    metadata = hook["metadata"]
    args = (hook["apiVersion"], hook["kind"], metadata["name"], metadata.get("namespace"))
    live = client.get(*args)
    if live is None:
        return
    mine = metadata.get("annotations", {}).get(DEPLOYMENT_ANNOTATION)
    theirs = (live.get("metadata", {}).get("annotations") or {}).get(DEPLOYMENT_ANNOTATION)
    if mine is not None and mine == theirs:
        return  # this deployment's own run, found again after a worker restart: await it
    client.delete(*args)
    log(f"{describe(hook)} deleted: the pre-deploy hook of an earlier deployment, run anew")


def hook_failure_reason(
    client: ClusterClient, namespace: str, hooks: list[dict], status_label: str, detail: str
) -> str:
    """One sentence for a hook that failed or did not finish: its rule's message, then the
    state of its pods and their latest events, so the reason alone says why."""
    names = ", ".join(describe(hook) for hook in hooks)
    parts = [f"Pre-deploy hook {names} {status_label}, so nothing else was applied: {detail}"]
    try:
        pods, _ = client.list("v1", "Pod", namespace)
        events, _ = client.list("v1", "Event", namespace)
    except ClusterError:
        return parts[0]
    hook_names = {h["metadata"]["name"] for h in hooks}
    # Job pods carry `job-name`; a bare hook Pod is named itself.
    theirs = [
        pod
        for pod in pods
        if (pod["metadata"].get("labels") or {}).get("job-name") in hook_names
        or pod["metadata"]["name"] in hook_names
    ]
    theirs.sort(key=lambda pod: pod["metadata"].get("creationTimestamp") or "")
    for pod in theirs[-1:]:  # the latest attempt says the most
        parts.append(f"pod {pod['metadata']['name']}: {pod_state(pod)}")
    involved = hook_names | {pod["metadata"]["name"] for pod in theirs}
    related = [e for e in events if (e.get("involvedObject") or {}).get("name") in involved]
    # Warnings explain a failure; events that only repeat the rule's message add nothing.
    related = [e for e in related if str(e.get("message")) not in detail]
    related.sort(
        key=lambda e: (
            e.get("type") == "Warning",
            e.get("lastTimestamp") or e.get("eventTime") or "",
        )
    )
    quoted = [
        f"{(e.get('involvedObject') or {}).get('kind', '').lower()}/"
        f"{(e.get('involvedObject') or {}).get('name')} {e.get('reason')}: {e.get('message')}"
        for e in related[-EVENTS_IN_HOOK_REASON:]
    ]
    if quoted:
        parts.append("events: " + "; ".join(quoted))
    return ". ".join(parts)


def pod_state(pod: dict) -> str:
    """A pod's phase and each container's state, with exit codes: `Failed; container migrate
    terminated: Error (exit code 1)`."""
    status = pod.get("status") or {}
    parts = [status.get("phase") or "Unknown"]
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if "waiting" in state:
            waiting = state["waiting"] or {}
            detail = f"waiting: {waiting.get('reason', '')} {waiting.get('message', '')}".strip()
        elif "terminated" in state:
            terminated = state["terminated"] or {}
            detail = f"terminated: {terminated.get('reason') or 'exited'}"
            detail += f" (exit code {terminated.get('exitCode', '?')})"
            if terminated.get("message"):
                detail += f": {terminated['message']}"
        else:
            detail = "running" + (", ready" if container.get("ready") else ", not ready")
        parts.append(f"container {container.get('name')} {detail}")
    return "; ".join(parts)


# --- prune ----------------------------------------------------------------------------------


def applied_kinds(*, service_id: int, namespace_id: int) -> set[tuple[str, str]]:
    """(apiVersion, kind) of every object Kubernaut recorded applying for the service there.

    Deleted deployments count too: their objects may still be in the cluster.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT item ->> 'apiVersion', item ->> 'kind'
            FROM deployments_deployment, jsonb_array_elements(applied_objects) AS item
            WHERE service_id = %s AND namespace_id = %s AND jsonb_typeof(applied_objects) = 'array'
            """,
            [service_id, namespace_id],
        )
        return {(api_version, kind) for api_version, kind in cursor.fetchall() if kind}


def prune_candidates(
    client: ClusterClient,
    *,
    service: str,
    namespace: str,
    keep: list[dict],
    kinds: set[tuple[str, str]],
) -> list[dict]:
    """Live objects labelled for (service, namespace) whose identity is not among `keep`.

    `kinds` are the (apiVersion, kind) pairs to look at; those the manifest has are added.
    A kind the cluster no longer serves is skipped.
    """
    kinds = set(kinds) | {(obj["apiVersion"], obj["kind"]) for obj in keep}
    kept = {identity(obj) for obj in keep}
    seen: set[tuple[str, str, str, str]] = set()
    found = []
    for api_version, kind in sorted(kinds):
        group = api_version.rpartition("/")[0]
        if (group, kind) in NEVER_PRUNED:
            continue
        try:
            items, _ = client.list(
                api_version, kind, namespace, label_selector=selector(service, namespace)
            )
        except ClusterError as error:
            if error.status in (None, 404):
                continue  # not served (any more) in this version
            raise
        for item in items:
            # A list does not repeat apiVersion and kind on its items.
            item = {**item, "apiVersion": api_version, "kind": kind}
            key = identity(item)
            metadata = item.get("metadata") or {}
            if key in kept or key in seen or metadata.get("deletionTimestamp"):
                continue
            if kind not in CLUSTER_SCOPED_KINDS and metadata.get("namespace") != namespace:
                continue
            # Made by a controller from something we applied (Argo CD skips these too).
            if any(ref.get("controller") for ref in metadata.get("ownerReferences") or []):
                continue
            seen.add(key)
            found.append(item)
    return found


def prune(
    client: ClusterClient,
    *,
    service: str,
    namespace: str,
    keep: list[dict],
    kinds: set[tuple[str, str]],
    log: Callable[..., object],
) -> str:
    """Delete what `prune_candidates` finds, logging each deletion; a sentence for the reason
    ("" when nothing was to be deleted). A deletion the cluster refuses is logged and left."""
    try:
        candidates = prune_candidates(
            client, service=service, namespace=namespace, keep=keep, kinds=kinds
        )
    except ClusterError as error:
        # The rollout succeeded; leftovers are for the next deployment to prune, not a failure.
        log(f"Could not look for objects to prune: {error}", "warning")
        return "Could not look for objects to prune (see the log)."
    deleted, refused = 0, 0
    for obj in candidates:
        metadata = obj["metadata"]
        try:
            client.delete(
                obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")
            )
        except ClusterError as error:
            refused += 1
            log(f"{describe(obj)} could not be pruned: {error}", "warning")
            continue
        deleted += 1
        log(f"{describe(obj)} deleted (pruned: no longer in the manifest)")
    sentence = ""
    if deleted:
        sentence = f"Pruned {deleted} object{'s' * (deleted > 1)} no longer in the manifest."
    if refused:
        sentence += f" {refused} could not be pruned (see the log)."
    return sentence.strip()
