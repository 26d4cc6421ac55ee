"""Faults during rollouts, measured: workers killed with -9, the cluster going away.

    .venv/bin/python bench/fault_bench.py [--kills 20] [--batch 4] [--skip-unreachable]
                                          [--whole-qcluster]

Starts its own PostgreSQL (a throwaway one in var/), a sandbox cluster (in this process) and two
qclusters of two workers each with the default settings (heartbeat every 2 s, stale after 20 s,
the check every minute, django-q's retry 2000 s). Then:

1. `kill -9` of workers mid-rollout: in batches, deployments whose pods never get ready (so the
   rollout is still being followed) go to fresh namespaces; once each is followed, the worker
   process running it (its pid is in the deployment's `worker`) is killed with SIGKILL, and
   django-q starts a new worker in its place. With --whole-qcluster, the worker's whole qcluster
   is killed instead, as when its machine dies, and a new qcluster is started. It measures how
   long until a live worker resumes each one (its "Resuming on worker" log line) or it ends;
   then cancels it and measures how long the cancel took. Stuck: not resumed or ended within
   2 minutes; lost: neither after 5.
2. The cluster unreachable mid-rollout: a second sandbox is stopped while a deployment to it is
   followed; it prints how long until the deployment failed, and its reason.
"""

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "dev"))
sys.path.insert(0, str(ROOT / "bench"))
import postgres  # noqa: E402  (dev/postgres.py)
from common import PYTHON, manage, server_env  # noqa: E402

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ service }}
spec:
  replicas: 2
  selector:
    matchLabels: {app: "{{ service }}"}
  template:
    metadata:
      labels: {app: "{{ service }}"}
    spec:
      containers:
        - name: app
          image: registry.example/hello:1
          env: [{name: SANDBOX_NEVER_READY, value: "1"}]
"""
PICKED_UP_WITHIN = 120
GIVE_UP_AFTER = 300


def start_qcluster(number: int) -> subprocess.Popen:
    log = open(ROOT / "var" / f"fault-qcluster-{number}.log", "w")  # noqa: SIM115 (kept open)
    return subprocess.Popen(
        [PYTHON, "manage.py", "qcluster"], cwd=ROOT, env=server_env(),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)  # it waits for running tasks: rollouts that never end
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_for(condition, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    return None


def percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    return (
        f"min {ordered[0]:.1f} s, median {statistics.median(ordered):.1f} s, "
        f"max {ordered[-1]:.1f} s"
    )


def namespace_in(cluster, name: str):
    from clusters.kube import ClusterClient
    from clusters.models import Namespace

    client = ClusterClient.for_cluster(cluster)
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    client.close()
    return Namespace.objects.create(cluster=cluster, name=name)


def kill_workers(args, cluster, release, admin, qclusters: list[subprocess.Popen]) -> None:
    from deployments import services
    from deployments.models import Deployment, LogEntry

    picked_up, cancel_took = [], []
    stuck = lost = ended_instead = 0
    number = killed = 0
    while killed < args.kills:
        batch = []
        for _ in range(min(args.batch, args.kills - killed)):
            number += 1
            target = namespace_in(cluster, f"kill{number}")
            batch.append(
                services.create_deployment(
                    release=release,
                    namespace=target,
                    attributes={},
                    user=admin,
                    timeout_seconds=900,
                )  # fmt: skip
            )
        followed = [
            wait_for(
                lambda d=d: Deployment.objects.filter(pk=d.pk).exclude(workloads=[]).first(), 120
            )
            for d in batch
        ]
        if not all(followed):
            sys.exit(
                "a deployment was never started within 120 s: see var/fault-qcluster-*.log; "
                + str(list(Deployment.objects.values_list("id", "status", "worker", "workloads")))
                + str([(e.deployment_id, e.message) for e in LogEntry.objects.order_by("id")])
            )
        killed_at = {}
        dead = None
        if args.whole_qcluster:
            # As when a machine dies: one qcluster with all its workers. The other qcluster
            # must resume its deployments (a new one on this machine would see the dead pids at
            # once); the replacement starts after.
            groups = {d.pk: os.getpgid(int(d.worker.rsplit(":", 1)[1])) for d in followed}
            dead = next(q for q in qclusters if q.pid == groups[followed[0].pk])
            os.killpg(dead.pid, signal.SIGKILL)
            dead.wait()
            victims = [d for d in followed if groups[d.pk] == dead.pid]
            killed_at = {d.pk: time.time() for d in victims}
        else:
            victims = followed
            for deployment in followed:
                # Two deployments on one worker (one after the other): the second finds none.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(deployment.worker.rsplit(":", 1)[1]), signal.SIGKILL)
                killed_at[deployment.pk] = time.time()
        killed += len(victims)
        print(f"killed the workers of #{', #'.join(str(d.pk) for d in victims)}", flush=True)
        for deployment in victims:

            def resumed(pk=deployment.pk):
                entry = LogEntry.objects.filter(
                    deployment_id=pk, message__startswith="Resuming on worker"
                ).first()
                row = Deployment.objects.get(pk=pk)
                return entry or (row if row.is_finished else None)

            found = wait_for(resumed, GIVE_UP_AFTER - (time.time() - killed_at[deployment.pk]))
            if found is None:
                lost += 1
                continue
            if isinstance(found, Deployment):
                ended_instead += 1
                continue
            seconds = found.time.timestamp() - killed_at[deployment.pk]
            picked_up.append(seconds)
            stuck += seconds > PICKED_UP_WITHIN
        for deployment in followed:
            deployment.refresh_from_db()
            if deployment.is_finished:
                continue
            asked = time.monotonic()
            deployment.cancel(by=admin)
            if wait_for(lambda d=deployment: Deployment.objects.get(pk=d.pk).is_finished, 60):
                cancel_took.append(time.monotonic() - asked)
        if dead is not None:
            # Started only now, and ready before the next kill: as its workers start they queue
            # again the deployments of dead workers on this machine, which would hide the
            # heartbeat path this mode measures.
            replacement = len(qclusters) + number
            qclusters[qclusters.index(dead)] = start_qcluster(replacement)
            log = ROOT / "var" / f"fault-qcluster-{replacement}.log"
            wait_for(lambda log=log: log.read_text().count("ready for work") >= 2, 60)
        print(
            f"  resumed after: {', '.join(f'{s:.1f} s' for s in picked_up[-len(victims) :])}",
            flush=True,
        )

    what = "the whole qcluster (all its workers)" if args.whole_qcluster else "the worker"
    print(f"\n## kill -9 of {what} mid-rollout: {killed} deployments' workers killed")
    print(f"resumed by a live worker: {len(picked_up)}; ended instead: {ended_instead}")
    print(f"stuck (not picked up within {PICKED_UP_WITHIN} s): {stuck}; lost: {lost}")
    print(f"time from the kill to the resume: {percentiles(picked_up)}")
    print(f"cancel of the resumed rollout, ask to cancelled: {percentiles(cancel_took)}")


def unreachable_cluster(release, admin) -> None:
    from clusters.models import Cluster
    from deployments import services
    from deployments.models import Deployment
    from sandbox.testing import running_sandbox

    with running_sandbox(ready_delay=0.1) as edge:
        cluster = Cluster(name="edge", timeout_seconds=900)
        cluster.set_kubeconfig(edge.kubeconfig.read_text())
        cluster.save()
        deployment = services.create_deployment(
            release=release, namespace=namespace_in(cluster, "far"), attributes={}, user=admin
        )
        if not wait_for(
            lambda: Deployment.objects.filter(pk=deployment.pk).exclude(workloads=[]).first(), 120
        ):
            sys.exit("the deployment to the edge cluster never started")
    gone = time.monotonic()  # leaving the block stopped the sandbox
    ended = wait_for(
        lambda: (
            Deployment.objects.filter(pk=deployment.pk).first()
            if Deployment.objects.get(pk=deployment.pk).is_finished
            else None
        ),
        300,
    )
    print("\n## the cluster unreachable mid-rollout")
    if ended is None:
        print("the deployment did not end within 300 s")
        return
    print(f"ended {ended.status} {time.monotonic() - gone:.1f} s after the cluster went away")
    print(f"reason: {ended.reason}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--batch", type=int, default=4, help="rollouts killed at once")
    parser.add_argument("--skip-unreachable", action="store_true")
    parser.add_argument(
        "--whole-qcluster", action="store_true",
        help="kill the worker's whole qcluster, as when its machine dies, and start another",
    )  # fmt: skip
    args = parser.parse_args()

    (ROOT / "var").mkdir(exist_ok=True)
    server_dir = Path(tempfile.mkdtemp(prefix="fault-postgres-", dir=ROOT / "var"))
    workers: list[subprocess.Popen] = []
    try:
        os.environ["DATABASE_URL"] = postgres.start(server_dir, fast=True)
        os.environ.update(server_env())
        manage("migrate", "--no-input", "-v", "0")
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubernaut.settings")
        django.setup()
        from django.contrib.auth.models import User

        from clusters.models import Cluster
        from releases import services as releases
        from sandbox.testing import running_sandbox

        admin = User.objects.create_superuser("fault-bench", password="x")  # noqa: S106
        release = releases.create_release(
            service="hello", version="1", template=TEMPLATE, attributes={}, comment="",
            user=admin,
        )  # fmt: skip
        with running_sandbox(ready_delay=0.1) as sandbox:
            cluster = Cluster(name="sandbox", timeout_seconds=900)
            cluster.set_kubeconfig(sandbox.kubeconfig.read_text())
            cluster.save()
            workers = [start_qcluster(1), start_qcluster(2)]
            kill_workers(args, cluster, release, admin, workers)
            if not args.skip_unreachable:
                unreachable_cluster(release, admin)
    finally:
        for worker in workers:
            stop(worker)
        postgres.stop(server_dir)
        shutil.rmtree(postgres.reachable_dir(server_dir), ignore_errors=True)
        shutil.rmtree(server_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
