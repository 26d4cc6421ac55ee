"""End-to-end deployments per second: API-equivalent service call -> qcluster -> sandbox.

    DATABASE_URL=... .venv/bin/python bench/deploy_bench.py [--deployments 100] [--workers 2]

Starts the sandbox cluster with pods ready at once, registers it with 20 namespaces, starts a
qcluster with the given number of workers, asks for the deployments (hello-world, spread over
the namespaces) and waits until every one has finished.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PYTHON, ROOT, manage, sandbox_process, server_env  # noqa: E402

NAMESPACES = [f"bench-ns-{n}" for n in range(20)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    env = server_env()
    os.environ.update(env)
    folder = Path(tempfile.mkdtemp(prefix="deploy-bench-"))
    kubeconfig = folder / "kubeconfig"
    with sandbox_process(kubeconfig):
        worker = None
        try:
            namespace_args = [arg for name in NAMESPACES for arg in ("--namespace", name)]
            manage("register_cluster", "bench-sandbox", "--kubeconfig", str(kubeconfig),
                   *namespace_args, "--create-namespaces")  # fmt: skip
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubernaut.settings")
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            from django.contrib.auth import get_user_model

            from clusters.models import Cluster, Namespace
            from deployments import services
            from deployments.models import Deployment
            from releases.models import Release

            # A superuser holds every role (teams/access.py): the benchmark measures deploying.
            user, _ = get_user_model().objects.update_or_create(
                username="bench-deployer", defaults={"is_superuser": True}
            )
            release = Release.objects.filter(service__name="hello-world").first()
            if release is None:
                manage("ensure_admin")
                manage("seed_hello_world")
                release = Release.objects.get(service__name="hello-world")
            targets = list(
                Namespace.objects.filter(
                    cluster__name="bench-sandbox",
                    cluster__deleted_at__isnull=True,
                    name__in=NAMESPACES,
                )
            )
            worker = subprocess.Popen(
                [PYTHON, "manage.py", "qcluster"], cwd=ROOT,
                env={**env, "KUBERNAUT_WORKERS": str(args.workers)},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(3)  # let the cluster start its workers before the clock starts
            started = time.monotonic()
            ids = [
                services.create_deployment(
                    release=release, namespace=targets[n % len(targets)], attributes={}, user=user
                ).pk
                for n in range(args.deployments)
            ]
            while Deployment.objects.filter(pk__in=ids, status__in=["pending", "running"]).exists():
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            statuses = dict(
                Deployment.objects.filter(pk__in=ids)
                .values_list("status")
                .annotate(n=django.db.models.Count("id"))
            )
            print(f"{args.deployments} deployments with {args.workers} workers in {elapsed:.1f} s: "
                  f"{args.deployments / elapsed:.1f} deployments/s; {statuses}")  # fmt: skip
            # Out of the way of other benchmarks on this database (the overview's columns).
            Cluster.objects.get(name="bench-sandbox").soft_delete(by=user)
        finally:
            if worker:
                worker.terminate()
                worker.wait(timeout=60)


if __name__ == "__main__":
    main()
