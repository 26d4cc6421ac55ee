"""Start the test OpenID Connect provider (serve.py) as a real process on loopback.

with running_provider("http://localhost:8000/sso/callback", users=["dana:pw:payments"]) as p:
    settings.KUBERNAUT_OIDC_ISSUER = p.issuer  # and p.client_id, p.client_secret
"""

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 60


@dataclass
class RunningProvider:
    issuer: str
    url: str
    client_id: str
    client_secret: str
    log: Path


@contextlib.contextmanager
def running_provider(redirect_uri: str, users: list[str]) -> Iterator[RunningProvider]:
    client_id, client_secret = "kubernaut", secrets.token_urlsafe(24)
    log = Path(tempfile.mkdtemp(prefix="oidc-provider-log-")) / "provider.log"
    command = [
        sys.executable, "-m", "tests.oidc_provider.serve",
        "--redirect-uri", redirect_uri, "--client-id", client_id, "--client-secret", client_secret,
    ]  # fmt: skip
    for user in users:
        command += ["--user", user]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True
        )
    try:
        first_line = _first_line(process)
        if not first_line:
            raise AssertionError(
                f"The test OIDC provider did not start in {START_SECONDS}s (exit code "
                f"{process.poll()}); its log:\n{log.read_text()}"
            )
        started = json.loads(first_line)
        yield RunningProvider(
            issuer=started["issuer"],
            url=started["url"],
            client_id=client_id,
            client_secret=client_secret,
            log=log,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _first_line(process: subprocess.Popen) -> str:
    """The first line the process prints, or "" if it exits or stays silent too long."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_SECONDS)
    return lines[0].strip() if lines else ""
