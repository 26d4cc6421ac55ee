"""A sandbox started with --state-dir keeps what was deployed to it across a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sandbox.testing import KUBECTL, running_sandbox

ROOT = Path(__file__).resolve().parents[2]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 2
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{port: 80}]
"""


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def cluster_ip(sb, name: str) -> str:  # type: ignore[no-untyped-def]
    return ok(sb.kubectl("get", "svc", name, "-o", "jsonpath={.spec.clusterIP}"))


def test_objects_token_certificate_and_port_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    manifest = tmp_path / "hello.yaml"
    manifest.write_text(DEPLOYMENT)
    with running_sandbox(subprocess_mode=True, state_dir=state, workdir=tmp_path / "one") as sb:
        ok(sb.kubectl("apply", "--server-side", "-f", str(manifest)))
        ok(sb.kubectl("rollout", "status", "deployment/hello", "--timeout=30s"))
        first_ip = cluster_ip(sb, "hello")
        first = (sb.url, sb.token, sb.kubeconfig.read_text())

    with running_sandbox(subprocess_mode=True, state_dir=state, workdir=tmp_path / "two") as sb:
        assert (sb.url, sb.token, sb.kubeconfig.read_text()) == first
        deployment = json.loads(ok(sb.kubectl("get", "deployment", "hello", "-o", "json")))
        assert deployment["spec"]["replicas"] == 2
        # The pods start again, as after a node reboot, and the rollout is complete once more.
        ok(sb.kubectl("rollout", "status", "deployment/hello", "--timeout=30s"))
        pods = json.loads(ok(sb.kubectl("get", "pods", "-l", "app=hello", "-o", "json")))
        assert len(pods["items"]) == 2
        assert cluster_ip(sb, "hello") == first_ip
        ok(sb.kubectl("create", "service", "clusterip", "other", "--tcp=80:80"))
        assert cluster_ip(sb, "other") != first_ip

    with running_sandbox(subprocess_mode=True, workdir=tmp_path / "three") as sb:
        # Without the state folder, nothing was kept.
        assert "NotFound" in sb.kubectl("get", "deployment", "hello").stderr


def test_reset_starts_over(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_sandbox(state_dir=state) as sb:
        ok(sb.kubectl("create", "configmap", "kept", "--from-literal=a=b"))
    assert "kept" in (state / "objects.json").read_text()
    with running_sandbox(state_dir=state) as sb:
        assert ok(sb.kubectl("get", "configmap", "kept", "-o", "jsonpath={.data.a}")) == "b"

    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--kubeconfig", str(kubeconfig),
         "--state-dir", str(state), "--reset"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert "listening on" in process.stdout.readline()
        result = subprocess.run(
            [KUBECTL, "get", "configmap", "kept"],
            env={**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert 'configmaps "kept" not found' in result.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
