"""What the benchmarks share: a production-like server, an HTTP load loop, percentiles.

The server is gunicorn with DEBUG off on loopback, against the database in DATABASE_URL (fill it
with `manage.py seed_bench` first). The load comes from threads of this process, each with its own
keep-alive connection, so client and server share the machine's cores: figures are conservative.
"""

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(ROOT / "dev"))
import postgres  # noqa: E402  (dev/postgres.py)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env() -> dict[str, str]:
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to a database filled by `manage.py seed_bench`.")
    return {
        **os.environ,
        "KUBERNAUT_ENV_FILE": "",
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "false",
    }


def manage(*arguments: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *arguments], cwd=ROOT, env=server_env(), check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def session_cookie(port: int, username: str, password: str) -> str:
    """Log in through the login form, as a browser does."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login/")
    response = connection.getresponse()
    page = response.read().decode()
    csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie")).group(1)
    csrf_field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": csrf_field}
    )
    connection.request(
        "POST", "/login/", body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Cookie": f"csrftoken={csrf_cookie}", "Referer": f"http://127.0.0.1:{port}/"},
    )  # fmt: skip
    response = connection.getresponse()
    response.read()
    session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie") or "")
    if not session:
        sys.exit(f"Could not log in as {username}.")
    return f"sessionid={session.group(1)}"


class Gunicorn:
    """gunicorn serving Kubernaut on a free loopback port, as in production."""

    def __init__(
        self,
        workers: int = 4,
        threads: int = 2,
        *,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
    ):
        """`command` replaces gunicorn's command line, `env` adds to its environment; "{port}" in
        either is the free port it must bind on 127.0.0.1."""
        self.port = free_port()
        manage("collectstatic", "--no-input", "-v", "0")
        if command is None:
            command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "kubernaut.wsgi",
                       "--bind", "127.0.0.1:{port}", "--workers", str(workers),
                       "--threads", str(threads), "--log-level", "warning"]  # fmt: skip
        self.process = subprocess.Popen(
            [part.format(port=self.port) for part in command],
            env={**server_env(), **{k: v.format(port=self.port) for k, v in (env or {}).items()}},
            cwd=ROOT, stdout=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        # The whole group: docker-entrypoint.sh execs gunicorn, but a wrapper might not.
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


@dataclass
class Result:
    name: str
    concurrency: int
    latencies_ms: list[float]
    seconds: float
    errors: int

    def line(self) -> str:
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

        return (
            f"| {self.name} | {self.concurrency} | {len(ordered)} | "
            f"{statistics.median(ordered):.1f} | {pct(0.95):.1f} | {pct(0.99):.1f} | "
            f"{len(ordered) / self.seconds:.0f} | {self.errors} |"
        )


HEADER = (
    "| request | concurrency | requests | p50 ms | p95 ms | p99 ms | requests/s | errors |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def load(
    name: str,
    port: int,
    make_request: Callable[[int], tuple[str, str, bytes | None, dict]],
    *,
    concurrency: int,
    requests: int,
    expect: int = 200,
) -> Result:
    """Send `requests` requests from `concurrency` threads; make_request(i) -> method, path, body,
    headers."""
    latencies: list[float] = []
    errors = [0]
    counter = iter(range(requests))
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            method, path, body, headers = make_request(number)
            started = time.perf_counter()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if response.status != expect:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(name, concurrency, latencies, time.perf_counter() - started, errors[0])


@dataclass
class Throwaway:
    server_dir: Path  # the PostgreSQL server's folder (for dev/postgres.py)
    gunicorn: Gunicorn
    token: str  # an API token of the superuser `admin`


@contextlib.contextmanager
def throwaway_kubernaut(name: str, *, durable: bool = True) -> Iterator[Throwaway]:
    """A PostgreSQL of its own in var/ (fsync off unless `durable`), migrated, with an admin and a
    token, and gunicorn serving it (4 workers x 2 threads); all removed afterwards."""
    (ROOT / "var").mkdir(exist_ok=True)
    server_dir = Path(tempfile.mkdtemp(prefix=f"{name}-postgres-", dir=ROOT / "var"))
    gunicorn = None
    try:
        os.environ["DATABASE_URL"] = postgres.start(server_dir, fast=not durable)
        manage("migrate", "--no-input", "-v", "0")
        os.environ["KUBERNAUT_ADMIN_PASSWORD"] = f"{name}-bench-password"
        manage("ensure_admin")
        token = manage("create_api_token", "admin", "--name", name).split()[-1]
        gunicorn = Gunicorn(workers=4, threads=2)
        yield Throwaway(server_dir, gunicorn, token)
    finally:
        if gunicorn is not None:
            gunicorn.stop()
        postgres.stop(server_dir)
        shutil.rmtree(postgres.reachable_dir(server_dir), ignore_errors=True)
        shutil.rmtree(server_dir, ignore_errors=True)


@contextlib.contextmanager
def sandbox_process(kubeconfig: Path) -> Iterator[None]:
    """The sandbox cluster in a process of its own (out of the benchmark's GIL), pods ready at
    once, its kubeconfig written to `kubeconfig`; stopped afterwards."""
    sandbox = subprocess.Popen(
        [PYTHON, "-m", "sandbox", "--port", "0", "--kubeconfig", str(kubeconfig),
         "--ready-delay", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    sandbox.stdout.readline()  # it prints its address once it listens
    try:
        yield
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
