"""`make run`: Kubernaut with everything it needs, on this machine, until Ctrl-C.

Starts a project-local PostgreSQL (unless DATABASE_URL is set), writes `.env` so that
`.venv/bin/python manage.py ...` in another terminal reaches the same database, migrates, makes sure
the `admin` user and the hello-world release exist, then runs the web server and a qcluster worker.
Ctrl-C stops everything it started.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import postgres  # noqa: E402  (the sibling script)

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def read_or_create(path: Path, make) -> str:
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def free_port(preferred: int) -> int:
    for port in [preferred, 0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


def wait_for_port(port: int, children: list[subprocess.Popen], timeout: float = 60) -> None:
    """Wait until the web server accepts connections (or a child died, or time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(child.poll() is None for child in children):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)


def write_env_file(values: dict[str, str]) -> None:
    env_file = ROOT / ".env"
    lines = ["# Written by `make run`; read by kubernaut/settings.py. Do not commit."]
    lines += [f"{key}={value}" for key, value in values.items()]
    env_file.write_text("\n".join(lines) + "\n")
    env_file.chmod(0o600)


def manage(*arguments: str) -> None:
    subprocess.run([PYTHON, "manage.py", *arguments], cwd=ROOT, check=True)


def stop_on_signal(signum, frame) -> None:
    raise KeyboardInterrupt


SANDBOX_KUBECONFIG = VAR / "sandbox" / "kubeconfig"
SANDBOX_STATE = VAR / "sandbox" / "state"


def start_sandbox() -> subprocess.Popen:
    """The sandbox cluster, keeping its objects in var/sandbox/state so that they agree with the
    database after a restart. KUBERNAUT_SANDBOX_RESET=1 starts it empty."""
    SANDBOX_KUBECONFIG.parent.mkdir(exist_ok=True)
    command = [
        PYTHON, "-m", "sandbox", "--port", "0", "--kubeconfig", str(SANDBOX_KUBECONFIG),
        "--state-dir", str(SANDBOX_STATE),
    ]  # fmt: skip
    if os.environ.get("KUBERNAUT_SANDBOX_RESET", "").lower() in ("1", "true", "yes"):
        say("KUBERNAUT_SANDBOX_RESET is set: the sandbox cluster starts empty")
        command.append("--reset")
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if "listening on" not in line:
        raise RuntimeError(f"the sandbox cluster did not start: {line!r}")
    # Keep reading what it prints, so a full pipe never blocks it.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    say(
        f"sandbox cluster at {line.rsplit(' ', 1)[-1].strip()}; kubectl: "
        f"export KUBECONFIG={SANDBOX_KUBECONFIG}"
    )
    return process


def main() -> None:
    # Explicit handlers: a shell that starts us in the background may have set SIGINT to "ignore".
    signal.signal(signal.SIGINT, stop_on_signal)
    signal.signal(signal.SIGTERM, stop_on_signal)
    VAR.mkdir(exist_ok=True)
    local_database = not os.environ.get("DATABASE_URL")
    if local_database:
        database_url = postgres.start(VAR / "postgres")
        say("PostgreSQL is running on 127.0.0.1 with its data in var/postgres")
    else:
        database_url = os.environ["DATABASE_URL"]
        say("using the database in DATABASE_URL")
    settings = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": read_or_create(VAR / "secret_key", lambda: secrets.token_urlsafe(50)),
        "DEBUG": os.environ.get("DEBUG", "true"),
    }
    write_env_file(settings)
    admin_password = os.environ.get("KUBERNAUT_ADMIN_PASSWORD") or read_or_create(
        VAR / "admin_password", lambda: secrets.token_urlsafe(12)
    )
    os.environ.update(settings, KUBERNAUT_ADMIN_PASSWORD=admin_password)

    children: list[subprocess.Popen] = []
    try:
        manage("migrate", "--no-input", "-v", "0")
        manage("ensure_admin")
        manage("seed_hello_world")
        port = free_port(int(os.environ.get("KUBERNAUT_PORT", "8000")))
        # Own process groups: Ctrl-C reaches only this script, which stops the rest in order.
        children.append(start_sandbox())
        manage(
            "register_cluster", "sandbox", "--kubeconfig", str(SANDBOX_KUBECONFIG),
            "--namespace", "staging", "--namespace", "production", "--create-namespaces",
        )  # fmt: skip
        children.append(
            subprocess.Popen([PYTHON, "manage.py", "qcluster"], cwd=ROOT, start_new_session=True)
        )
        children.append(
            subprocess.Popen(
                [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"],
                cwd=ROOT,
                start_new_session=True,
            )
        )
        wait_for_port(port, children)
        say(f"Kubernaut is running at http://127.0.0.1:{port}/")
        say(f"log in as admin with password {admin_password}")
        say("press Ctrl-C to stop")
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        say("a process exited; stopping the rest")
    except KeyboardInterrupt:
        say("stopping")
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if local_database:
            postgres.stop(VAR / "postgres")
            say("PostgreSQL stopped")


if __name__ == "__main__":
    main()
