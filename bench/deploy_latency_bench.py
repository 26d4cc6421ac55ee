"""From the click on Deploy to "Succeeded": one deployment at a time, end to end.

    .venv/bin/python bench/deploy_latency_bench.py [--deployments 24] [--old-tree DIR] [--verbose]

Starts a PostgreSQL of its own, gunicorn (common.Gunicorn), the sandbox cluster with pods ready
at once and a real `manage.py qcluster`. Every deployment is hello-world with an image of its
own, so each rolls out new pods. Half are asked for with POST /api/deployments and followed as a
client does: GET /api/deployments/{id} every `--client-poll` seconds (the CLI's 0.25 s for a
deployment's first 10 s, kubernaut_cli/follow.py) until the status is final. The other half are
asked for with the Deploy button (the form's POST, which answers with a redirect) and followed as
the deployment page does (a model of static/deployment.js, old or new: the page, then each tick
the log and the progress part), until the progress part says the deployment has finished.

The breakdown comes from the deployment's row, django-q's record of its task and its log:
click -> row created (the request), created -> queued (the rest of the request's transaction,
then the enqueue on commit), queued -> started (the broker's poll, the hand-over to a worker, its
claim), started -> applied (the last "created/configured/unchanged" line), applied -> finished
(the rollout seen done), finished -> seen by the client or the page (their polls).

With `--old-tree DIR` (`git archive BASE | tar -x -C DIR`), the qcluster of the old code and the
old page's schedule take turns with the new ones on the same database and sandbox, in rounds,
so a burst of other work on the machine hits both alike; the ratio is printed. Without it, only
this tree is measured. The API and pages are served by this tree's code for both (the change
leaves them alone). For each configuration it also counts the queries per second and the CPU of
an idle qcluster, and reports the first deployment after each start of the qcluster apart.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PYTHON,
    ROOT,
    manage,
    sandbox_process,
    server_env,
    session_cookie,
    throwaway_kubernaut,
)

NAMESPACE = "latency"
CLUSTER = "latency-sandbox"
FINAL = {"succeeded", "failed", "timed_out", "cancelled", "rejected", "expired"}
APPLIED_LINE = re.compile(r" (created|configured|unchanged)$")


@dataclass(frozen=True)
class Page:
    """How the deployment page follows a deployment (a model of static/deployment.js)."""

    interval: float  # seconds between the end of one tick and the next
    young_interval: float  # the same while the page is younger than `young_for`, and the first
    young_for: float
    progress_every: float  # the progress part: every tick (0), or when the log moved, the
    # deployment finished, or this many seconds passed since the last


# The page as it was: 700 ms before the first tick, then the log and the progress every 700 ms.
OLD_PAGE = Page(interval=0.7, young_interval=0.7, young_for=0, progress_every=0)
# The page now: keep these in step with the constants of static/deployment.js.
NEW_PAGE = Page(interval=0.7, young_interval=0.25, young_for=10, progress_every=5)


@dataclass
class Sample:
    via: str  # "api": POST /api/deployments, followed by a client; "form": the Deploy button
    click: float
    answered: float = 0  # the POST's answer (for the form: its redirect)
    loaded: float = 0  # the form: the deployment page has loaded after the redirect
    seen: float = 0  # the client, or the page, shows the final status
    requests: int = 0  # GETs the client, or the page, made until then
    created: float = 0
    queued: float = 0
    started: float = 0
    applied: float = 0
    finished: float = 0
    status: str = ""
    log: list[str] = field(default_factory=list)

    def parts(self) -> dict[str, float]:
        who = "client" if self.via == "api" else "page"
        parts = {
            f"total: click -> {who} shows it": self.seen - self.click,
            "POST answered" + (" (preview, queue, redirect)" if self.via == "form" else ""):
                self.answered - self.click,
        }  # fmt: skip
        if self.via == "form":
            parts["page loaded after the redirect"] = self.loaded - self.answered
        return {
            **parts,
            "click -> row created": self.created - self.click,
            "created -> queued (commit, enqueue)": self.queued - self.created,
            "queued -> worker started": self.started - self.queued,
            "started -> applied": self.applied - self.started,
            "applied -> rollout seen done": self.finished - self.applied,
            f"done -> {who} shows it (poll lag)": self.seen - self.finished,
            "worker's own work (started -> done)": self.finished - self.started,
        }


@dataclass
class Configuration:
    name: str
    tree: Path
    page: Page
    env: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    first: list[Sample] = field(default_factory=list)  # the first after the qcluster started
    idle: list[tuple[float, float]] = field(default_factory=list)  # queries/s, CPU %


class Connection:
    def __init__(self, port: int, headers: dict[str, str]):
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = headers

    def request(
        self, method: str, path: str, body: dict | str | None = None, headers: dict | None = None
    ) -> http.client.HTTPResponse:
        headers = {**self.headers, **(headers or {})}
        if isinstance(body, dict):
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.http.request(method, path, body=body, headers=headers)
        response = self.http.getresponse()
        response.body = response.read()
        return response


def follow_as_page(connection: Connection, pk: int, page: Page, sample: Sample) -> None:
    """What a browser on the deployment page does once it has loaded (static/deployment.js)."""
    response = connection.request("GET", f"/deployments/{pk}/")
    sample.loaded = progress_at = time.time()
    after = max([0, *map(int, re.findall(r'data-after="(\d+)"', response.body.decode()))])
    requests = 1
    while True:
        young = time.time() - sample.loaded < page.young_for
        time.sleep(page.young_interval if young else page.interval)
        answer = json.loads(
            connection.request("GET", f"/api/deployments/{pk}/log?after={after}").body
        )
        requests += 1
        if answer["log"]:
            after = answer["log"][-1]["id"]
        if (
            not page.progress_every
            or answer["log"]
            or answer["finished"]
            or time.time() - progress_at >= page.progress_every
        ):
            progress_at = time.time()
            body = connection.request("GET", f"/deployments/{pk}/progress").body
            requests += 1
            if b'data-finished="true"' in body:
                sample.seen, sample.requests = time.time(), requests
                return


def deploy_through_api(port: int, token: str, number: int) -> Sample:
    """A client (a CI job, the CLI): POST, then GET every CLIENT_POLL seconds until final."""
    client = Connection(port, {"Authorization": f"Bearer {token}"})
    sample = Sample("api", click=time.time())
    response = client.request("POST", "/api/deployments", {
        "service": "hello-world", "version": "1.0.0", "cluster": CLUSTER, "namespace": NAMESPACE,
        "attributes": {"image": f"hello-world:2.0.{number}"},
    })  # fmt: skip
    sample.answered = time.time()
    if response.status != 202:
        sys.exit(f"POST /api/deployments answered {response.status}: {response.body[:300]!r}")
    pk = json.loads(response.body)["id"]
    while True:
        status = json.loads(client.request("GET", f"/api/deployments/{pk}").body)["status"]
        sample.requests += 1
        if status in FINAL:
            sample.seen = time.time()
            break
        time.sleep(CLIENT_POLL)
    read_rows(pk, sample)
    return sample


def deploy_through_page(port: int, cookie: str, number: int, page: Page) -> Sample:
    """A person: the deploy page is open, they click Deploy and watch the deployment's page."""
    browser = Connection(port, {"Cookie": cookie})
    form_page = browser.request("GET", f"/releases/{RELEASE_ID}/deploy")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", form_page.getheader("Set-Cookie") or "")
    csrf_field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_page.body.decode())
    browser.headers["Cookie"] = f"{cookie}; csrftoken={csrf_cookie.group(1)}"
    sample = Sample("form", click=time.time())
    response = browser.request(
        "POST", f"/releases/{RELEASE_ID}/deploy",
        urllib.parse.urlencode({
            "csrfmiddlewaretoken": csrf_field.group(1), "namespace": NAMESPACE_ID,
            "attributes": f"image=hello-world:2.0.{number}", "action": "deploy",
        }),
        {"Content-Type": "application/x-www-form-urlencoded",
         "Referer": f"http://127.0.0.1:{port}/"},
    )  # fmt: skip
    sample.answered = time.time()
    location = response.getheader("Location") or ""
    found = re.search(r"/deployments/(\d+)/", location)
    if response.status != 302 or not found:
        sys.exit(f"The Deploy button answered {response.status}: {response.body[-500:]!r}")
    pk = int(found.group(1))
    follow_as_page(browser, pk, page, sample)
    read_rows(pk, sample)
    return sample


def read_rows(pk: int, sample: Sample) -> None:
    from django_q.models import Task

    from deployments.models import Deployment

    # The queue's row is gone once a worker took it; the task's record keeps when it was queued
    # (written by the qcluster's monitor just after the task returns).
    deadline = time.monotonic() + 10
    while True:
        task = Task.objects.filter(name=f"deployment-{pk}").order_by("started").first()
        if task or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    deployment = Deployment.objects.get(pk=pk)
    sample.status = deployment.status
    sample.created = deployment.created_at.timestamp()
    sample.started = deployment.started_at.timestamp()
    sample.queued = task.started.timestamp() if task else sample.created
    sample.finished = deployment.finished_at.timestamp()
    applied = [
        entry.time.timestamp()
        for entry in deployment.log_entries.all()
        if APPLIED_LINE.search(entry.message)
    ]
    sample.applied = max(applied) if applied else sample.started
    sample.log = [
        f"{(entry.time.timestamp() - sample.click) * 1000:6.0f} ms  {entry.message[:110]}"
        for entry in deployment.log_entries.all()
    ]


def idle_load(seconds: float, qcluster_pid: int) -> tuple[float, float]:
    """Queries per second PostgreSQL counted while nothing but the qcluster ran (each of its
    queries runs in autocommit: one transaction each), and the CPU share of the qcluster's
    processes. Statistics reach pg_stat_database within a second of a transaction, so the
    window is long and starts after a pause."""
    from django.db import connection

    def transactions() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    time.sleep(2)
    before, cpu_before = transactions(), cpu_seconds(qcluster_pid)
    time.sleep(seconds)
    after, cpu_after = transactions(), cpu_seconds(qcluster_pid)
    # Less this process's own reads (three transactions: two SELECTs and the clear).
    return (after - before - 3) / seconds, (cpu_after - cpu_before) / seconds * 100


def cpu_seconds(root: int) -> float:
    """User and system CPU seconds of a process and all its descendants, from /proc."""
    parents, times = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = int(fields[11]) + int(fields[12])
    family, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    return sum(times.get(pid, 0) for pid in family) / os.sysconf("SC_CLK_TCK")


def start_qcluster(config: Configuration, log: Path) -> subprocess.Popen:
    """The configuration's qcluster, once it says it is running (its workers are spawned)."""
    started = log.read_text().count(" running.") if log.exists() else 0
    worker = subprocess.Popen(
        [PYTHON, "manage.py", "qcluster"], cwd=config.tree,
        env={**server_env(), "PYTHONPATH": str(config.tree), **config.env},
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while log.read_text().count(" running.") == started:
        if worker.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"The qcluster did not start; see {log}.")
        time.sleep(0.05)
    return worker


def run_round(port: int, token: str, cookie: str, config: Configuration, count: int, first: int,
              log: Path, idle_seconds: float) -> None:  # fmt: skip
    """Start the configuration's qcluster, then `count` deployments one at a time, through the
    API and the Deploy button in turn."""
    worker = start_qcluster(config, log)
    try:
        # The first deployment after the qcluster starts pays for its imports and connections:
        # reported apart, so that the figures above are those of a qcluster that has been up.
        config.first.append(deploy_through_api(port, token, first))
        if idle_seconds:
            config.idle.append(idle_load(idle_seconds, worker.pid))
        for number in range(first + 1, first + 1 + count):
            if number % 2:
                sample = deploy_through_api(port, token, number)
            else:
                sample = deploy_through_page(port, cookie, number, config.page)
            if sample.status != "succeeded":
                sys.exit(f"A deployment ended {sample.status}; see {log}.")
            config.samples.append(sample)
    finally:
        worker.terminate()  # the cluster's own process stops its pusher, workers and monitor
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)
            worker.wait()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def table(configs: list[Configuration], via: str) -> str:
    samples = {c.name: [s for s in c.samples if s.via == via] for c in configs}
    names = list(samples[configs[0].name][0].parts())
    head = "| step (ms) | " + " | ".join(
        f"{c.name} p50 | {c.name} p90 | {c.name} max" for c in configs
    )
    if len(configs) == 2:
        head += " | p50 old/new"
    lines = [head + " |", "| --- " * head.count("|") + "|"]
    for name in names:
        cells, medians = [], []
        for config in configs:
            values = [s.parts()[name] * 1000 for s in samples[config.name]]
            medians.append(statistics.median(values))
            cells += [f"{medians[-1]:.0f}", f"{percentile(values, 0.9):.0f}", f"{max(values):.0f}"]
        if len(configs) == 2:
            cells.append(f"{medians[0] / medians[1]:.2f}x" if medians[1] > 0 else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def loads(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{average:.2f}" for average in averages)


def main() -> None:
    global CLIENT_POLL, RELEASE_ID, NAMESPACE_ID
    parser = argparse.ArgumentParser()
    parser.add_argument("--deployments", type=int, default=24,
                        help="per configuration: half by API, half by page")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=4, help="turns each configuration takes")
    parser.add_argument("--client-poll", type=float, default=0.25,
                        help="the CLI's poll in a deployment's first 10 s")  # fmt: skip
    parser.add_argument("--idle-seconds", type=float, default=15,
                        help="how long to count an idle qcluster's queries (0: not)")  # fmt: skip
    parser.add_argument("--old-tree", help="the code before the change, to compare in one run")
    parser.add_argument("--old-env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of the old configuration's qcluster")  # fmt: skip
    parser.add_argument("--new-env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of the new configuration's qcluster")  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="print a median deployment's log")
    args = parser.parse_args()
    CLIENT_POLL = args.client_poll

    def env_of(pairs: list[str]) -> dict[str, str]:
        return dict(pair.split("=", 1) for pair in pairs)

    configs = [Configuration("new", ROOT, NEW_PAGE, env_of(args.new_env))]
    if args.old_tree:
        old = Configuration("old", Path(args.old_tree).resolve(), OLD_PAGE, env_of(args.old_env))
        configs.insert(0, old)
    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="deploy-latency-"))
    with throwaway_kubernaut("latency", durable=False) as kubernaut:
        kubeconfig = folder / "kubeconfig"
        with sandbox_process(kubeconfig):
            manage("register_cluster", CLUSTER, "--kubeconfig", str(kubeconfig),
                   "--namespace", NAMESPACE, "--create-namespaces")  # fmt: skip
            manage("seed_hello_world")
            os.environ.update(server_env())
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubernaut.settings")
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            from clusters.models import Namespace
            from releases.models import Release

            RELEASE_ID = Release.objects.get(service__name="hello-world").pk
            NAMESPACE_ID = Namespace.objects.get(cluster__name=CLUSTER, name=NAMESPACE).pk
            port = kubernaut.gunicorn.port
            cookie = session_cookie(port, "admin", os.environ["KUBERNAUT_ADMIN_PASSWORD"])
            per_round = max(2, args.deployments // args.rounds)
            number = 0
            for round_number in range(args.rounds):
                for config in configs:
                    run_round(port, kubernaut.token, cookie, config, per_round, number,
                              folder / f"qcluster-{config.name}.log",
                              args.idle_seconds if round_number == 0 else 0)  # fmt: skip
                    number += per_round + 1
                    print(f"round {round_number + 1}: {config.name} done", flush=True)
    load_after = os.getloadavg()
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average (1, 5, 15 min) "
          f"before {loads(load_before)}, after {loads(load_after)}; "
          f"{len(configs[0].samples)} deployments per configuration, one at a time, "
          f"in {args.rounds} rounds.\n")  # fmt: skip
    print(f"Through the API (a client polling every {args.client_poll} s, as the CLI does):\n")
    print(table(configs, "api"))
    print("\nThrough the Deploy button (the deployment page following it):\n")
    print(table(configs, "form"))
    print()
    for config in configs:
        api = statistics.median(s.requests for s in config.samples if s.via == "api")
        page = statistics.median(s.requests for s in config.samples if s.via == "form")
        idle = ", ".join(f"{q:.1f} queries/s and {c:.1f}% of a core" for q, c in config.idle)
        idle = idle or "not measured"
        firsts = sorted(s.parts()["total: click -> client shows it"] * 1000 for s in config.first)
        print(f"- {config.name}: the first deployment after the qcluster started: "
              f"{', '.join(f'{first:.0f}' for first in firsts)} ms")  # fmt: skip
        print(f"- {config.name}: page {config.page}; median GETs per deployment: client "
              f"{api:.0f}, page {page:.0f}; an idle qcluster: {idle}")  # fmt: skip
    if args.verbose:
        for config in configs:
            ordered = sorted(config.samples, key=lambda s: s.seen - s.click)
            median = ordered[len(ordered) // 2]
            print(
                f"\nThe median deployment of {config.name} ({median.via}), its log from the click:"
            )
            print("\n".join(median.log))
            print(f"{(median.finished - median.click) * 1000:6.0f} ms  finished_at")
            first = config.first[-1]
            print(f"\nThe first deployment after the last start of {config.name}'s qcluster:")
            print("\n".join(first.log))
            print(f"{(first.finished - first.click) * 1000:6.0f} ms  finished_at")
    shutil.rmtree(folder, ignore_errors=True)


CLIENT_POLL = 0.25
RELEASE_ID = NAMESPACE_ID = 0

if __name__ == "__main__":
    main()
