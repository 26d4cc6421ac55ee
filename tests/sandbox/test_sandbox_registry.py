"""--registry mode: image existence is checked against a real Docker registry (v2 API)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.testing import running_sandbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail(
            "The docker-registry program is missing; install it with "
            "`apt-get install docker-registry` (Debian package) to run this test."
        )
    root = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    process = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"{url}/v2/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _upload_blob(url: str, name: str, data: bytes) -> None:
    start = urllib.request.Request(f"{url}/v2/{name}/blobs/uploads/", method="POST")
    with urllib.request.urlopen(start) as response:
        location = response.headers["Location"]
    if location.startswith("/"):
        location = url + location
    separator = "&" if "?" in location else "?"
    put = urllib.request.Request(
        f"{location}{separator}digest={_digest(data)}",
        data=data,
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    urllib.request.urlopen(put).close()


def push_image(url: str, name: str, tag: str) -> None:
    """Push a tiny (empty) image without Docker: two blobs and a schema 2 manifest."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w"):
        pass
    layer = gzip.compress(tar_bytes.getvalue())
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [_digest(tar_bytes.getvalue())]},
        }
    ).encode()
    _upload_blob(url, name, layer)
    _upload_blob(url, name, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": _digest(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(layer),
                "digest": _digest(layer),
            }
        ],
    }
    request = urllib.request.Request(
        f"{url}/v2/{name}/manifests/{tag}",
        data=json.dumps(manifest).encode(),
        method="PUT",
        headers={"Content-Type": manifest["mediaType"]},
    )
    urllib.request.urlopen(request).close()


def test_images_are_checked_against_the_registry(registry: str, tmp_path: Path) -> None:
    push_image(registry, "team/web", "1.0")
    host = registry.removeprefix("http://")
    manifest = tmp_path / "apps.yaml"
    docs = []
    for name, image in (("good", f"{host}/team/web:1.0"), ("bad", f"{host}/team/web:2.0")):
        docs.append(
            f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  progressDeadlineSeconds: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: main, image: "{image}"}}]
"""
        )
    manifest.write_text("---\n".join(docs))
    with running_sandbox(registry=registry, ready_delay=0.1) as sb:
        applied = sb.kubectl("apply", "--server-side", "-f", str(manifest))
        assert applied.returncode == 0, applied.stderr
        good = sb.kubectl("rollout", "status", "deploy/good", "--timeout=30s")
        assert good.returncode == 0, good.stderr
        bad = sb.kubectl("rollout", "status", "deploy/bad", "--timeout=30s")
        assert "exceeded its progress deadline" in bad.stderr
        pods = json.loads(sb.kubectl("get", "pods", "-l", "app=bad", "-o", "json").stdout)
        waiting = pods["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"]
        assert waiting["reason"] in ("ErrImagePull", "ImagePullBackOff")
        events = sb.kubectl("get", "events", "--field-selector", "reason=Failed").stdout
        assert f"{host}/team/web:2.0: not found" in events
