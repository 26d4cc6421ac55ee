"""Helpers for the pipeline tests: Debian's docker-registry on loopback, pushing an image to it
without Docker (blobs, then an OCI manifest), and running the `kubernaut` console script.

No tests here; test_registry_check.py, test_pipeline_e2e.py and test_cli_*.py use these.
"""

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello-world"
KUBERNAUT = Path(sys.executable).parent / "kubernaut"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_registry(workdir: Path, htpasswd: str | None = None) -> Iterator[str]:
    """Debian's docker-registry (distribution 2.8) on a free loopback port; yields its URL."""
    command = shutil.which("docker-registry")
    if not command:
        pytest.fail(
            "The docker-registry command is missing: `apt-get install -y docker-registry` "
            "(make test's setup installs it when run as root)."
        )
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    auth = ""
    if htpasswd:
        (workdir / "htpasswd").write_text(htpasswd)
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {workdir / 'htpasswd'}\n"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: test-only\n" + auth
    )
    log = (workdir / "registry.log").open("w")
    process = subprocess.Popen([command, "serve", str(config)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{url}/v2/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # 401 with auth on: it answers
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"docker-registry did not start: {(workdir / 'registry.log').read_text()}"
                    ) from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _load_push_image():
    """examples/hello-world/push_image.py: the README's stand-in for `docker push`."""
    spec = importlib.util.spec_from_file_location("hello_world_push_image", HELLO / "push_image.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


push_script = _load_push_image()


def push_image(registry: str, name: str, tag: str, auth: str | None = None) -> str:
    """Push the hello-world image as `name:tag` (an OCI manifest); returns its digest."""
    return push_script.Pusher(registry, auth).image(name, tag)


def htpasswd_line(username: str, password: str) -> str:
    """A bcrypt htpasswd line (docker-registry accepts only bcrypt), without apache2-utils."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # deprecated, but libxcrypt's bcrypt is all that is needed here

        return f"{username}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n"


def kubernaut(*args: str, url: str, token: str, timeout: float = 120, cwd: Path = ROOT):
    """Run the installed `kubernaut` console script as CI would; returns the CompletedProcess."""
    env = {**os.environ, "KUBERNAUT_URL": url, "KUBERNAUT_TOKEN": token}
    return subprocess.run(
        [str(KUBERNAUT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
