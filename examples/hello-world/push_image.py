"""Push hello-world to a Docker registry without Docker: what `docker build` + `docker push` do,
minus the base image. For trying the pipeline where no Docker engine runs (and for the tests).

    python3 push_image.py 127.0.0.1:5000/hello-world:1.0.1

The image is one layer holding index.js under /app, with `node /app/index.js` as its command: a
real OCI image that a cluster with Node in its base layers could run; the sandbox cluster only
needs it to exist. Credentials, if the registry wants them: REGISTRY_USER and REGISTRY_PASSWORD.
Plain HTTP is used for 127.0.0.1 and localhost, HTTPS otherwise. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def parse_reference(reference: str) -> tuple[str, str, str]:
    """`host[:port]/name:tag` -> (registry URL, name, tag)."""
    host, _, rest = reference.partition("/")
    if not rest or not ("." in host or ":" in host or host == "localhost"):
        raise ValueError(f"name the registry: HOST[:PORT]/NAME:TAG, not {reference!r}")
    name, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    plain = host.split(":")[0] in ("127.0.0.1", "localhost")
    return f"{'http' if plain else 'https'}://{host}", name, tag


def source_layer(directory: Path = HERE) -> bytes:
    """A reproducible tar of the service's source, as the Dockerfile's COPY would add it."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        path = directory / "index.js"
        info = tar.gettarinfo(str(path), arcname="app/index.js")
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        with path.open("rb") as handle:
            tar.addfile(info, handle)
    return raw.getvalue()


class Pusher:
    def __init__(self, registry: str, auth: str | None = None):
        self.registry = registry
        self.auth = auth

    def request(self, method: str, url: str, body: bytes = b"", content_type: str = ""):
        if url.startswith("/"):
            url = self.registry + url
        request = urllib.request.Request(url, data=body or None, method=method)  # noqa: S310
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.auth:
            request.add_header("Authorization", self.auth)
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.headers

    def blob(self, name: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        location = self.request("POST", f"{self.registry}/v2/{name}/blobs/uploads/")["Location"]
        separator = "&" if "?" in location else "?"
        self.request(
            "PUT", f"{location}{separator}digest={digest}", data, "application/octet-stream"
        )
        return digest

    def image(self, name: str, tag: str, version: str = "") -> str:
        """Upload the layer, the config and the manifest; returns the manifest's digest."""
        layer = source_layer()
        compressed = gzip.compress(layer, mtime=0)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {
                    "Cmd": ["node", "/app/index.js"],
                    "Env": ["PORT=8080", f"VERSION={version or tag}"],
                    "ExposedPorts": {"8080/tcp": {}},
                    "User": "1000",
                },
                "rootfs": {
                    "type": "layers",
                    "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()],
                },
            }
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": self.blob(name, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": self.blob(name, compressed),
                    "size": len(compressed),
                }
            ],
        }
        body = json.dumps(manifest).encode()
        headers = self.request(
            "PUT", f"{self.registry}/v2/{name}/manifests/{tag}", body, OCI_MANIFEST
        )
        return headers["Docker-Content-Digest"]


def basic_auth_from_env() -> str | None:
    user = os.environ.get("REGISTRY_USER")
    if not user:
        return None
    pair = f"{user}:{os.environ.get('REGISTRY_PASSWORD', '')}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", help="HOST[:PORT]/NAME:TAG, e.g. 127.0.0.1:5000/hello-world:1")
    args = parser.parse_args(argv)
    try:
        registry, name, tag = parse_reference(args.reference)
        digest = Pusher(registry, basic_auth_from_env()).image(name, tag)
    except ValueError as error:
        print(f"push_image: {error}", file=sys.stderr)
        return 2
    except urllib.error.HTTPError as error:
        print(f"push_image: the registry answered {error.code} {error.reason}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"push_image: cannot reach the registry: {error}", file=sys.stderr)
        return 1
    print(f"Pushed {args.reference} ({digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
