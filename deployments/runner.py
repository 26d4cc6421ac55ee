"""What a worker does with a deployment: claim it, apply its objects, follow the rollout, record.

Delivery is at-least-once, so every step is safe to repeat: the claim is an atomic UPDATE,
server-side apply is idempotent, and a deployment found `running` is resumed, not started again.
At most one deployment runs per (namespace, service), in the order they were asked for: a
PostgreSQL advisory lock, held by the worker's database session, is released by PostgreSQL itself
if the worker dies.
"""

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

import policies
from clusters import registry
from clusters.kube import ClusterClient, ClusterError
from deployments import apply, rollback, rollout, services
from deployments import live as live_state
from deployments.manifests import checked_objects_to_apply, describe, objects_to_apply
from deployments.models import Deployment
from releases.templating import TemplateProblem

logger = logging.getLogger(__name__)
Status = Deployment.Status

# How often a lost watch connection is opened again before the deployment fails.
WATCH_RETRIES = 5
EVENTS_IN_FAILURE_LOG = 10


def run(deployment_id: int) -> None:
    """The django-q task body (deployments.tasks.run_deployment)."""
    deployment = Deployment.objects.select_related(
        "release__service", "namespace__cluster", "created_by"
    ).get(pk=deployment_id)
    if deployment.is_finished:
        return  # a repeated delivery of a task that already ran to the end
    with target_lock(deployment):
        # Deployments to one place run in the order they were asked for, so the newest request
        # is what ends up live: the lock holder first runs older ones still waiting for a worker
        # (their own tasks then find them finished).
        for turn in [*unfinished_before(deployment), deployment]:
            if turn is not deployment:
                deployment.log(f"Waiting for the earlier deployment #{turn.pk} to finish first.")
            if claim(turn):
                execute(turn)


def unfinished_before(deployment: Deployment) -> list[Deployment]:
    return list(
        Deployment.objects.select_related("release__service", "namespace__cluster", "created_by")
        .filter(
            namespace_id=deployment.namespace_id,
            service_id=deployment.service_id,
            status__in=[Status.PENDING, Status.RUNNING],
            id__lt=deployment.pk,
        )
        .order_by("id")
    )


def execute(deployment: Deployment) -> None:
    try:
        status, reason = Rollout(deployment).run()
    except ClusterError as error:
        status, reason = Status.FAILED, str(error)
    except Exception as error:
        # Whatever went wrong, the deployment must end; a retry would most likely fail alike.
        logger.exception("deployment %s failed unexpectedly", deployment.pk)
        status, reason = Status.FAILED, f"Kubernaut failed unexpectedly: {error!r}"
    finish(deployment, status, reason)


@contextlib.contextmanager
def target_lock(deployment: Deployment):
    keys = [deployment.namespace_id % 2**31, deployment.service_id % 2**31]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", keys)
        if not cursor.fetchone()[0]:
            busy = (
                Deployment.objects.filter(
                    namespace_id=deployment.namespace_id,
                    service_id=deployment.service_id,
                    status=Status.RUNNING,
                )
                .exclude(pk=deployment.pk)
                .first()
            )
            what = f"deployment #{busy.pk}" if busy else "another deployment"
            deployment.log(
                f"Waiting for {what} of {deployment.release.service} to "
                f"{deployment.namespace} to finish."
            )
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", keys)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", keys)


def claim(deployment: Deployment) -> bool:
    """Take the deployment, or resume it if its previous worker died. False if it is finished."""
    now = timezone.now()
    claimed = Deployment.objects.filter(pk=deployment.pk, status=Status.PENDING).update(
        status=Status.RUNNING, started_at=now
    )
    deployment.refresh_from_db(fields=["status", "started_at"])
    if claimed:
        deployment.log(f"Started by a worker; timeout {deployment.timeout_seconds} s.")
        return True
    if deployment.status == Status.RUNNING:
        deployment.log("Resuming: the worker that was running this deployment stopped.", "warning")
        return True
    return False


def finish(deployment: Deployment, status: str, reason: str) -> None:
    reason = reason.replace("\n", " ")[:1000]
    updated = Deployment.objects.filter(pk=deployment.pk, status=Status.RUNNING).update(
        status=status, reason=reason, finished_at=timezone.now()
    )
    if updated:
        level = "info" if status == Status.SUCCEEDED else "error"
        deployment.log(f"{Status(status).label.capitalize()}: {reason}", level)
        if status in (Status.FAILED, Status.TIMED_OUT):
            rollback.after_failure(deployment)


@dataclass
class Followed:
    """A workload being rolled out, with what the rules said last."""

    obj: dict
    progress: rollout.Progress | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.obj["kind"], self.obj["metadata"]["name"]


class Rollout:
    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        self.namespace = deployment.namespace.name
        self.deadline = deployment.started_at.timestamp() + deployment.timeout_seconds

    def run(self) -> tuple[str, str]:
        cluster = self.deployment.namespace.cluster
        try:
            to_check = checked_objects_to_apply(self.deployment)
        except TemplateProblem as problem:
            return Status.FAILED, f"The manifest was refused before anything was applied: {problem}"
        # The policy as it is now: an admin may have tightened it since the deployment was asked
        # for. Checked offline first, so nothing reaches the cluster or the registry.
        refused = self.refused_by_policy(to_check)
        if refused:
            return Status.FAILED, refused
        # Fail at once on an image the cluster's registry does not have, not after a pull backoff.
        problem = registry.missing_images_problem(cluster, to_check)
        if problem:
            return Status.FAILED, problem
        if cluster.registry_url:
            self.deployment.log(f"Images found in registry {cluster.registry_url}.")
        client = ClusterClient.for_cluster(cluster)
        try:
            objects = objects_to_apply(self.deployment.manifest, self.namespace)
            # Custom resources: only the cluster knows whether they are cluster-scoped.
            refused = self.refused_by_policy(objects, client)
            if refused:
                return Status.FAILED, refused
            plan = apply.plan(
                objects,
                service=self.deployment.service.name,
                namespace=self.namespace,
                deployment_id=self.deployment.pk,
            )
            applied = []
            for hook in plan.hooks:
                apply.clear_previous_hook(client, hook, self.deployment.log)
                applied.append(self.apply(client, hook))
            awaited = [Followed(obj) for obj in rollout.objects_to_follow(plan.hooks)]
            if awaited:
                Deployment.objects.filter(pk=self.deployment.pk).update(applied_objects=applied)
                status, reason = self.follow(client, awaited)
                if status != Status.SUCCEEDED:
                    return status, apply.hook_failure_reason(
                        client, self.namespace, [w.obj for w in awaited],
                        "failed" if status == Status.FAILED else "did not finish", reason,
                    )  # fmt: skip
            applied += [self.apply(client, obj) for obj in plan.objects]
            Deployment.objects.filter(pk=self.deployment.pk).update(applied_objects=applied)
            followed = [Followed(obj) for obj in rollout.objects_to_follow(plan.objects)]
            if followed:
                status, reason = self.follow(client, followed)
            else:
                status = Status.SUCCEEDED
                reason = f"Applied {len(applied)} objects; none needs a rollout."
            if status == Status.SUCCEEDED and self.deployment.namespace.prune:
                # Only after a successful rollout: a failed one leaves the old objects serving.
                pruned = apply.prune(
                    client,
                    service=self.deployment.service.name,
                    namespace=self.namespace,
                    keep=plan.all,
                    kinds=apply.applied_kinds(
                        service_id=self.deployment.service_id,
                        namespace_id=self.deployment.namespace_id,
                    ),
                    log=self.deployment.log,
                )
                reason = f"{reason} {pruned}".strip()
            return status, reason
        finally:
            client.close()

    def refused_by_policy(self, objects: list[dict], client: ClusterClient | None = None) -> str:
        """The refusal sentence if the namespace's policy refuses the objects, each violation
        logged; "" when they may be applied."""
        violations = services.policy_violations(self.deployment.namespace, objects, client)
        for violation in violations:
            self.deployment.log(
                f"Refused by policy ({violation.rule}): {violation.message}", "error"
            )
        return policies.refusal_sentence(violations) if violations else ""

    def apply(self, client: ClusterClient, obj: dict) -> dict:
        metadata = obj["metadata"]
        before = client.get(
            obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace")
        )
        try:
            after = client.apply(obj)
        except ClusterError as error:
            raise ClusterError(
                f"{describe(obj)} was rejected by the cluster: {error}",
                retryable=error.retryable,
                status=error.status,
            ) from None
        if before is None:
            action = "created"
        elif apply.without_server_fields(before) == apply.without_server_fields(after):
            action = "unchanged"
        else:
            action = "configured"
        self.deployment.log(f"{describe(obj)} {action}")
        return {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": metadata["name"],
            "namespace": metadata.get("namespace", ""),
            "action": action,
        }

    def follow(self, client: ClusterClient, workloads: list[Followed]) -> tuple[str, str]:
        kinds = rollout.kinds_to_watch(w.obj for w in workloads)
        events: queue.Queue = queue.Queue()
        stop = threading.Event()
        for api_version, kind in kinds:
            WatchThread(client, api_version, kind, self.namespace, events, stop).start()
        live: dict[str, dict[str, dict]] = {kind: {} for _, kind in kinds}
        try:
            while True:
                remaining = self.deadline - time.time()
                if remaining <= 0:
                    return Status.TIMED_OUT, self.timeout_reason(workloads, live)
                try:
                    item = events.get(timeout=remaining)
                except queue.Empty:
                    continue
                # Take every event already waiting before judging: one decision per burst.
                batch = [item]
                while not events.empty():
                    batch.append(events.get_nowait())
                for kind, event_type, payload in batch:
                    if event_type == "ERROR":
                        raise payload
                    apply_event(live[kind], event_type, payload)
                outcome = self.judge(workloads, live)
                if outcome:
                    if outcome[0] == Status.FAILED:
                        self.log_failure_details(client, workloads, live)
                    return outcome
        finally:
            stop.set()

    def judge(self, workloads: list[Followed], live: dict) -> tuple[str, str] | None:
        changed = False
        for workload in workloads:
            kind, name = workload.key
            obj = live[kind].get(name)
            if obj is None:
                continue
            pods = pods_of(obj, live.get("Pod", {}).values())
            replica_sets = live.get("ReplicaSet", {}).values()
            progress = rollout.evaluate(
                obj,
                pods,
                current_pod_template_hash=rollout.new_replicaset_hash(obj, replica_sets)
                if kind == "Deployment"
                else None,
                endpoint_slices=live.get("EndpointSlice", {}).values(),
            )
            if progress != workload.progress:
                changed = True
                if workload.progress is None or progress.message != workload.progress.message:
                    level = "error" if progress.state == "failed" else "info"
                    self.deployment.log(progress.message, level)
                workload.progress = progress
        if changed:
            Deployment.objects.filter(pk=self.deployment.pk).update(
                workloads=[
                    {
                        "kind": w.key[0],
                        "name": w.key[1],
                        "ready": w.progress.ready if w.progress else 0,
                        "desired": w.progress.desired if w.progress else 0,
                        "state": w.progress.state if w.progress else "progressing",
                    }
                    for w in workloads
                    if rollout.is_workload(w.obj)  # progress bars: replicas of workloads
                ]
            )
        states = [w.progress.state if w.progress else "progressing" for w in workloads]
        failed = [w for w in workloads if w.progress and w.progress.state == "failed"]
        if failed:
            return Status.FAILED, self.live_reason(failed[0], live, failed[0].progress.message)
        if all(state == "succeeded" for state in states):
            return Status.SUCCEEDED, rollout.success_sentence(w.obj for w in workloads)
        return None

    def timeout_reason(self, workloads: list[Followed], live: dict) -> str:
        waiting = [w for w in workloads if not w.progress or w.progress.state != "succeeded"]
        detail = "; ".join(
            self.live_reason(w, live, w.progress.message) if w.progress
            else f"{w.key[1]}: not seen yet"
            for w in waiting
        )  # fmt: skip
        return f"Not rolled out within {self.deployment.timeout_seconds} s: {detail}"

    def live_reason(self, workload: Followed, live: dict, fallback: str) -> str:
        """What still serves and why the new pods fail, in one sentence (deployments/live.py);
        the rules' raw message is in the log already."""
        kind, name = workload.key
        return live_state.reason_for(
            live.get(kind, {}).get(name),
            live,
            version=self.deployment.release.version,
            fallback=fallback,
        )

    def log_failure_details(self, client: ClusterClient, workloads, live: dict) -> None:
        """Pods' states and the recent events, so the log shows why without a kubectl session."""
        names = {w.key[1] for w in workloads}
        for workload in workloads:
            kind, name = workload.key
            obj = live[kind].get(name)
            for pod in pods_of(obj, live.get("Pod", {}).values()) if obj else []:
                names.add(pod["metadata"]["name"])
                self.deployment.log(f"pod/{pod['metadata']['name']}: {pod_summary(pod)}", "warning")
        names |= set(live.get("ReplicaSet", {}))
        try:
            events, _ = client.list("v1", "Event", self.namespace)
        except ClusterError:
            return
        related = [e for e in events if e.get("involvedObject", {}).get("name") in names]
        related.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        for event in related[-EVENTS_IN_FAILURE_LOG:]:
            involved = event.get("involvedObject", {})
            self.deployment.log(
                f"event {involved.get('kind', '').lower()}/{involved.get('name')}: "
                f"{event.get('reason')}: {event.get('message')}",
                "warning",
            )


class WatchThread(threading.Thread):
    """Lists a kind in the namespace, then watches it, feeding (kind, type, payload) to a queue."""

    def __init__(self, client, api_version, kind, namespace, events: queue.Queue, stop):
        super().__init__(daemon=True, name=f"watch-{kind}")
        self.client, self.api_version, self.kind = client, api_version, kind
        self.namespace, self.events, self.stop = namespace, events, stop

    def run(self) -> None:
        version, failures = None, 0
        while not self.stop.is_set():
            try:
                if version is None:
                    items, version = self.client.list(self.api_version, self.kind, self.namespace)
                    self.events.put((self.kind, "SYNC", items))
                for event_type, obj in self.client.watch(
                    self.api_version, self.kind, self.namespace, version
                ):
                    if self.stop.is_set():
                        return
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    self.events.put((self.kind, event_type, obj))
                failures = 0
            except ClusterError as error:
                if error.status == 410:
                    version = None  # too old: list again
                    continue
                failures += 1
                if not error.retryable or failures > WATCH_RETRIES:
                    self.events.put((self.kind, "ERROR", error))
                    return
                time.sleep(min(2**failures, 10))


def apply_event(objects: dict[str, dict], event_type: str, payload) -> None:
    if event_type == "SYNC":
        objects.clear()
        objects.update({obj["metadata"]["name"]: obj for obj in payload})
    elif event_type == "DELETED":
        objects.pop(payload["metadata"]["name"], None)
    elif event_type in ("ADDED", "MODIFIED"):
        objects[payload["metadata"]["name"]] = payload


def selector_matches(selector: dict, labels: dict) -> bool:
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


def pods_of(workload: dict, pods) -> list[dict]:
    selector = workload.get("spec", {}).get("selector") or {}
    if workload.get("kind") == "Job" and not selector:
        uid = workload["metadata"].get("uid")
        return [p for p in pods if p["metadata"].get("labels", {}).get("controller-uid") == uid]
    if not selector:
        return []
    return [p for p in pods if selector_matches(selector, p["metadata"].get("labels") or {})]


def pod_summary(pod: dict) -> str:
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
