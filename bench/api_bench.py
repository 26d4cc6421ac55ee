"""Latency and throughput of the API and the overview page against a seeded database.

    URL=$(.venv/bin/python dev/postgres.py start var/benchpg)
    DATABASE_URL=$URL .venv/bin/python manage.py migrate
    DATABASE_URL=$URL .venv/bin/python manage.py seed_bench   # 1M releases, 200k deployments
    DATABASE_URL=$URL .venv/bin/python bench/api_bench.py [--requests 400]

Prints a Markdown table (p50/p95/p99 latency, requests/s) at concurrency 1 and 8.

    DATABASE_URL=$URL .venv/bin/python bench/api_bench.py --compare-serving [--requests 2000]

serves the same database twice in one run, the old way (gunicorn's sync workers, which close the
connection after every response) and as `docker-entrypoint.sh web` serves it now (gthread with
keep-alive), and prints requests/s of both and their ratio. The client keeps one connection per
thread open wherever the server lets it, as a CI job's HTTP client does. With `--old-tree DIR`
the old configuration also serves the old code (`git archive 10b3cc6 | tar -x -C DIR`), so the
ratio is the whole change, not the serving alone.
"""

import argparse
import base64
import http.client
import itertools
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HEADER, ROOT, Gunicorn, Result, load, manage, session_cookie  # noqa: E402

ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105 (a throwaway benchmark database)


def get_json(port: int, path: str, token: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Authorization": f"Token {token}"})
    return json.loads(connection.getresponse().read())


WORKERS = "3"  # docker-entrypoint.sh's default WEB_CONCURRENCY, in both configurations

# The web role's command line before keep-alive (docker-entrypoint.sh at 10b3cc6).
OLD_SERVING = [
    str(ROOT / ".venv" / "bin" / "gunicorn"), "kubernaut.wsgi", "--bind", "127.0.0.1:{port}",
    "--workers", WORKERS, "--timeout", "60", "--graceful-timeout", "25",
    "--forwarded-allow-ips", "*", "--access-logfile", "-",
]  # fmt: skip
# What ships: the entrypoint itself, with its defaults.
NEW_SERVING = [str(ROOT / "docker-entrypoint.sh"), "web"]


def release_requests(port: int, token: str):
    """The compared requests: the first page, one release by id, and a POST."""
    auth = {"Authorization": f"Token {token}"}
    newest = get_json(port, "/api/releases?limit=1", token)["results"][0]["id"]
    third = base64.b64encode(f"p={newest // 3}".encode()).decode()
    ids = [
        r["id"] for r in get_json(port, f"/api/releases?limit=500&cursor={third}", token)["results"]
    ]
    template = Path("examples/hello-world/kubernetes.yaml").read_text()

    versions = itertools.count()  # a new version each time: the warm-up restarts the numbers

    def post(number: int):
        body = json.dumps({
            "service": "bench-post", "version": f"{os.getpid()}.{port}.{next(versions)}",
            "template": template, "attributes": {"image": "x:1", "replicas": "2"},
        }).encode()  # fmt: skip
        return "POST", "/api/releases", body, {**auth, "Content-Type": "application/json"}

    return [
        ("GET /api/releases (first page)", lambda n: ("GET", "/api/releases", None, auth), 200, 8),
        ("GET /api/releases/{id}",
         lambda n: ("GET", f"/api/releases/{ids[n % len(ids)]}", None, auth), 200, 8),
        ("POST /api/releases", post, 201, 4),
    ]  # fmt: skip


def compare_serving(token: str, requests: int, old_tree: str | None = None) -> None:
    """Both configurations on the same database in the same run, then the ratios. Each is measured
    twice, interleaved (old, new, old, new), and keeps its better figure, so that a burst of other
    work on the shared machine does not decide the comparison."""
    configurations = {
        "old: sync workers": {
            "command": OLD_SERVING + (["--chdir", old_tree] if old_tree else []),
        },
        "new: docker-entrypoint.sh web": {
            "command": NEW_SERVING,
            "env": {"KUBERNAUT_BIND": "127.0.0.1:{port}", "WEB_CONCURRENCY": WORKERS},
        },
    }
    best: dict[tuple[str, str], Result] = {}
    kinds: list[tuple[str, int]] = []
    print("| serving " + HEADER.replace("\n", "\n| --- "))
    for _round in range(2):
        for label, how in configurations.items():
            server = Gunicorn(**how)
            try:
                kinds.clear()
                for name, make, expect, concurrency in release_requests(server.port, token):
                    kinds.append((name, concurrency))
                    load(name, server.port, make, concurrency=concurrency, requests=40,
                         expect=expect)  # fmt: skip
                    result = load(name, server.port, make, concurrency=concurrency,
                                  requests=requests, expect=expect)  # fmt: skip
                    print(f"| {label} {result.line()}", flush=True)
                    if (label, name) not in best or _rate(result) > _rate(best[label, name]):
                        best[label, name] = result
            finally:
                server.stop()
    old, new = configurations
    print("\n| request | concurrency | old requests/s | new requests/s | ratio | "
          "old p99 ms | new p99 ms |\n| --- | --- | --- | --- | --- | --- | --- |")  # fmt: skip
    for name, concurrency in kinds:
        before, after = best[old, name], best[new, name]
        ratio = _rate(after) / _rate(before)
        print(f"| {name} | {concurrency} | {_rate(before):.0f} | {_rate(after):.0f} | "
              f"{ratio:.2f}x | {_p99(before):.1f} | {_p99(after):.1f} |")  # fmt: skip


def _p99(result: Result) -> float:
    ordered = sorted(result.latencies_ms)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _rate(result) -> float:
    return len(result.latencies_ms) / result.seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400, help="per request kind and level")
    parser.add_argument("--compare-serving", action="store_true",
                        help="old (sync) against new (entrypoint) serving, in one run")  # fmt: skip
    parser.add_argument(
        "--old-tree",
        metavar="DIR",
        help="with --compare-serving: the old configuration serves the code in DIR "
        "(from `git archive COMMIT`), so the ratio includes code changes",
    )
    args = parser.parse_args()

    os.environ["KUBERNAUT_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    manage("ensure_admin")
    token = manage("create_api_token", "admin", "--name", "bench").split()[-1]
    if args.compare_serving:
        compare_serving(token, args.requests, args.old_tree)
        return
    server = Gunicorn()
    try:
        port = server.port
        auth = {"Authorization": f"Token {token}"}
        newest = get_json(port, "/api/releases?limit=1", token)["results"][0]["id"]
        third = base64.b64encode(f"p={newest // 3}".encode()).decode()
        page = get_json(port, f"/api/releases?limit=500&cursor={third}", token)
        ids = [release["id"] for release in page["results"]]
        service = page["results"][0]["service"]  # a seeded service, with hundreds of releases
        deep = base64.b64encode(f"p={newest // 2}".encode()).decode()
        cookie = session_cookie(port, "admin", ADMIN_PASSWORD)
        template = Path("examples/hello-world/kubernetes.yaml").read_text()
        counter = [0]

        def post(number: int):
            counter[0] += 1
            body = json.dumps({
                "service": "bench-post", "version": f"{os.getpid()}.{counter[0]}",
                "template": template, "attributes": {"image": "x:1", "replicas": "2"},
            }).encode()  # fmt: skip
            return "POST", "/api/releases", body, {**auth, "Content-Type": "application/json"}

        kinds = [
            ("GET /api/releases (first page)", lambda n: ("GET", "/api/releases", None, auth), 200),
            ("GET /api/releases?service=... (filtered)",
             lambda n: ("GET", f"/api/releases?service={service}", None, auth), 200),
            ("GET /api/releases?cursor=... (deep page)",
             lambda n: ("GET", f"/api/releases?cursor={deep}", None, auth), 200),
            ("GET /api/releases/{id}",
             lambda n: ("GET", f"/api/releases/{ids[n % len(ids)]}", None, auth), 200),
            ("POST /api/releases", post, 201),
            ("GET /api/deployments (first page)",
             lambda n: ("GET", "/api/deployments", None, auth), 200),
            ("GET / (overview page)", lambda n: ("GET", "/", None, {"Cookie": cookie}), 200),
        ]  # fmt: skip
        print(HEADER)
        for name, make, expect in kinds:
            for concurrency in (1, 8):
                load(name, port, make, concurrency=concurrency, requests=20, expect=expect)  # warm
                result = load(
                    name, port, make, concurrency=concurrency, requests=args.requests,
                    expect=expect,
                )  # fmt: skip
                print(result.line(), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
