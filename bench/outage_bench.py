"""PostgreSQL restarted under concurrent release POSTs: is any acknowledged release lost?

    .venv/bin/python bench/outage_bench.py [--seconds 30] [--concurrency 8] [--restart-at 10]

Starts its own PostgreSQL (a throwaway one in var/, durable settings: fsync on) and gunicorn as in
production, POSTs releases from several threads for the given time, restarts PostgreSQL (`pg_ctl
restart -m fast`, which drops every connection) part-way through, then counts. It prints how many
requests got each status, whether every error had a JSON body with a sentence, and how many
releases were acknowledged (201) and how many of those are in the database afterwards.
"""

import argparse
import collections
import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import manage, postgres, throwaway_kubernaut  # noqa: E402

TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ service }}\n"


def restart_postgres(server_dir: Path) -> float:
    """Restart with the same options (and port); returns how long it took."""
    data_dir = postgres.reachable_dir(server_dir) / "data"
    pg_ctl = postgres.find_binaries() / "pg_ctl"
    started = time.monotonic()
    subprocess.run(
        postgres.as_server_user([pg_ctl, "-D", data_dir, "-m", "fast", "-w", "restart"]),
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--restart-at", type=float, default=10)
    args = parser.parse_args()

    with throwaway_kubernaut("outage", durable=True) as server:
        gunicorn, token = server.gunicorn, server.token

        statuses: collections.Counter = collections.Counter()
        not_json: list[str] = []
        acknowledged: list[str] = []
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds
        numbers = iter(range(10**9))

        def worker() -> None:
            connection = None
            while time.monotonic() < deadline:
                with lock:
                    version = f"1.0.{next(numbers)}"
                body = json.dumps(
                    {"service": "outage", "version": version, "template": TEMPLATE}
                ).encode()
                try:
                    connection = connection or http.client.HTTPConnection(
                        "127.0.0.1", gunicorn.port, timeout=30
                    )
                    connection.request(
                        "POST", "/api/releases", body=body,
                        headers={"Authorization": f"Token {token}",
                                 "Content-Type": "application/json"},
                    )  # fmt: skip
                    response = connection.getresponse()
                    text = response.read().decode(errors="replace")
                except OSError as error:
                    connection = None
                    with lock:
                        statuses[f"connection error ({type(error).__name__})"] += 1
                    continue
                with lock:
                    statuses[response.status] += 1
                    if response.status == 201:
                        acknowledged.append(version)
                    elif not text.startswith("{") or "detail" not in json.loads(text):
                        not_json.append(f"{response.status}: {text[:120]}")

        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for thread in threads:
            thread.start()
        time.sleep(args.restart_at)  # the load runs meanwhile; this is the experiment's schedule
        restart_seconds = restart_postgres(server.server_dir)
        for thread in threads:
            thread.join()

        stored = set(
            manage(
                "shell", "--no-imports", "-c",
                "from releases.models import Release; "
                "print('\\n'.join(Release.all_objects.filter(service__name='outage')"
                ".values_list('version', flat=True)))",
            ).split()
        )  # fmt: skip
        lost = [version for version in acknowledged if version not in stored]
        print(f"PostgreSQL restart took {restart_seconds:.2f} s, {args.restart_at:.0f} s into "
              f"{args.seconds:.0f} s of POSTs from {args.concurrency} threads")  # fmt: skip
        print("| status | requests |\n| --- | --- |")
        for status, count in sorted(statuses.items(), key=lambda item: str(item[0])):
            print(f"| {status} | {count} |")
        print(f"errors without a JSON sentence: {len(not_json)} {not_json[:3]}")
        print(f"acknowledged releases: {len(acknowledged)}; in the database afterwards: "
              f"{len(acknowledged) - len(lost)}; lost: {len(lost)}")  # fmt: skip
        print(f"rows stored but not acknowledged (the client saw an error): "
              f"{len(stored - set(acknowledged))}")  # fmt: skip


if __name__ == "__main__":
    main()
