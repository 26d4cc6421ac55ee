"""Latency of the DORA metrics (GET /api/metrics/dora and the /metrics/ page) against a seeded
database, for a superuser and for a person with roles on a few namespaces.

    URL=$(.venv/bin/python dev/postgres.py start var/benchpg)
    DATABASE_URL=$URL .venv/bin/python manage.py migrate
    DATABASE_URL=$URL .venv/bin/python manage.py seed_bench   # 1M releases, 200k deployments
    DATABASE_URL=$URL .venv/bin/python bench/dora_bench.py [--requests 200]

Prints a Markdown table (p50/p95/p99 latency, requests/s) at concurrency 1 and 4, and each
line's median against GET /api/clusters (a cheap authenticated read) measured in the same run.
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HEADER, Gunicorn, load, manage, session_cookie  # noqa: E402

ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105 (a throwaway benchmark database)
VIEWER_PASSWORD = "bench-viewer-password"  # noqa: S105

# A person with `viewer` on two production namespaces and one other; prints a service deployed
# to bench-1 (production), the viewer's token and nothing else.
SETUP_VIEWER = """
from accounts.models import ApiToken
from clusters.models import Namespace
from django.contrib.auth.models import User
from releases.models import Service
from teams.models import Grant
user, _ = User.objects.get_or_create(username="bench-viewer")
user.set_password({password!r}); user.save()
for name in ("bench-1", "bench-2", "bench-7"):
    namespace = Namespace.objects.get(cluster__name="bench", name=name)
    Grant.objects.get_or_create(user=user, cluster=namespace.cluster, namespace=namespace,
                                defaults={{"role": "viewer"}})
service = Service.objects.filter(deployments__namespace__name="bench-1").order_by("-id")[0]
_, key = ApiToken.issue(user, name="dora-bench")
print(service.name, key)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200, help="per request kind and level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()

    os.environ["KUBERNAUT_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    manage("ensure_admin")
    admin_token = manage("create_api_token", "admin", "--name", "dora-bench")
    # the last line: `shell` may say first what it imported
    output = manage("shell", "-c", SETUP_VIEWER.format(password=VIEWER_PASSWORD))
    service, viewer_token = output.splitlines()[-1].split()
    server = Gunicorn()
    try:
        port = server.port
        admin = {"Authorization": f"Token {admin_token}"}
        viewer = {"Authorization": f"Token {viewer_token}"}
        admin_page = {"Cookie": session_cookie(port, "admin", ADMIN_PASSWORD)}
        viewer_page = {"Cookie": session_cookie(port, "bench-viewer", VIEWER_PASSWORD)}

        def get(path: str, headers: dict):
            return lambda n: ("GET", path, None, headers)

        kinds = [
            ("GET /api/clusters (baseline)", get("/api/clusters", admin)),
            *[(f"GET /api/metrics/dora?days={days} (superuser)",
               get(f"/api/metrics/dora?days={days}", admin)) for days in (7, 30, 90)],
            ("GET /api/metrics/dora?service=...&days=90 (superuser)",
             get(f"/api/metrics/dora?service={service}&days=90", admin)),
            ("GET /api/metrics/dora?days=90 (viewer of 3 namespaces)",
             get("/api/metrics/dora?days=90", viewer)),
            ("GET /api/metrics/dora?service=...&days=30 (viewer)",
             get(f"/api/metrics/dora?service={service}&days=30", viewer)),
            ("GET /metrics/?days=90 (superuser)", get("/metrics/?days=90", admin_page)),
            ("GET /metrics/?days=30 (superuser)", get("/metrics/?days=30", admin_page)),
            ("GET /metrics/?days=90 (viewer)", get("/metrics/?days=90", viewer_page)),
            ("GET /metrics/?service=...&days=90 (viewer)",
             get(f"/metrics/?service={service}&days=90", viewer_page)),
        ]  # fmt: skip
        header, rule = HEADER.splitlines()
        print(f"{header} p50 / baseline p50 |\n{rule} --- |")
        baselines: dict[int, float] = {}
        for name, make in kinds:
            for concurrency in args.concurrency:
                load(name, port, make, concurrency=concurrency, requests=10)  # warm up
                result = load(name, port, make, concurrency=concurrency, requests=args.requests)
                median = statistics.median(result.latencies_ms)
                baselines.setdefault(concurrency, median)
                ratio = median / baselines[concurrency]
                print(f"{result.line()} {ratio:.1f}x |", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
