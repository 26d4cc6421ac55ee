"""Does a hostile CI job slow everyone else down? Reads of the API while templates attack.

    .venv/bin/python bench/template_attack_bench.py [--seconds 10] [--attackers 3]

Starts its own PostgreSQL and gunicorn as in production (4 workers x 2 threads), then measures
GET /api/releases from one client twice in the same run: alone (the baseline), and while
`--attackers` threads keep POSTing releases whose templates try to burn CPU and memory (the
payloads of tests/test_template_safety.py, each refused with a 400 in about a second). Prints the
latency of the reads in both phases and their ratio, how the attacks were answered, and whether
gunicorn lost a worker.
"""

import argparse
import collections
import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import Gunicorn, manage, throwaway_kubernaut  # noqa: E402

ATTACKS = [
    "{{ lipsum(10**5) }}",
    "{{ 'x'|center(10**9) }}",
    "{{ ((range(100000)|list)*100)|sort }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ 'a'*10**9 }}",
    "{{ (1,)*10**8 }}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "{% for a in range(100000) %}{{ (range(100000)|list)|sort|length }}{% endfor %}",
]


def request(connection, method, path, token, body=None) -> tuple[int, float]:
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def read_latencies(port: int, token: str, seconds: float) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, ms = request(connection, "GET", "/api/releases?limit=20", token)
        assert status == 200, status
        latencies.append(ms)
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"{len(ordered)} reads, p50 {statistics.median(ordered):.1f} ms, "
            f"p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--attackers", type=int, default=3)
    args = parser.parse_args()

    with throwaway_kubernaut("attack", durable=False) as server:
        gunicorn, token = server.gunicorn, server.token
        workers_before = gunicorn_workers(gunicorn)

        baseline = read_latencies(gunicorn.port, token, args.seconds)

        answers: collections.Counter = collections.Counter()
        attack_ms: list[float] = []
        stop = threading.Event()
        lock = threading.Lock()

        def attacker(number: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", gunicorn.port, timeout=60)
            attempt = 0
            while not stop.is_set():
                template = ATTACKS[(number + attempt) % len(ATTACKS)]
                body = json.dumps({"service": "attack", "version": f"{number}.{attempt}",
                                   "template": template}).encode()  # fmt: skip
                status, ms = request(connection, "POST", "/api/releases", token, body)
                with lock:
                    answers[status] += 1
                    attack_ms.append(ms)
                attempt += 1

        threads = [threading.Thread(target=attacker, args=(n,)) for n in range(args.attackers)]
        for thread in threads:
            thread.start()
        under_attack = read_latencies(gunicorn.port, token, args.seconds)
        stop.set()
        for thread in threads:
            thread.join()

        ratio = statistics.median(under_attack) / statistics.median(baseline)
        print(f"alone:        {summary(baseline)}")
        print(f"under attack: {summary(under_attack)}")
        print(f"median read latency under attack / alone: {ratio:.2f}x")
        print(f"attacks from {args.attackers} threads: {dict(answers)}; slowest answer "
              f"{max(attack_ms):.0f} ms, median {statistics.median(attack_ms):.0f} ms")  # fmt: skip
        print(f"gunicorn workers before {workers_before}, after {gunicorn_workers(gunicorn)}; "
              f"stored attack releases: {stored_attacks()}")  # fmt: skip


def gunicorn_workers(gunicorn: Gunicorn) -> list[int]:
    """The worker PIDs: a worker killed for its memory or time would be replaced by a new PID."""
    children = Path(f"/proc/{gunicorn.process.pid}/task/{gunicorn.process.pid}/children")
    return sorted(int(pid) for pid in children.read_text().split())


def stored_attacks() -> str:
    return manage(
        "shell", "--no-imports", "-c",
        "from releases.models import Release; "
        "print(Release.all_objects.filter(service__name='attack').count())",
    ).splitlines()[-1]  # fmt: skip


if __name__ == "__main__":
    main()
