"""What a worker does with a deployment: claim it, apply its objects, follow the rollout, record.

This module only orchestrates; the state transitions are the Deployment's own (models.py), the
rollout rules rollout.py's, and every call to a cluster goes through clusters/kube.py.

Delivery is at-least-once, so every step is safe to repeat: the claim is an atomic UPDATE,
server-side apply is idempotent, and a deployment found `running` is resumed, not started again.

At most one deployment runs per (namespace, service) target, in the order they were asked for,
and no worker ever waits for another: a worker *tries* the target's PostgreSQL advisory lock
(held by its database session, so PostgreSQL releases it if the worker dies). If another worker
holds it, this one leaves at once, and the holder runs every unfinished deployment of that
target in id order before it lets go; after letting go it looks again, so a request whose worker
found the lock taken while the holder was unlocking is not stranded.

While it follows a deployment, a worker writes a heartbeat every few seconds from a thread of
its own; the scheduled check (services.check_unfinished_deployments) queues a deployment whose
heartbeat stopped again, so another worker resumes it within a minute or two.
"""

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

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
# How often the rollout loop wakes without a watch event, to notice a cancel.
WAKE_SECONDS = 0.5
# How often a worker following a deployment also runs the check for deployments nobody follows.
CHECK_SECONDS = 10
RELATED = ("release__service", "namespace__cluster", "created_by", "cancelled_by")


def run(deployment_id: int) -> None:
    """The django-q task body (deployments.tasks.run_deployment)."""
    deployment = Deployment.objects.select_related(*RELATED).filter(pk=deployment_id).first()
    if deployment is None or deployment.is_finished:
        return  # a repeated delivery of a task that already ran to the end
    tried: set[int] = set()
    while True:
        with target_lock(deployment) as locked:
            if not locked:
                if not tried:  # else its deployment has ended, and the last line is written
                    say_who_runs_it(deployment)
                return
            drain(deployment, tried)
        # Someone may have asked for another deployment here while we were letting go, and its
        # worker found the lock still taken: look again, now that it is free.
        if not unfinished_of_target(deployment).exclude(pk__in=tried).exists():
            return


def unfinished_of_target(deployment: Deployment):
    return Deployment.objects.for_target(
        deployment.namespace_id, deployment.service_id
    ).unfinished()


def drain(deployment: Deployment, tried: set[int]) -> None:
    """Run every unfinished deployment of the target, oldest first, the given one among them:
    deployments to one place run in the order they were asked for, so the newest request is
    what ends up live (their own tasks then find them finished). The caller holds the lock;
    `tried` collects what was taken, so nothing is taken twice by one task."""
    while True:
        turn = (
            unfinished_of_target(deployment)
            .exclude(pk__in=tried)
            .select_related(*RELATED)
            .order_by("id")
            .first()
        )
        if turn is None:
            return
        tried.add(turn.pk)
        if turn.pk < deployment.pk:
            deployment.log(f"Waiting for the earlier deployment #{turn.pk} to finish first.")
        if turn.claim():
            execute(turn)


def say_who_runs_it(deployment: Deployment) -> None:
    running = unfinished_of_target(deployment).filter(status=Status.RUNNING).first()
    what = f"deployment #{running.pk}" if running else "another deployment"
    deployment.log(
        f"Waiting for {what} of {deployment.release.service} to {deployment.namespace} to "
        "finish; the worker running it takes this one next, in order."
    )


def execute(deployment: Deployment) -> None:
    plan = Rollout(deployment)
    with Heartbeat(deployment) as heartbeat:
        plan.stop = heartbeat.stop
        try:
            status, reason = plan.run()
        except Stopped:
            status, reason = "", ""
        except ClusterError as error:
            status, reason = Status.FAILED, str(error)
        except Exception as error:
            # Whatever went wrong, the deployment must end; a retry would most likely fail alike.
            logger.exception("deployment %s failed unexpectedly", deployment.pk)
            status, reason = Status.FAILED, f"Kubernaut failed unexpectedly: {error!r}"
    deployment.refresh_from_db(fields=["status", "cancelled_by"])
    if deployment.cancelled_by_id and deployment.status == Status.RUNNING:
        # Cancelled while it ran: whatever the rollout came to, the person's word wins.
        deployment.finish_cancelled(plan.applied)
    elif status:
        finish(deployment, status, reason)


def finish(deployment: Deployment, status: str, reason: str) -> None:
    """The end of every deployment a worker ran: the status, its last log line and, after a
    failure, the automatic rollback's decision commit together (a client that stops reading at a
    finished status has seen them all)."""
    with transaction.atomic():
        if deployment.finish(status, reason) and status in (Status.FAILED, Status.TIMED_OUT):
            rollback.after_failure(deployment)


@contextlib.contextmanager
def target_lock(deployment: Deployment):
    """Yields whether this worker got the target's lock; never waits for it."""
    keys = [deployment.namespace_id % 2**31, deployment.service_id % 2**31]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", keys)
        locked = cursor.fetchone()[0]
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", keys)


class Stopped(Exception):
    """The worker was told to stop following the deployment (cancelled, or ended elsewhere)."""


class Heartbeat(threading.Thread):
    """Writes the deployment's heartbeat every KUBERNAUT_HEARTBEAT_SECONDS from its own thread
    (and database connection), so a long cluster call does not look like a dead worker; sets
    `stop` when the deployment was cancelled or ended elsewhere."""

    def __init__(self, deployment: Deployment):
        super().__init__(daemon=True, name=f"heartbeat-{deployment.pk}")
        self.deployment = deployment
        self.stop = threading.Event()
        self.done = threading.Event()

    def __enter__(self) -> "Heartbeat":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join(timeout=10)

    def run(self) -> None:
        beats_per_check = max(1, CHECK_SECONDS // settings.KUBERNAUT_HEARTBEAT_SECONDS)
        beats = 0
        try:
            while not self.done.wait(settings.KUBERNAUT_HEARTBEAT_SECONDS):
                try:
                    if not self.deployment.beat():
                        self.stop.set()
                        return
                    beats += 1
                    if beats % beats_per_check == 0:
                        # A busy worker is the one whose qcluster may hold others' tasks.
                        services.check_unfinished_deployments()
                except Exception:
                    # The database is away for a moment: try again at the next beat. If it
                    # stays away, the check sees the heartbeat stop and another worker resumes.
                    logger.warning("heartbeat of deployment %s failed", self.deployment.pk)
        finally:
            connection.close()


@dataclass
class Followed:
    """A workload being rolled out, with what the rules said last."""

    obj: dict
    progress: rollout.Progress | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.obj["kind"], self.obj["metadata"]["name"]


class Rollout:
    def __init__(self, deployment: Deployment, stop: threading.Event | None = None):
        self.deployment = deployment
        self.namespace = deployment.namespace.name
        self.deadline = deployment.started_at.timestamp() + deployment.timeout_seconds
        # Set when the worker must stop following (a cancel); checked between steps.
        self.stop = stop or threading.Event()
        self.applied: list[dict] = []  # what reached the cluster so far, for a cancel's log

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped

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
            self.check_stop()
            followed = [Followed(obj) for obj in rollout.objects_to_follow(plan.objects)]
            if followed:
                status, reason = self.follow(client, followed)
            else:
                status = Status.SUCCEEDED
                reason = f"Applied {len(applied)} objects; none needs a rollout."
            if status == Status.SUCCEEDED and self.deployment.namespace.prune:
                # Only after a successful rollout: a failed one leaves the old objects serving.
                self.check_stop()
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
        self.check_stop()
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
        entry = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": metadata["name"],
            "namespace": metadata.get("namespace", ""),
            "action": action,
        }
        self.applied.append(entry)
        return entry

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
                    item = events.get(timeout=min(remaining, WAKE_SECONDS))
                except queue.Empty:
                    self.check_stop()
                    continue
                # Take every event already waiting before judging: one decision per burst.
                batch = [item]
                while not events.empty():
                    batch.append(events.get_nowait())
                for kind, event_type, payload in batch:
                    if event_type == "ERROR":
                        raise payload
                    rollout.apply_event(live[kind], event_type, payload)
                self.check_stop()
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
            pods = rollout.pods_of(obj, live.get("Pod", {}).values())
            replica_sets = live.get("ReplicaSet", {}).values()
            progress = rollout.evaluate(
                obj,
                pods,
                rollout.events_about(pods, live.get("Event", {}).values()),
                current_pod_template_hash=rollout.deployment_pods_hash(obj, replica_sets)
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
            for pod in rollout.pods_of(obj, live.get("Pod", {}).values()) if obj else []:
                names.add(pod["metadata"]["name"])
                self.deployment.log(
                    f"pod/{pod['metadata']['name']}: {rollout.pod_summary(pod)}", "warning"
                )
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
