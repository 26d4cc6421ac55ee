"""Decide whether a container image can be pulled.

With ``--registry URL`` the sandbox asks that Docker registry (v2 API) whether
the image's tag exists. Without one, a naming convention decides: any image
reference containing ``does-not-exist`` cannot be pulled.
"""

from __future__ import annotations

import urllib.error
import urllib.request

MISSING_MARKER = "does-not-exist"
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


def split_image(image: str) -> tuple[str, str]:
    """Split ``[host[:port]/]name[:tag][@digest]`` into (repository path, tag or digest).

    The registry host, when present, is dropped: every image is looked up in the
    configured registry.
    """
    if "@" in image:
        name, reference = image.split("@", 1)
    else:
        last = image.rsplit("/", 1)[-1]
        if ":" in last:
            name, reference = image.rsplit(":", 1)
        else:
            name, reference = image, "latest"
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return "/".join(parts), reference


class ImageChecker:
    def __init__(self, registry: str | None = None, timeout: float = 5.0) -> None:
        if registry and not registry.startswith(("http://", "https://")):
            raise ValueError(f"registry must be an http:// or https:// URL, not {registry!r}")
        self.registry = registry.rstrip("/") if registry else None
        self.timeout = timeout

    def problem(self, image: str) -> str | None:
        """None if ``image`` can be pulled, else the error a container runtime would report."""
        if MISSING_MARKER in image:
            return self._not_found(image)
        if not self.registry:
            return None
        name, reference = split_image(image)
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            f"{self.registry}/v2/{name}/manifests/{reference}",
            method="HEAD",
            headers={"Accept": MANIFEST_TYPES},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout):  # noqa: S310
                return None
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return self._not_found(image)
            return (
                f'failed to pull and unpack image "{image}": failed to resolve reference '
                f'"{image}": unexpected status from HEAD request: {exc.code}'
            )
        except OSError as exc:
            return f'failed to pull and unpack image "{image}": failed to do request: {exc}'

    @staticmethod
    def _not_found(image: str) -> str:
        return (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
            f'failed to resolve reference "{image}": {image}: not found'
        )
